"""A timing recipe: a published table of model times, and the measurement that compares its relative differences.

    # recipes/fgc-cityscapes-timing.toml
    kind = "timing"
    title = "…"
    citation = "…"
    url = ""                               # optional: the source's address, where one is known
    hardware = "NVIDIA V100"               # where the source measured
    statistic = "mean over 50 samples"     # what the source's number is

    [input]                                # what every generator sees (pix2pixHD's Cityscapes input)
    size = [1024, 512]                     # width × height
    label_nc = 35                          # one-hot channels
    instance_edges = true                  # + 1 channel: the instance map's edges

    [protocol]
    warmup = 5                             # untimed rounds
    repeats = 50                           # timed rounds (every stage once per round)

    [preprocess]                           # the label preprocessing, timed as its own stage
    paper_x_baseline = 1.5                 # its cost as a multiple of the baseline generator's
    why = "…"

    [[models]]
    codec = "gan-pix2pixhd-global"         # a gan codec spec; its architecture is built untrained
    label = "G1 (baseline)"
    paper_seconds = 0.09475
    baseline = true                        # exactly one model is the baseline

    [tolerance]                            # on the difference from the baseline, in percentage points
    diff_pct = { abs = 5.0, why = "…" }

Absolute times cannot match across hardware; what is judged is each model's time relative to the
baseline's (``diff_pct``), against the source's. Every key is checked, as in curve recipes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gcbench.core.errors import ConfigError
from gcbench.recipes.model import Tolerance, _need, _tolerance, _unknown

TIMING_KEYS = ("kind", "title", "citation", "url", "hardware", "statistic", "notes", "conventions", "deviations",
               "input", "protocol", "preprocess", "models", "tolerance")
INPUT_KEYS = ("size", "label_nc", "instance_edges")
PROTOCOL_KEYS = ("warmup", "repeats", "threads")
PREPROCESS_KEYS = ("paper_x_baseline", "why")
MODEL_KEYS = ("codec", "label", "paper_seconds", "baseline")
JUDGED = ("diff_pct",)


@dataclass(frozen=True)
class TimingModel:
    """One timed generator: a gan codec spec built untrained, and the source's time for it."""

    codec: str
    label: str
    paper_seconds: float
    baseline: bool = False

    @property
    def argument(self) -> str:
        """The codec as the listing shows it."""
        return self.codec


@dataclass(frozen=True)
class TimingRecipe:
    """A published timing table and the measurement that reproduces its relative differences."""

    name: str
    title: str
    citation: str
    hardware: str
    statistic: str
    size: tuple[int, int]  # width, height
    label_nc: int
    instance_edges: bool
    warmup: int
    repeats: int
    models: tuple[TimingModel, ...]
    tolerance: Tolerance
    paper_x_baseline: float | None = None
    preprocess_why: str = ""
    threads: int | None = None
    url: str = ""
    conventions: Mapping[str, str] = field(default_factory=dict)
    deviations: tuple[str, ...] = ()
    notes: str = ""
    file: str = ""

    @property
    def input_channels(self) -> int:
        """The channels every generator takes: the one-hot labels, plus the instance edges."""
        return self.label_nc + int(self.instance_edges)

    @property
    def baseline(self) -> TimingModel:
        """The model the differences are taken from."""
        return next(m for m in self.models if m.baseline)

    # what ``gcbench ls recipes`` shows for any recipe
    @property
    def codecs(self) -> tuple[TimingModel, ...]:
        """The timed models (the listing's codec column)."""
        return self.models

    @property
    def dataset(self) -> str:
        """No images are read: the generators see synthetic label maps of the source's size."""
        return f"none (synthetic {self.size[0]}×{self.size[1]} label maps)"

    @property
    def metrics(self) -> tuple[str, ...]:
        """What is measured."""
        return ("generator seconds", "params", "GFLOPs")


def _number(table: Mapping[str, Any], key: str, where: str, *, integer: bool = False, minimum: float = 0) -> Any:
    value = _need(table, key, int if integer else (int, float), where)
    if isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{where}: {key!r} must be a number ≥ {minimum}, got {value!r}")
    return int(value) if integer else float(value)


def _table(table: Mapping[str, Any], key: str, valid: tuple[str, ...], where: str) -> Mapping[str, Any]:
    value = _need(table, key, Mapping, where)
    _unknown(value, valid, f"{where} [{key}]")
    return value


def _models(entries: list[Any], where: str) -> tuple[TimingModel, ...]:
    models = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: each [[models]] entry must be a table")
        _unknown(entry, MODEL_KEYS, f"{where} [[models]]")
        codec = _need(entry, "codec", str, f"{where} [[models]]")
        models.append(TimingModel(codec, str(entry.get("label", codec)),
                                  _number(entry, "paper_seconds", f"{where} ({codec})", minimum=1e-12),
                                  bool(entry.get("baseline", False))))
    if sum(m.baseline for m in models) != 1:
        raise ConfigError(f"{where}: exactly one of the [[models]] must say baseline = true")
    if len({m.codec for m in models}) != len(models):
        raise ConfigError(f"{where}: a codec is listed twice")
    return tuple(models)


def _size(value: Any, where: str) -> tuple[int, int]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ConfigError(f"{where}: [input] size must be [width, height] in pixels, got {value!r}")
    return int(value[0]), int(value[1])


def timing_recipe_from_table(name: str, table: Mapping[str, Any], file: str = "") -> TimingRecipe:
    """A checked :class:`TimingRecipe` from a parsed TOML table with ``kind = "timing"``."""
    where = file or name
    _unknown(table, TIMING_KEYS, where)
    inp = _table(table, "input", INPUT_KEYS, where)
    protocol = _table(table, "protocol", PROTOCOL_KEYS, where)
    preprocess = table.get("preprocess", {})
    _unknown(preprocess, PREPROCESS_KEYS, f"{where} [preprocess]")
    tolerance = _table(table, "tolerance", JUDGED, where)
    if "diff_pct" not in tolerance:
        raise ConfigError(f"{where}: [tolerance] needs diff_pct (percentage points of the difference from baseline)")
    conventions = table.get("conventions", {})
    deviations = table.get("deviations", [])
    if not isinstance(conventions, Mapping) or not all(isinstance(v, str) for v in conventions.values()):
        raise ConfigError(f"{where}: [conventions] must map names to text")
    if not isinstance(deviations, list) or not all(isinstance(d, str) for d in deviations):
        raise ConfigError(f"{where}: 'deviations' must be a list of strings")
    ratio = preprocess.get("paper_x_baseline")
    return TimingRecipe(
        name=name, title=_need(table, "title", str, where), citation=_need(table, "citation", str, where),
        hardware=_need(table, "hardware", str, where), statistic=_need(table, "statistic", str, where),
        size=_size(inp.get("size"), where), label_nc=_number(inp, "label_nc", where, integer=True, minimum=1),
        instance_edges=bool(inp.get("instance_edges", False)),
        warmup=_number(protocol, "warmup", where, integer=True), repeats=_number(protocol, "repeats", where,
                                                                                  integer=True, minimum=1),
        threads=_number(protocol, "threads", where, integer=True, minimum=1) if "threads" in protocol else None,
        models=_models(_need(table, "models", list, where), where),
        tolerance=_tolerance("diff_pct", tolerance["diff_pct"], where),
        paper_x_baseline=float(ratio) if ratio is not None else None,
        preprocess_why=str(preprocess.get("why", "")), url=str(table.get("url", "")),
        conventions=dict(conventions), deviations=tuple(deviations), notes=str(table.get("notes", "")), file=file)
