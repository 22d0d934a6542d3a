"""One generic, lazy registry for codecs, codec adapters, metrics and datasets.

Built-ins are listed below as ``"module:attr"`` strings (or spec files) and imported only
when used, so ``gcbench --help`` and ``gcbench ls`` never import torch. Third-party
packages add codecs and metrics through the entry-point groups ``gcbench.codecs`` and
``gcbench.metrics``; each is validated when it loads, and a failing one is named in a warning.
Set ``GCBENCH_DISABLE_PLUGIN_AUTOLOAD=1`` to skip entry points.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from .errors import ConfigError, PluginError, UnknownNameError

T = TypeVar("T")

# A target is what a name resolves to before loading: "module:attr", a zero-argument
# loader, or the object itself.
Target = Any


def import_target(target: str) -> Any:
    """Import ``"package.module:attribute"`` (attribute may be dotted)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{target!r} is not of the form 'module:attribute'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Name → object, loaded on first use and validated once.

    ``validate(name, obj)`` returns the object to keep (it may wrap or convert it) or raises.
    """

    def __init__(
        self,
        kind: str,
        *,
        validate: Callable[[str, Any], T] | None = None,
        entry_point_group: str | None = None,
        populate: Callable[[Registry[T]], None] | None = None,
    ) -> None:
        self.kind = kind
        self._validate = validate
        self._group = entry_point_group
        self._populate = populate
        self._targets: dict[str, Target] = {}
        self._origins: dict[str, str] = {}
        self._loaded: dict[str, T] = {}
        self._ready = False
        self._lock = threading.RLock()

    # -- registration -------------------------------------------------------------------
    def add(self, name: str, target: Target, *, origin: str = "built-in", replace: bool = False) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        with self._lock:
            if name in self._targets and not replace:
                raise ConfigError(
                    f"{self.kind} {name!r} is registered twice: by {self._origins[name]} and by {origin}"
                )
            self._targets[name] = target
            self._origins[name] = origin
            self._loaded.pop(name, None)

    def remove(self, name: str) -> None:
        with self._lock:
            self._targets.pop(name, None)
            self._origins.pop(name, None)
            self._loaded.pop(name, None)

    def _ensure(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            self._ready = True
            if self._populate is not None:
                self._populate(self)
            if self._group and os.environ.get("GCBENCH_DISABLE_PLUGIN_AUTOLOAD", "") in ("", "0"):
                self._add_entry_points()

    def _add_entry_points(self) -> None:
        from importlib.metadata import entry_points

        for ep in entry_points(group=self._group):
            dist = getattr(ep, "dist", None)
            origin = f"plugin {dist.name} {dist.version}" if dist else f"plugin {ep.value}"
            if ep.name in self._targets:
                warnings.warn(
                    f"{origin} registers {self.kind} {ep.name!r}, which is already taken by "
                    f"{self._origins[ep.name]}; the plugin's entry is ignored",
                    stacklevel=2,
                )
                continue
            self._targets[ep.name] = _EntryPointTarget(ep)
            self._origins[ep.name] = origin

    # -- look-up --------------------------------------------------------------------------
    def names(self, pattern: str | None = None) -> list[str]:
        """Sorted names, optionally filtered with shell wildcards (``'jpeg*'``)."""
        self._ensure()
        names = sorted(self._targets)
        if pattern:
            names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        return names

    def __contains__(self, name: object) -> bool:
        self._ensure()
        return name in self._targets

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._ensure()
        return len(self._targets)

    def origin(self, name: str) -> str:
        self._check(name)
        return self._origins[name]

    def suggest(self, name: str, n: int = 3) -> list[str]:
        self._ensure()
        return difflib.get_close_matches(name, list(self._targets), n=n, cutoff=0.5)

    def _check(self, name: str) -> None:
        self._ensure()
        if name not in self._targets:
            raise UnknownNameError(self.kind, name, self.suggest(name), self.names())

    def get(self, name: str) -> T:
        self._check(name)
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            target = self._targets[name]
            origin = self._origins[name]
            try:
                obj = _resolve(target)
            except Exception as exc:  # noqa: BLE001 - a plugin may fail in any way; name it
                if origin.startswith("plugin"):
                    raise PluginError(f"{self.kind} {name!r} from {origin} failed to load: {exc}") from exc
                raise
            if self._validate is not None:
                try:
                    obj = self._validate(name, obj)
                except Exception as exc:  # noqa: BLE001
                    raise PluginError(f"{self.kind} {name!r} from {origin} is invalid: {exc}") from exc
            self._loaded[name] = obj
            return obj


class _EntryPointTarget:
    def __init__(self, ep: Any) -> None:
        self.ep = ep

    def load(self) -> Any:
        return self.ep.load()


def _resolve(target: Target) -> Any:
    if isinstance(target, str):
        return import_target(target)
    if isinstance(target, _EntryPointTarget):
        return target.load()
    if isinstance(target, _Lazy):
        return target()
    return target


class _Lazy:
    """A zero-argument loader stored as a target (distinguished from callables that are values)."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn

    def __call__(self) -> Any:
        return self.fn()


def lazy(fn: Callable[[], Any]) -> _Lazy:
    return _Lazy(fn)


# ----------------------------------------------------------------------------------------
# The table of contents: every built-in adapter and metric, one line each.
# ----------------------------------------------------------------------------------------

BUILTIN_ADAPTERS: dict[str, str] = {
    "pillow": "gcbench.codecs.pillow:PillowCodec",
    "heif": "gcbench.codecs.heif:HeifCodec",
    "jxl": "gcbench.codecs.jxl:JxlCodec",
    "external": "gcbench.codecs.external:ExternalCodec",
    "compressai": "gcbench.codecs.learned:CompressAIZooCodec",
    "learned-model": "gcbench.codecs.learned:ModelCodec",
    "learned-plugin": "gcbench.codecs.learned:PluginCodec",
    "gan": "gcbench.codecs.gan.codec:GanCodec",
    "neuralcompression": "gcbench.codecs.gan.neuralcompression:NeuralCompressionCodec",
}

BUILTIN_METRICS: dict[str, str] = {
    "psnr": "gcbench.metrics.pixel:PSNR",
    "ms-ssim": "gcbench.metrics.pixel:MSSSIM",
    "lpips": "gcbench.metrics.perceptual:LPIPS",
    "dists": "gcbench.metrics.perceptual:DISTS",
    "fid": "gcbench.metrics.distribution:FID",
    "kid": "gcbench.metrics.distribution:KID",
    "niqe": "gcbench.metrics.noreference:NIQE",
    "ssim": "gcbench.metrics.ssim:SSIM",
    "roi-psnr": "gcbench.metrics.region:RegionPSNR",
    "saliency-psnr": "gcbench.metrics.region:SaliencyPSNR",
    "roi-lpips": "gcbench.metrics.region:RegionLPIPS",
    "roi-bits": "gcbench.metrics.region:RegionBits",
    "miou": "gcbench.metrics.semantic:CityscapesMIoU",
    "miou-pseudo": "gcbench.metrics.semantic:PseudoLabelMIoU",
}


def _validate_adapter(name: str, obj: Any) -> Any:
    from .codecs.base import Codec

    if not (isinstance(obj, type) and issubclass(obj, Codec)):
        raise PluginError(f"adapter {name!r} must be a subclass of gcbench.Codec, got {obj!r}")
    return obj


def _validate_metric(name: str, obj: Any) -> Any:
    from .metrics.base import validate_metric_class

    return validate_metric_class(name, obj)


def _validate_codec(name: str, obj: Any) -> Any:
    from .codecs.spec import CodecSpec, spec_from_plugin

    if isinstance(obj, CodecSpec):
        return obj
    return spec_from_plugin(name, obj)


def _populate_codecs(reg: Registry[Any]) -> None:
    from .codecs.spec import spec_paths

    for path in spec_paths():
        reg.add(path.stem, lazy(_spec_loader(path)), origin=str(path), replace=True)


def _spec_loader(path: Any) -> Callable[[], Any]:
    def load() -> Any:
        from .codecs.spec import load_spec

        return load_spec(path)

    return load


# Dataset readers for layouts a manifest cannot describe (the files are the user's own copy).
BUILTIN_DATASETS: dict[str, str] = {
    "cityscapes": "gcbench.cityscapes:CITYSCAPES",
}


def _populate_datasets(reg: Registry[Any]) -> None:
    from .datasets import manifest_paths

    for name, target in BUILTIN_DATASETS.items():
        reg.add(name, target)
    for path in manifest_paths():
        reg.add(path.stem, lazy(_manifest_loader(path)), origin=str(path), replace=True)


def _manifest_loader(path: Any) -> Callable[[], Any]:
    def load() -> Any:
        from .datasets import load_manifest

        return load_manifest(path)

    return load


def _populate_from(table: dict[str, str]) -> Callable[[Registry[Any]], None]:
    def populate(reg: Registry[Any]) -> None:
        for name, target in table.items():
            reg.add(name, target)

    return populate


def new_codec_registry() -> Registry[Any]:
    """A codec registry read afresh (spec folders and entry points are scanned on first use)."""
    return Registry("codec", validate=_validate_codec, entry_point_group="gcbench.codecs", populate=_populate_codecs)


adapters: Registry[Any] = Registry(
    "codec adapter", validate=_validate_adapter, populate=_populate_from(BUILTIN_ADAPTERS)
)
codecs: Registry[Any] = new_codec_registry()
metrics: Registry[Any] = Registry(
    "metric", validate=_validate_metric, entry_point_group="gcbench.metrics", populate=_populate_from(BUILTIN_METRICS)
)
datasets: Registry[Any] = Registry("dataset", populate=_populate_datasets)


def get_codec(name: str, **overrides: Any) -> Any:
    """A ready codec instance for a registered codec name (its spec, optionally overridden)."""
    from .codecs.spec import build_codec

    spec = codecs.get(name)
    if overrides:
        spec = spec.with_options(**overrides)
    return build_codec(spec)


def get_metric(name: str, **options: Any) -> Any:
    """A metric instance for a registered metric name."""
    return metrics.get(name)(**options)
