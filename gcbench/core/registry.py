"""One generic, lazy registry: the mechanism behind codecs, codec adapters, metrics and datasets.

Each package that owns a kind of component keeps its own table of contents
(``gcbench.codecs.registry``, ``gcbench.metrics.registry``, ``gcbench.data.registry``) as
``"module:attr"`` strings (or spec files), imported only when used, so ``gcbench --help`` and
``gcbench ls`` never import torch. Third-party packages add codecs and metrics through the
entry-point groups ``gcbench.codecs`` and ``gcbench.metrics``; each is validated when it loads,
and a failing one is named in a warning. Set ``GCBENCH_DISABLE_PLUGIN_AUTOLOAD=1`` (read through
``gcbench.core.defaults``) to skip entry points.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import sys
import threading
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from gcbench.core.defaults import env_flag
from gcbench.core.errors import ConfigError, PluginError, UnknownNameError

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
            if self._group and not env_flag("GCBENCH_DISABLE_PLUGIN_AUTOLOAD"):
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




class RegistryModule(types.ModuleType):
    """A package that is also the registry of what it holds.

    ``gcbench.codecs`` is both the package of codec adapters and the codec registry: a
    submodule import (``gcbench.codecs.spec``) binds the package to the parent's attribute, so
    the package itself must answer ``names()``, ``get()``, ``in`` and ``len`` for the public
    name to keep one meaning.
    """

    _registry: Registry[Any]

    def __contains__(self, name: object) -> bool:
        return name in self._registry

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry)

    def __len__(self) -> int:
        return len(self._registry)


REGISTRY_METHODS = ("names", "get", "add", "remove", "origin", "suggest")


def expose_registry(module_name: str, registry: Registry[Any]) -> None:
    """Make the package ``module_name`` answer as ``registry`` (see :class:`RegistryModule`)."""
    module = sys.modules[module_name]
    module.__class__ = RegistryModule
    module._registry = registry  # type: ignore[attr-defined]
    for attr in REGISTRY_METHODS:
        setattr(module, attr, getattr(registry, attr))
