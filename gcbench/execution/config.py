"""A run's configuration: one dataclass, checked before any work, loadable from TOML.

    # experiment.toml
    codecs = ["jpeg@40,80", "webp"]
    metrics = ["psnr", "ms-ssim"]
    dataset = "kodak"
    out = "results/kodak"
    jobs = 2
    [codec_options.jpeg.save]
    optimize = true

``gcbench run --config experiment.toml`` runs it; flags given on the command line override the
file (a dict option such as ``codec_options`` is merged key by key, the flag winning). The keys
are :class:`RunConfig`'s fields; an unknown key is an error that names the valid ones. Relative
paths mean what they would mean on the command line: relative to the working directory.
Defaults come from :mod:`gcbench.core.defaults`, the table the command line shows too.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from gcbench.core import defaults
from gcbench.core.errors import ConfigError


@dataclass
class RunConfig:
    """Everything a benchmark run needs; ``gcbench run`` flags map one to one onto these fields."""

    codecs: list[str]  # "name" or "name@s1,s2" or "name@start:stop:step"
    dataset: str
    out: str | Path
    metrics: list[str] = field(default_factory=lambda: list(defaults.METRICS))
    jobs: int = defaults.JOBS
    threads: int | None = None  # per worker; default: cores // jobs
    device: str = defaults.DEVICE  # torch metrics and learned codecs (their spec option ``device``)
    batch: int | None = None  # tasks per worker call, torch pair metrics batched; default: defaults.batch_for(device)
    random_weights: bool = False  # learned codecs with untrained networks (to time architectures)
    data_root: str | None = None
    executor: str = defaults.EXECUTOR
    executor_options: dict[str, Any] = field(default_factory=dict)
    codec_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # codec → option overrides
    binaries: dict[str, str] = field(default_factory=dict)  # program name → path (command-line codecs)
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_images: int | None = None
    masks: str | None = None  # folder of per-image masks matched by name (gcbench.data.masks)
    progress: bool = True
    write_outputs: bool = True  # summary/per-image CSV and the RD plot in ``out``
    argv: list[str] | None = None
    # equal-bitrate comparison (gcbench.execution.equal_bitrate): per image, the setting of each codec nearest
    # each target bpp ("nearest") or the highest under it ("under"); sweep=False runs only those
    target_bpp: list[float] = field(default_factory=list)
    target_mode: str = defaults.TARGET_MODE
    sweep: bool = True
    bpp_tolerance: float = defaults.BPP_TOLERANCE  # a selection this close (relative) is "on target"

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> RunConfig:
        """The run described by a TOML file; ``overrides`` (e.g. command-line flags) win over it."""
        return config_from_values(merge_values(read_config_file(path), overrides), source=str(path))

    def check(self) -> None:
        """Raise ConfigError on a value no run can use, before anything is read or written."""
        from gcbench.execution.equal_bitrate import MODES

        if not self.codecs:
            raise ConfigError("no codec given (use --codec NAME; `gcbench ls codecs` lists them)")
        if not isinstance(self.jobs, int) or self.jobs < 1:
            raise ConfigError(f"--jobs must be at least 1, got {self.jobs!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ConfigError(f"--threads must be at least 1, got {self.threads!r}")
        if self.batch is not None and (not isinstance(self.batch, int) or self.batch < 1):
            raise ConfigError(f"--batch must be at least 1, got {self.batch!r}")
        if self.target_mode not in MODES:
            raise ConfigError(f"unknown target mode {self.target_mode!r}; choose one of {', '.join(MODES)}")
        for t in self.target_bpp:
            if not (_is_number(t) and math.isfinite(t) and t > 0):
                raise ConfigError(f"--target-bpp must be a positive number, got {t!r}")
        if not (_is_number(self.bpp_tolerance) and 0 <= self.bpp_tolerance < 1):
            raise ConfigError(f"--bpp-tolerance is a fraction in [0, 1) (0.05 = 5 %), got {self.bpp_tolerance!r}")
        if not self.sweep and not self.target_bpp:
            raise ConfigError("--no-sweep leaves nothing to run without --target-bpp")
        unused = sorted(set(self.metric_options) - set(self.metrics))
        if unused:
            raise ConfigError(f"--metric-option for {', '.join(unused)}, which is not among the metrics run "
                              f"({', '.join(self.metrics)}); add --metric {unused[0]}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# What each key of a config file holds: a check and the words for the error.
_STR_LIST = (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of strings")
_TABLE_OF_TABLES = (lambda v: isinstance(v, dict) and all(isinstance(x, dict) for x in v.values()),
                    "a table of tables, one per name")
_VALUE_KINDS: dict[str, tuple[Any, str]] = {
    "codecs": _STR_LIST,
    "metrics": _STR_LIST,
    "dataset": (lambda v: isinstance(v, str), "a string (a dataset name or folder)"),
    "out": (lambda v: isinstance(v, str), "a string (a folder)"),
    "jobs": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "threads": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "batch": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "max_images": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "device": (lambda v: isinstance(v, str), "a string (cpu, cuda or cuda:N)"),
    "data_root": (lambda v: isinstance(v, str), "a string (a folder)"),
    "masks": (lambda v: isinstance(v, str), "a string (a folder)"),
    "executor": (lambda v: isinstance(v, str), "a string (local or ray)"),
    "target_mode": (lambda v: isinstance(v, str), "a string (nearest or under)"),
    "random_weights": (lambda v: isinstance(v, bool), "true or false"),
    "progress": (lambda v: isinstance(v, bool), "true or false"),
    "write_outputs": (lambda v: isinstance(v, bool), "true or false"),
    "sweep": (lambda v: isinstance(v, bool), "true or false"),
    "executor_options": (lambda v: isinstance(v, dict), "a table"),
    "codec_options": _TABLE_OF_TABLES,
    "metric_options": _TABLE_OF_TABLES,
    "binaries": (lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
                 "a table of program name = path"),
    "target_bpp": (lambda v: isinstance(v, list) and all(_is_number(x) for x in v), "a list of numbers"),
    "bpp_tolerance": (_is_number, "a number"),
}
CONFIG_KEYS = tuple(f.name for f in fields(RunConfig) if f.name != "argv")
REQUIRED_KEYS = ("codecs", "dataset", "out")
_FLAGS = {"codecs": "--codec", "dataset": "--dataset", "out": "--out"}


def _unknown_key(key: str, where: str) -> ConfigError:
    close = difflib.get_close_matches(key, CONFIG_KEYS, n=3, cutoff=0.6)
    hint = ("Did you mean " + " or ".join(repr(c) for c in close) + "? ") if close else ""
    return ConfigError(f"{where}: unknown key {key!r}. {hint}Valid keys: {', '.join(CONFIG_KEYS)}")


def check_values(values: Mapping[str, Any], where: str) -> None:
    """Every key known and every value of the right type (ConfigError names the key and the file)."""
    for key, value in values.items():
        if key not in CONFIG_KEYS:
            raise _unknown_key(key, where)
        ok, words = _VALUE_KINDS[key]
        if not ok(value):
            raise ConfigError(f"{where}: {key} must be {words}, got {value!r}")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The checked contents of a run's TOML file (not yet merged with defaults)."""
    from gcbench.core.tomlio import read_toml

    values = read_toml(Path(path))
    check_values(values, str(path))
    return values


def merge_values(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` wins; tables (codec_options, binaries, …) are merged key by key, lists replaced."""
    from gcbench.codecs.spec import _merge

    out = dict(base)
    for key, value in over.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def config_from_values(values: Mapping[str, Any], source: str = "the command line") -> RunConfig:
    """A checked RunConfig from merged values; a missing required key names its flag."""
    missing = [k for k in REQUIRED_KEYS if not values.get(k)]
    if missing:
        what = ", ".join(f"{k} ({_FLAGS[k]})" for k in missing)
        raise ConfigError(f"{source}: missing {what}: give them in a config file (--config) or as flags")
    config = RunConfig(**values)
    config.check()
    return config
