"""Codec specs: every codec is a TOML file (pure data) checked into a frozen dataclass.

A spec file names its adapter, the rate parameter and its axis (type and valid range, see
:mod:`gcbench.codecs.rate_axis`), the default sweep, the adapter's options and the library. ``base = "jpeg"`` inherits another spec and overrides what it lists (options
are merged key by key), so a variant is one short file and no code::

    base = "jpeg"
    description = "JPEG with 4:4:4 chroma"
    [options.save]
    subsampling = "4:4:4"

Folders searched: ``$GCBENCH_CODEC_PATH`` (os.pathsep-separated), then the shipped ``codecs/``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gcbench.codecs.rate_axis import AXIS_KEYS, RateAxis, axis_from_fields, setting_problem, show_setting
from gcbench.core.errors import ConfigError, PluginError
from gcbench.core.resources import search_path
from gcbench.core.settings import Setting, format_setting
from gcbench.core.tomlio import read_toml

_KNOWN_KEYS = {
    "name", "base", "adapter", "description", "rate_param", "settings", "options", "library",
    "rate_increases_with_setting", "url", "paper", "license", *AXIS_KEYS,
}


@dataclass(frozen=True)
class CodecSpec:
    name: str
    adapter: str  # an adapter name from the registry, or "module:Class"
    rate_param: str
    settings: tuple[Setting, ...]
    # True when a larger setting spends more bits (JPEG quality); False for QP or ratio.
    rate_increases_with_setting: bool
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)
    description: str = ""
    library: str = ""
    url: str = ""
    paper: str = ""
    license: str = ""
    source: str = ""  # the file it came from (not part of the hash)
    # the rate axis (gcbench.codecs.rate_axis): not part of the hash, it only accepts or refuses
    setting_type: str = ""
    setting_min: int | float | None = None
    setting_max: int | float | None = None
    setting_min_exclusive: bool = False
    setting_choices: tuple[Setting, ...] = ()

    def __post_init__(self) -> None:
        # a spec read back from a stored run config has lists where tuples belong
        object.__setattr__(self, "settings", tuple(self.settings))
        object.__setattr__(self, "setting_choices", tuple(self.setting_choices or ()))

    @property
    def rate_axis(self) -> RateAxis:
        """The declared type and range of the setting (unchecked: specs are checked when loaded)."""
        return RateAxis(self.setting_type, self.setting_min, self.setting_max,
                        self.setting_min_exclusive, self.setting_choices)

    def check_setting(self, setting: Setting) -> None:
        """Raise ConfigError when ``setting`` is off this codec's declared rate axis.

        The message names the codec, the value and the valid range
        (``jpeg: quality 500 is outside 0–100``, ``jpeg: quality 'abc' is not an integer``).
        A spec that declares no axis accepts any valid setting.
        """
        message = setting_problem(self.rate_axis, self.name, self.rate_param, setting)
        if message is not None:
            raise ConfigError(message)

    def with_options(self, **overrides: Any) -> CodecSpec:
        options = _merge(self.options, overrides)
        return replace(self, options=options)

    def with_settings(self, settings: list[Setting]) -> CodecSpec:
        return replace(self, settings=tuple(settings))

    def canonical(self) -> dict[str, Any]:
        """What identifies the codec's behaviour: everything but prose and the file path."""
        return {
            "name": self.name,
            "adapter": self.adapter,
            "rate_param": self.rate_param,
            "options": self.options,
        }

    def spec_hash(self) -> str:
        text = json.dumps(self.canonical(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["settings"] = list(self.settings)
        d["setting_choices"] = list(self.setting_choices)
        return d


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def spec_paths() -> list[Path]:
    """Every spec file, earlier folders first (a user's spec shadows a shipped one)."""
    seen: dict[str, Path] = {}
    for folder in search_path("codecs", "GCBENCH_CODEC_PATH"):
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                seen.setdefault(path.stem, path)
    return list(seen.values())


def _find_spec_file(name: str, relative_to: Path) -> Path:
    local = relative_to.parent / f"{name}.toml"
    if local.is_file():
        return local
    for path in spec_paths():
        if path.stem == name:
            return path
    raise ConfigError(f"{relative_to}: base spec {name!r} not found")


def _raw_with_base(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in chain:
        raise ConfigError(f"{path}: spec inheritance loops through {' → '.join(p.name for p in chain)}")
    raw = read_toml(path)
    unknown = set(raw) - _KNOWN_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}; valid keys: {sorted(_KNOWN_KEYS)}")
    base_name = raw.pop("base", None)
    if base_name is None:
        return raw
    parent = _raw_with_base(_find_spec_file(base_name, path), chain + (path,))
    parent.pop("name", None)
    return _merge(parent, raw)


def load_spec(path: str | Path) -> CodecSpec:
    """Read and check one spec file."""
    path = Path(path)
    raw = _raw_with_base(path)
    return spec_from_dict(raw, default_name=path.stem, source=str(path))


def spec_from_dict(raw: dict[str, Any], *, default_name: str, source: str = "") -> CodecSpec:
    """Check a spec's keys (inheritance already applied) and build it; ConfigError says what is wrong."""
    where = source or default_name
    for key in ("adapter", "rate_param", "settings"):
        if key not in raw:
            raise ConfigError(f"{where}: missing required key {key!r}")
    if "rate_increases_with_setting" not in raw:
        raise ConfigError(f"{where}: missing required key 'rate_increases_with_setting' (true or false)")
    settings = raw["settings"]
    if not isinstance(settings, list) or not settings:
        raise ConfigError(f"{where}: 'settings' must be a non-empty list")
    for s in settings:
        format_setting(s)  # type check
    options = raw.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{where}: 'options' must be a table")
    axis = axis_from_fields(raw.get("setting_type", ""), raw.get("setting_min"), raw.get("setting_max"),
                            raw.get("setting_min_exclusive", False), raw.get("setting_choices"), where)
    spec = CodecSpec(
        name=str(raw.get("name", default_name)),
        adapter=str(raw["adapter"]),
        rate_param=str(raw["rate_param"]),
        settings=tuple(settings),
        rate_increases_with_setting=bool(raw["rate_increases_with_setting"]),
        options=options,
        description=str(raw.get("description", "")),
        library=str(raw.get("library", "")),
        url=str(raw.get("url", "")),
        paper=str(raw.get("paper", "")),
        license=str(raw.get("license", "")),
        source=source,
        **_axis_fields(axis),
    )
    check_default_settings(spec, where)
    return spec


def _axis_fields(axis: RateAxis) -> dict[str, Any]:
    return {"setting_type": axis.kind, "setting_min": axis.minimum, "setting_max": axis.maximum,
            "setting_min_exclusive": axis.min_exclusive, "setting_choices": axis.choices}


def check_default_settings(spec: CodecSpec, where: str) -> None:
    """A default setting off the spec's own rate axis is a mistake in the spec, not in a run."""
    axis = spec.rate_axis
    for setting in spec.settings:
        why = axis.problem(setting)
        if why is not None:
            raise ConfigError(f"{where}: default setting {spec.rate_param} {show_setting(setting)} {why} "
                              f"(the spec's own rate axis: {axis.describe()})")


def adapter_class(spec: CodecSpec) -> type:
    """The adapter class a spec names: a registry name, or ``module:Class`` checked to be a Codec."""
    from gcbench.codecs.registry import adapters
    from gcbench.core.registry import import_target

    if ":" in spec.adapter:
        cls = import_target(spec.adapter)
        from gcbench.codecs.registry import _validate_adapter

        return _validate_adapter(spec.adapter, cls)
    return adapters.get(spec.adapter)


def build_codec(spec: CodecSpec) -> Any:
    """A codec instance for a spec (its adapter checks the options here)."""
    return adapter_class(spec)(spec)


def spec_from_plugin(name: str, obj: Any) -> CodecSpec:
    """A spec for an entry-point plugin: a Codec subclass that declares its defaults."""
    from gcbench.codecs.base import Codec

    if not (isinstance(obj, type) and issubclass(obj, Codec)):
        raise PluginError(f"codec plugin {name!r} must be a gcbench.Codec subclass, got {obj!r}")
    missing = [a for a in ("default_settings", "rate_increases_with_setting") if not hasattr(obj, a)]
    where = f"codec plugin {name!r}"
    if not isinstance(getattr(obj, "rate_param", None), str):
        missing.insert(0, "rate_param")
    if missing:
        raise PluginError(f"codec plugin {name!r} must declare class attributes {missing}")
    try:
        axis = axis_from_fields(*(getattr(obj, key, default) for key, default in zip(
            AXIS_KEYS, ("", None, None, False, ()), strict=True)), where)
    except ConfigError as exc:
        raise PluginError(str(exc)) from exc
    spec = CodecSpec(
        name=name,
        adapter=f"{obj.__module__}:{obj.__qualname__}",
        rate_param=obj.rate_param,
        settings=tuple(obj.default_settings),
        rate_increases_with_setting=bool(obj.rate_increases_with_setting),
        options=dict(getattr(obj, "default_options", {})),
        description=(obj.__doc__ or "").strip().splitlines()[0] if obj.__doc__ else "",
        library=str(getattr(obj, "library", "")),
        source=f"entry point {obj.__module__}:{obj.__qualname__}",
        **_axis_fields(axis),
    )
    try:
        check_default_settings(spec, where)
    except ConfigError as exc:
        raise PluginError(str(exc)) from exc
    return spec
