"""The codec registry (specs from ``codecs/`` folders and plugins) and the adapter table.

Every built-in adapter is one line below, imported only when a spec names it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gcbench.core.errors import PluginError
from gcbench.core.registry import Registry, lazy

BUILTIN_ADAPTERS: dict[str, str] = {
    "pillow": "gcbench.codecs.pillow:PillowCodec",
    "heif": "gcbench.codecs.heif:HeifCodec",
    "jxl": "gcbench.codecs.jxl:JxlCodec",
    "external": "gcbench.codecs.external.codec:ExternalCodec",
    "compressai": "gcbench.codecs.learned.zoo:CompressAIZooCodec",
    "learned-model": "gcbench.codecs.learned.model:ModelCodec",
    "learned-plugin": "gcbench.codecs.learned.plugin:PluginCodec",
    "gan": "gcbench.codecs.gan.codec:GanCodec",
    "neuralcompression": "gcbench.codecs.gan.neuralcompression:NeuralCompressionCodec",
}


def _validate_adapter(name: str, obj: Any) -> Any:
    from gcbench.codecs.base import Codec

    if not (isinstance(obj, type) and issubclass(obj, Codec)):
        raise PluginError(f"adapter {name!r} must be a subclass of gcbench.Codec, got {obj!r}")
    return obj


def _validate_codec(name: str, obj: Any) -> Any:
    from gcbench.codecs.spec import CodecSpec, spec_from_plugin

    if isinstance(obj, CodecSpec):
        return obj
    return spec_from_plugin(name, obj)


def _populate_codecs(reg: Registry[Any]) -> None:
    from gcbench.codecs.spec import spec_paths

    for path in spec_paths():
        reg.add(path.stem, lazy(_spec_loader(path)), origin=str(path), replace=True)


def _spec_loader(path: Any) -> Callable[[], Any]:
    def load() -> Any:
        from gcbench.codecs.spec import load_spec

        return load_spec(path)

    return load


def _populate_adapters(reg: Registry[Any]) -> None:
    for name, target in BUILTIN_ADAPTERS.items():
        reg.add(name, target)


def new_codec_registry() -> Registry[Any]:
    """A codec registry read afresh (spec folders and entry points are scanned on first use)."""
    return Registry("codec", validate=_validate_codec, entry_point_group="gcbench.codecs", populate=_populate_codecs)


adapters: Registry[Any] = Registry("codec adapter", validate=_validate_adapter, populate=_populate_adapters)
codecs: Registry[Any] = new_codec_registry()


def get_codec(name: str, **overrides: Any) -> Any:
    """A ready codec instance for a registered codec name (its spec, optionally overridden)."""
    from gcbench.codecs.spec import build_codec

    spec = codecs.get(name)
    if overrides:
        spec = spec.with_options(**overrides)
    return build_codec(spec)
