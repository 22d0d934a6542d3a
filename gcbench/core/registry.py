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
        self._families: dict[str, Family] = {}
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

    # -- prefix families ----------------------------------------------------------------
    def add_family(self, family: Family, *, replace: bool = False) -> None:
        """Resolve every name ``PREFIX:MEMBER`` through ``family`` (``pyiqa:fsim``).

        Members are not listed by :meth:`names` (a family may be open-ended or large); they
        are built on first use and cached like any other entry.
        """
        with self._lock:
            if family.prefix in self._families and not replace:
                raise ConfigError(f"{self.kind} family {family.prefix + ':'!r} is registered twice")
            self._families[family.prefix] = family

    def families(self) -> list[Family]:
        """The prefix families, sorted by prefix."""
        self._ensure()
        return [self._families[p] for p in sorted(self._families)]

    def family_names(self) -> list[str]:
        """Every member name of the families that can list theirs (for column look-ups)."""
        self._ensure()
        return [f"{f.prefix}:{m}" for f in self.families() for m in f.members()]

    def _family_of(self, name: str) -> tuple[Family, str] | None:
        prefix, sep, member = name.partition(":")
        family = self._families.get(prefix) if sep and member else None
        return (family, member) if family is not None else None

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
        if name in self._targets:
            return True
        found = self._family_of(name) if isinstance(name, str) else None
        return found is not None and found[0].accepts(found[1])

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._ensure()
        return len(self._targets)

    def origin(self, name: str) -> str:
        self._check(name)
        found = self._family_of(name)
        return found[0].origin if found and name not in self._origins else self._origins[name]

    def suggest(self, name: str, n: int = 3) -> list[str]:
        self._ensure()
        return difflib.get_close_matches(name, list(self._targets), n=n, cutoff=0.5)

    def _check(self, name: str) -> None:
        self._ensure()
        if name in self._targets:
            return
        found = self._family_of(name)
        if found is not None:
            family, member = found
            if family.accepts(member):
                return
            raise UnknownNameError(f"{self.kind} of the {family.prefix}: family", member,
                                   difflib.get_close_matches(member, family.members(), n=3, cutoff=0.5),
                                   family.members())
        families = [f"{f.prefix}:NAME" for f in self.families()]
        raise UnknownNameError(self.kind, name, self.suggest(name), self.names() + families)

    def get(self, name: str) -> T:
        self._check(name)
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            if name in self._targets:
                target, origin = self._targets[name], self._origins[name]
            else:
                family, member = self._family_of(name)  # type: ignore[misc] - _check found it
                target, origin = lazy(lambda: family.load(member)), family.origin
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


class Family:
    """Names ``PREFIX:MEMBER`` that resolve through one loader (``pyiqa:NAME``).

    ``load(member)`` returns the object for a member; ``members()`` lists the valid members
    when the family knows them (it must stay cheap: no heavy imports), and ``accepts(member)``
    says whether a member is valid: a listed one, or any while the list is empty (the library
    behind the family may be missing; ``load`` then says how to install it).
    """

    def __init__(self, prefix: str, load: Callable[[str], Any], *, members: Callable[[], list[str]] | None = None,
                 description: str = "", origin: str = "built-in") -> None:
        if not prefix or ":" in prefix:
            raise ConfigError(f"a family prefix must be non-empty and without ':', got {prefix!r}")
        self.prefix, self.load, self.description, self.origin = prefix, load, description, origin
        self._members = members

    def members(self) -> list[str]:
        """The valid members, sorted (empty when the family does not list them)."""
        return sorted(self._members()) if self._members is not None else []

    def accepts(self, member: str) -> bool:
        """Whether ``member`` names something this family can load."""
        members = self.members()
        return member in members if members else bool(member)


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
    """Mark a zero-argument loader as a registry target (called on first use, not stored as a value)."""
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


REGISTRY_METHODS = ("names", "get", "add", "remove", "origin", "suggest", "add_family", "families", "family_names")


def expose_registry(module_name: str, registry: Registry[Any]) -> None:
    """Make the package ``module_name`` answer as ``registry`` (see :class:`RegistryModule`)."""
    module = sys.modules[module_name]
    module.__class__ = RegistryModule
    module._registry = registry  # type: ignore[attr-defined]
    for attr in REGISTRY_METHODS:
        setattr(module, attr, getattr(registry, attr))
