"""A recipe: a published table and the exact run that reproduces it, as data checked into dataclasses.

    # recipes/compressai-kodak-webp.toml
    title = "CompressAI: WebP on Kodak"
    citation = "CompressAI (Bégaint et al., 2020), results/image/kodak/webp.json"
    url = "https://github.com/InterDigitalInc/CompressAI/…"
    dataset = "kodak"
    metrics = ["psnr", "ms-ssim"]

    [conventions]                        # how the source counted what the columns hold
    rate = "bpp = 8 × bytes / (H × W) of the whole file; mean over the images"
    ms_ssim_db = "dB of the mean MS-SSIM"

    [[codecs]]
    codec = "webp"                       # a gcbench codec spec
    settings = [5, 10, 15]               # in the order of the published points, lowest bpp first
    reference = "compressai/kodak/webp"  # a shipped curve (gcbench ls references) or a CSV/JSON file
    rate = "bpp"                         # the measured column the published bpp is compared with:
                                         #   bpp (the whole file) or bpp_payload (what the source counted)
    options = { save = { method = 4 } }  # spec option overrides, as --codec-option gives them
    protocol = "Pillow quality q, method 4"
    deviations = ["what differs from the source, with its measured size"]

    [codecs.tolerance]                   # per compared column: |measured - published| ≤ abs + rel·|published|
    bpp = { rel = 1e-12, why = "the same bytes" }

Every key is checked; an unknown one is an error naming the valid ones. The published points
are read when the recipe loads, so a recipe whose settings do not match its curve's point count
does not load. A file with ``kind = "timing"`` is a published table of model times instead
(:mod:`gcbench.recipes.timing_model`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.core.errors import ConfigError
from gcbench.core.settings import Setting, format_setting

if TYPE_CHECKING:
    from gcbench.recipes.timing_model import TimingRecipe

RECIPE_KEYS = ("kind", "title", "citation", "url", "dataset", "metrics", "metric_options", "conventions", "codecs", "notes")
CODEC_KEYS = ("codec", "settings", "reference", "rate", "options", "protocol", "deviations", "tolerance")
TOLERANCE_KEYS = ("abs", "rel", "why")


@dataclass(frozen=True)
class Tolerance:
    """How far a measured value may be from the published one, and why that much."""

    column: str
    why: str
    abs: float = 0.0
    rel: float = 0.0

    def limit(self, published: float) -> float:
        """The largest |measured - published| that still holds."""
        return self.abs + self.rel * abs(published)

    def holds(self, published: float, measured: float) -> bool:
        """Whether ``measured`` is within the tolerance of ``published`` (NaN never holds)."""
        if not (math.isfinite(published) and math.isfinite(measured)):
            return False
        return abs(measured - published) <= self.limit(published)

    def describe(self) -> str:
        """``±0.15`` / ``±0.3 %`` / both, for tables."""
        parts = ([f"±{self.abs:g}"] if self.abs else []) + ([f"±{self.rel * 100:g} %"] if self.rel else [])
        return " + ".join(parts) or "exact"


@dataclass(frozen=True)
class RecipeCodec:
    """One codec of a recipe: the gcbench codec run at the source's settings, against one published curve."""

    codec: str
    settings: tuple[Setting, ...]
    reference: str
    tolerances: tuple[Tolerance, ...]
    rate: str = "bpp"  # measured column compared with the published bpp (bpp_payload: the source's count)
    options: Mapping[str, Any] = field(default_factory=dict)
    protocol: str = ""
    deviations: tuple[str, ...] = ()

    @property
    def argument(self) -> str:
        """The codec as ``gcbench run --codec`` takes it: ``webp@5,10,15``."""
        return f"{self.codec}@{','.join(format_setting(s) for s in self.settings)}"

    @property
    def columns(self) -> list[str]:
        """The compared columns, in the recipe's order."""
        return [t.column for t in self.tolerances]


@dataclass(frozen=True)
class Recipe:
    """A published table and the run that reproduces it."""

    name: str
    title: str
    citation: str
    url: str
    dataset: str
    metrics: tuple[str, ...]
    codecs: tuple[RecipeCodec, ...]
    conventions: Mapping[str, str] = field(default_factory=dict)
    metric_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    notes: str = ""
    file: str = ""

    @property
    def references(self) -> list[str]:
        """The shipped curves this recipe compares against."""
        return [c.reference for c in self.codecs]


def _unknown(keys: Mapping[str, Any], valid: tuple[str, ...], where: str) -> None:
    for key in keys:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else f" Valid keys: {', '.join(valid)}."
            raise ConfigError(f"{where}: unknown key {key!r}.{hint}")


def _need(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = table.get(key)
    if value is None or value == "" or value == []:
        raise ConfigError(f"{where}: {key!r} is required")
    if not isinstance(value, kind):
        raise ConfigError(f"{where}: {key!r} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _tolerance(column: str, table: Any, where: str) -> Tolerance:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: tolerance of {column!r} must be a table {{abs, rel, why}}")
    _unknown(table, TOLERANCE_KEYS, f"{where}: tolerance of {column!r}")
    why = _need(table, "why", str, f"{where}: tolerance of {column!r}")
    values = {}
    for key in ("abs", "rel"):
        value = table.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"{where}: tolerance {column}.{key} must be a number ≥ 0, got {value!r}")
        values[key] = float(value)
    return Tolerance(column, why, **values)


def _codec(table: Any, where: str) -> RecipeCodec:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: each [[codecs]] entry must be a table")
    _unknown(table, CODEC_KEYS, where)
    codec = _need(table, "codec", str, where)
    where = f"{where} ({codec})"
    settings = tuple(_need(table, "settings", list, where))
    for s in settings:
        format_setting(s)  # int, float or string, finite
    tolerance = _need(table, "tolerance", Mapping, where)
    deviations = table.get("deviations", [])
    if not isinstance(deviations, list) or not all(isinstance(d, str) for d in deviations):
        raise ConfigError(f"{where}: 'deviations' must be a list of strings")
    options = table.get("options", {})
    if not isinstance(options, Mapping):
        raise ConfigError(f"{where}: 'options' must be a table of spec options")
    from gcbench.results.columns import check_rate

    return RecipeCodec(codec=codec, settings=settings, reference=_need(table, "reference", str, where),
                       tolerances=tuple(_tolerance(c, t, where) for c, t in tolerance.items()),
                       rate=check_rate(str(table.get("rate", "bpp"))),
                       options=dict(options), protocol=str(table.get("protocol", "")), deviations=tuple(deviations))


def _is_file_reference(reference: str) -> bool:
    return reference.lower().endswith((".csv", ".json"))


def recipe_from_table(name: str, table: Mapping[str, Any], file: str = "") -> Recipe | TimingRecipe:
    """A checked :class:`Recipe` from a parsed TOML table (``file`` is named in every error); a table
    with ``kind = "timing"`` gives a :class:`~gcbench.recipes.timing_model.TimingRecipe`."""
    where = file or name
    kind = table.get("kind", "curve")
    if kind == "timing":
        from gcbench.recipes.timing_model import timing_recipe_from_table

        return timing_recipe_from_table(name, table, file)
    if kind != "curve":
        raise ConfigError(f"{where}: kind must be 'curve' (a published curve, the default) or 'timing', got {kind!r}")
    _unknown(table, RECIPE_KEYS, where)
    codecs = tuple(_codec(t, where) for t in _need(table, "codecs", list, where))
    metrics = tuple(_need(table, "metrics", list, where))
    conventions = table.get("conventions", {})
    if not isinstance(conventions, Mapping) or not all(isinstance(v, str) for v in conventions.values()):
        raise ConfigError(f"{where}: [conventions] must map names to text")
    if file:  # a reference given as a file is relative to the recipe's folder
        folder = Path(file).parent
        codecs = tuple(replace(c, reference=str(folder / c.reference)) if _is_file_reference(c.reference) else c
                       for c in codecs)
    recipe = Recipe(name=name, title=_need(table, "title", str, where), citation=_need(table, "citation", str, where),
                    url=_need(table, "url", str, where), dataset=_need(table, "dataset", str, where),
                    metrics=metrics, codecs=codecs, conventions=dict(conventions),
                    metric_options=dict(table.get("metric_options", {})), notes=str(table.get("notes", "")),
                    file=file)
    check_points(recipe)
    return recipe


def check_points(recipe: Recipe) -> None:
    """Each codec has one setting per published point and compares only columns its curve holds."""
    from gcbench.analysis.references import load_references

    names = [c.codec for c in recipe.codecs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{recipe.file or recipe.name}: a codec is listed twice")
    for entry in recipe.codecs:
        where = f"{recipe.file or recipe.name} ({entry.codec})"
        curves = load_references(entry.reference)
        if len(curves) != 1:
            raise ConfigError(f"{where}: {entry.reference} holds {len(curves)} curves; "
                              "a recipe codec compares with one")
        curve = curves[0]
        if len(curve.points) != len(entry.settings):
            raise ConfigError(f"{where}: {len(entry.settings)} settings for the {len(curve.points)} published "
                              f"points of {entry.reference}")
        absent = [c for c in entry.columns if c not in curve.points.columns]
        if absent:
            raise ConfigError(f"{where}: {entry.reference} has no column {', '.join(absent)} "
                              f"(it has {', '.join(curve.points.columns)})")
        if "bpp" not in entry.columns:
            raise ConfigError(f"{where}: a recipe compares bpp too: add a bpp tolerance")


def load_recipe_file(path: str | Path) -> Recipe | TimingRecipe:
    """The recipe in one TOML file; its name is the file's stem."""
    from gcbench.core.tomlio import read_toml

    path = Path(path)
    return recipe_from_table(path.stem, read_toml(path), str(path))
