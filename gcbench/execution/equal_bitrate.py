"""Equal-bitrate comparison: per image, the setting of each codec that lands on a target bpp.

For every (image, codec, target) the search encodes the image at trial settings, measures
its bpp and keeps the setting whose bpp is nearest the target (``mode="nearest"``) or the
highest not above it (``mode="under"``), as HiFiC was compared against BPG. A codec that
encodes with the image's mask (side input) is searched with the mask, as its task runs. The
rate axis comes from the codec spec:

- integer settings (JPEG quality, QP, a model's quality index): every integer between the
  smallest and largest listed setting is allowed;
- float settings (a JPEG 2000 ratio, a variable-rate model's gain): bisection on the value
  between the listed bounds until the bpp is within ``rel_tol`` of the target or the
  interval is narrower than ``float_step``;
- named settings, or ``search="listed"``: only the listed settings are tried.

An axis of at most ``exhaustive`` settings (core.defaults.EXHAUSTIVE_AXIS, 16) is probed at
every setting. A longer one is bisected (``rate_increases_with_setting`` from the spec says
which way) to the pair of neighbouring settings that brackets the target, and the neighbours
of that pair are probed too: bpp is not always monotonic in the setting (JPEG quality is
not), and on such a stretch the nearest setting can lie just outside the bracket. The choice
is the nearest of every setting probed. Each selection carries its relative distance from
the target, ``(bpp - target) / target``; it is on target (status ``ok``) within
``tolerance`` (core.defaults.BPP_TOLERANCE, 5 %), else ``off-target``, or ``above-target`` /
``below-target`` when the codec's whole range lies on one side of the target.

Selections are stored in the results database of the output folder (table ``selections``,
keyed by codec spec, library versions, image content, mask, target, mode and search
parameters), so a re-run does not search again; the runner adds one task per selected (codec, setting, image), built by the
one task factory (gcbench.execution.plan.make_task), and computes metrics as usual.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.core import defaults
from gcbench.core.errors import ConfigError
from gcbench.core.settings import Setting, format_setting

if TYPE_CHECKING:
    import pandas as pd

    from gcbench.execution.plan import CodecPlan, ImageItem, MetricRef, Task

MODES = ("nearest", "under")
SEARCHES = ("axis", "listed")


@dataclass(frozen=True)
class RateAxis:
    """Where a codec's settings may be searched."""

    kind: str  # "int", "float" or "listed"
    increasing: bool  # a larger setting spends more bits
    settings: tuple[Setting, ...]  # listed settings (for "listed"), else the bounds' source
    lo: float = math.nan
    hi: float = math.nan
    float_step: float = 0.0

    def describe(self) -> str:
        if self.kind == "listed":
            return f"listed settings ({len(self.settings)})"
        return f"{self.kind} {self.lo:g}…{self.hi:g}"


def rate_axis(spec: Any, settings: Sequence[Setting] | None = None, search: str = "axis",
              float_step: float | None = None) -> RateAxis:
    """The searchable axis of a codec from its spec (or the settings a run gives)."""
    if search not in SEARCHES:
        raise ConfigError(f"unknown search {search!r}; choose one of {', '.join(SEARCHES)}")
    chosen = tuple(settings) if settings else tuple(spec.settings)
    increasing = bool(spec.rate_increases_with_setting)
    numeric = all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in chosen)
    if search == "listed" or not numeric or len(chosen) < 2:
        return RateAxis("listed", increasing, chosen)
    lo, hi = float(min(chosen)), float(max(chosen))
    if all(isinstance(s, int) for s in chosen):
        return RateAxis("int", increasing, chosen, lo, hi)
    # bisection stops at rel_tol in bpp; the step only ends a search on a flat stretch
    step = float_step if float_step is not None else (hi - lo) * 1e-6
    return RateAxis("float", increasing, chosen, lo, hi, step)


@dataclass
class Selection:
    """The setting chosen for one (codec, image, target)."""

    target_bpp: float
    mode: str
    codec: str
    dataset: str
    image: str
    image_sha256: str
    setting: Setting
    bpp: float
    # "ok" (within the tolerance), "off-target" (the nearest setting is further), "above-target"
    # (nothing reaches down to it), "below-target" (the codec cannot reach it)
    status: str
    axis: str
    n_probes: int
    key: str = ""  # cache key
    probes: list[tuple[Setting, float]] = field(default_factory=list)
    rel_distance: float = math.nan  # (bpp - target) / target
    on_target: bool = False  # |rel_distance| within the search's tolerance

    @property
    def setting_text(self) -> str:
        return format_setting(self.setting)


class _Prober:
    """Encodes one image at trial settings, remembering every bpp measured."""

    def __init__(self, measure: Callable[[Setting], float]) -> None:
        self.measure = measure
        self.seen: dict[str, tuple[Setting, float]] = {}

    def __call__(self, setting: Setting) -> float:
        key = format_setting(setting)
        if key not in self.seen:
            self.seen[key] = (setting, float(self.measure(setting)))
        return self.seen[key][1]


def _ordered_candidates(axis: RateAxis) -> list[Setting] | None:
    """Candidate settings in order of increasing rate (None for a float axis)."""
    if axis.kind == "float":
        return None
    if axis.kind == "int":
        values: list[Setting] = list(range(int(axis.lo), int(axis.hi) + 1))
    else:
        numeric = all(isinstance(s, (int, float)) for s in axis.settings)
        values = sorted(axis.settings) if numeric else list(axis.settings)  # type: ignore[type-var]
        if not numeric:
            return values
    return values if axis.increasing else values[::-1]


def _probe_list(candidates: list[Setting], probe: _Prober, target: float, exhaustive: int) -> None:
    """Probe every candidate of a short axis; on a long one, bisect to the bracketing pair and probe its neighbours."""
    if len(candidates) <= exhaustive:
        for setting in candidates:
            probe(setting)
        return
    # positions -1 and n stand for "below the lowest" and "above the highest" setting, never probed;
    # invariant: bpp(lo) <= target < bpp(hi)
    lo, hi = -1, len(candidates)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if probe(candidates[mid]) <= target:
            lo = mid
        else:
            hi = mid
    for i in (lo - 1, lo, hi, hi + 1):
        if 0 <= i < len(candidates):
            probe(candidates[i])


def _bisect_float(axis: RateAxis, probe: _Prober, target: float, rel_tol: float, max_probes: int) -> None:
    # position 0 = lowest rate, 1 = highest; the setting runs the other way for QP-like axes
    def setting_at(t: float) -> float:
        return axis.lo + t * (axis.hi - axis.lo) if axis.increasing else axis.hi - t * (axis.hi - axis.lo)

    lo, hi = 0.0, 1.0
    if probe(setting_at(lo)) > target or probe(setting_at(hi)) <= target:
        return
    width = axis.hi - axis.lo
    while len(probe.seen) < max_probes and (hi - lo) * width > axis.float_step:
        mid = (lo + hi) / 2
        bpp = probe(setting_at(mid))
        if abs(bpp - target) <= rel_tol * target:
            return
        if bpp <= target:
            lo = mid
        else:
            hi = mid


def _choose(tried: list[tuple[Setting, float]], target: float, mode: str) -> tuple[Setting, float]:
    """The nearest probe (ties: the lower bpp), or for ``under`` the highest bpp not above the target."""
    under = [p for p in tried if p[1] <= target]
    if mode == "under":
        return max(under, key=lambda p: p[1]) if under else min(tried, key=lambda p: p[1])
    return min(tried, key=lambda p: (abs(p[1] - target), p[1]))


def target_status(bpp: float, target: float, tried: list[tuple[Setting, float]], mode: str, tolerance: float) -> str:
    """``ok`` within ``tolerance`` (relative); otherwise which side of the target the codec's range leaves it."""
    reaches_down = any(b <= target for _, b in tried)
    if mode == "under" and not reaches_down:
        return "above-target"
    if abs(bpp - target) <= tolerance * target:
        return "ok"
    if not reaches_down:
        return "above-target"
    if all(b <= target for _, b in tried):
        return "below-target"
    return "off-target"


def search_setting(measure: Callable[[Setting], float], axis: RateAxis, target: float, mode: str = "nearest",
                   *, rel_tol: float = 1e-3, max_probes: int = 40, tolerance: float = defaults.BPP_TOLERANCE,
                   exhaustive: int = defaults.EXHAUSTIVE_AXIS) -> tuple[Setting, float, str, list[tuple[Setting, float]]]:
    """(setting, bpp, status, probes) for one image; ``measure(setting)`` returns its bpp.

    ``rel_tol`` ends a float bisection; ``tolerance`` decides whether the choice is on target.
    """
    if mode not in MODES:
        raise ConfigError(f"unknown target mode {mode!r}; choose one of {', '.join(MODES)}")
    if not target > 0:
        raise ConfigError(f"a target bpp must be positive, got {target!r}")
    probe = _Prober(measure)
    candidates = _ordered_candidates(axis)
    if candidates is None:
        _bisect_float(axis, probe, target, rel_tol, max_probes)
    elif axis.kind == "listed" and not all(isinstance(s, (int, float)) for s in candidates):
        for s in candidates:
            probe(s)
    else:
        _probe_list(candidates, probe, target, exhaustive)
    tried = list(probe.seen.values())
    setting, bpp = _choose(tried, target, mode)
    return setting, bpp, target_status(bpp, target, tried, mode, tolerance), tried


def _bpp_of(encoded: Any, pixels: int) -> float:
    from gcbench.codecs.base import Encoded

    if isinstance(encoded, Encoded):
        if encoded.bits_estimate is not None:
            return float(encoded.bits_estimate) / pixels
        return 8.0 * len(encoded.data) / pixels
    return 8.0 * len(encoded) / pixels


SEARCH_VERSION = 2  # bumped when the search itself changes, so older selections are searched again


def selection_key(plan: CodecPlan, image: ImageItem, target: float, mode: str, axis: RateAxis,
                  tolerance: float = defaults.BPP_TOLERANCE, exhaustive: int = defaults.EXHAUSTIVE_AXIS) -> str:
    """The cache key of one search: what its result depends on, the mask of a side-input codec included."""
    import hashlib

    from gcbench.execution.plan import side_input

    payload = {"spec": plan.spec.spec_hash(), "versions": plan.versions, "image": image.sha256, "name": image.name,
               "side": side_input(plan, image), "target": repr(float(target)), "mode": mode,
               "axis": axis.describe(), "search": [SEARCH_VERSION, repr(float(tolerance)), int(exhaustive)]}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def load_selections(folder: str | Path) -> list[dict[str, Any]]:
    """The selections stored in the results database of ``folder`` (none when it has no database)."""
    from gcbench.results.store import DB_NAME, ResultStore

    if not (Path(folder) / DB_NAME).is_file():
        return []
    with ResultStore(folder, create=False) as store:
        return store.selections()


def save_selections(folder: str | Path, selections: list[dict[str, Any]]) -> Path:
    """Store selections (dicts of :class:`Selection`'s fields) in the results database of ``folder``."""
    from gcbench.results.store import ResultStore

    with ResultStore(folder) as store:
        store.write_selections(selections)
        return store.path


class _TrialEncoder:
    """Encodes one image at a time at trial settings, as its tasks will: a side-input codec with the
    image's mask. Each codec is built once; each (codec, setting) of the current image encoded once."""

    def __init__(self) -> None:
        self.codecs: dict[str, Any] = {}
        self.image: ImageItem | None = None
        self.array: Any = None
        self.bpp: dict[tuple[str, str], float] = {}  # (spec hash, setting) → bpp of the current image

    def measure(self, plan: CodecPlan, image: ImageItem) -> Callable[[Setting], float]:
        """``setting -> bpp`` of ``image`` under ``plan``'s codec."""
        def measure(setting: Setting) -> float:
            if self.image != image:
                self.image, self.array, self.bpp = image, None, {}
            key = (plan.spec.spec_hash(), format_setting(setting))
            if key not in self.bpp:
                self.bpp[key] = _bpp_of(self._encode(plan, image, setting), image.height * image.width)
            return self.bpp[key]

        return measure

    def _encode(self, plan: CodecPlan, image: ImageItem, setting: Setting) -> Any:
        from gcbench.codecs.spec import build_codec
        from gcbench.data.images import load_image
        from gcbench.data.masks import planned_mask

        if self.array is None:
            self.array = load_image(image.path).array
        codec = self.codecs.get(plan.spec.spec_hash())
        if codec is None:
            codec = self.codecs[plan.spec.spec_hash()] = build_codec(plan.spec)
            codec.prepare()
        side = (planned_mask(image.mask_path, image.mask_sha256, (image.height, image.width))
                if plan.uses_side_input else None)
        return codec.encode(self.array, setting) if side is None else codec.encode(self.array, setting, side=side)


def _cached_selection(entry: dict[str, Any]) -> Selection:
    return Selection(**{k: v for k, v in entry.items() if k != "probes"},
                     probes=[tuple(p) for p in entry.get("probes", [])])


def select_settings(plans: Sequence[CodecPlan], images: Sequence[ImageItem], targets: Sequence[float], dataset: str,
                    *, mode: str = "nearest", search: str = "axis", folder: str | Path | None = None,
                    progress: bool = False, tolerance: float = defaults.BPP_TOLERANCE,
                    exhaustive: int = defaults.EXHAUSTIVE_AXIS) -> list[Selection]:
    """Search every (codec, image, target); selections already in ``folder`` are reused."""
    from tqdm import tqdm

    if mode not in MODES:
        raise ConfigError(f"unknown target mode {mode!r}; choose one of {', '.join(MODES)}")
    for t in targets:
        if not (isinstance(t, (int, float)) and math.isfinite(t) and t > 0):
            raise ConfigError(f"--target-bpp must be a positive number, got {t!r}")
    cached = {s["key"]: s for s in load_selections(folder)} if folder is not None else {}
    out: list[Selection] = []
    encoder = _TrialEncoder()
    with tqdm(total=len(plans) * len(images), disable=not progress, unit="search", desc="equal bitrate",
              mininterval=0.5) as bar:
        for image in images:
            for plan in plans:
                # the spec's settings bound the axis; the run's own settings are its sweep
                axis = rate_axis(plan.spec, None, search)
                for target in targets:
                    key = selection_key(plan, image, target, mode, axis, tolerance, exhaustive)
                    if key in cached:
                        out.append(_cached_selection(cached[key]))
                        continue
                    setting, bpp, status, probes = search_setting(
                        encoder.measure(plan, image), axis, float(target), mode, tolerance=tolerance,
                        exhaustive=exhaustive)
                    distance = (bpp - float(target)) / float(target)
                    out.append(Selection(float(target), mode, plan.spec.name, dataset, image.name, image.sha256,
                                         setting, bpp, status, axis.describe(), len(probes), key, probes,
                                         distance, abs(distance) <= tolerance))
                bar.update(1)
    if folder is not None:
        merged = dict(cached)
        for s in out:
            merged[s.key] = asdict(s)
        save_selections(folder, list(merged.values()))
    return out


def selection_tasks(selections: Sequence[Selection], plans: Sequence[CodecPlan], images: Sequence[ImageItem],
                    metrics: Sequence[MetricRef], dataset: str, dataset_root: str = "") -> list[Task]:
    """One task per distinct selected (codec, setting, image), from the one task factory."""
    from gcbench.execution.plan import make_task

    by_codec = {p.spec.name: p for p in plans}
    by_image = {i.name: i for i in images}
    tasks: dict[str, Task] = {}
    for s in selections:
        task = make_task(by_codec[s.codec], s.setting, by_image[s.image], tuple(metrics), dataset, dataset_root)
        tasks.setdefault(task.key, task)
    return list(tasks.values())


def add_target_tasks(tasks: list[Task], config: Any, plans: Sequence[CodecPlan], images: Sequence[ImageItem],
                     metrics: Sequence[MetricRef], dataset: Any) -> list[Task]:
    """The runner's hook: search the targets of ``config`` and append the tasks they need."""
    selections = select_settings(plans, images, list(config.target_bpp), dataset.name, mode=config.target_mode,
                                 folder=config.out, progress=config.progress, tolerance=config.bpp_tolerance)
    extra = selection_tasks(selections, plans, images, metrics, dataset.name, str(dataset.root))
    known = {t.key for t in tasks}
    return list(tasks) + [t for t in extra if t.key not in known]


def equal_bitrate_table(folder: str | Path) -> pd.DataFrame:
    """One row per (target, dataset, codec, image): the chosen setting, its bpp and metric values."""
    import pandas as pd

    from gcbench.results.views import per_image, sort_rows

    sel = load_selections(folder)
    cols = ["target_bpp", "mode", "dataset", "codec", "image", "setting", "status", "rel_distance", "on_target",
            "search_bpp", "n_probes"]
    if not sel:
        return pd.DataFrame(columns=cols + ["task_status", "bpp"])
    df = pd.DataFrame([{**{k: s.get(k) for k in cols if k not in ("setting", "search_bpp")},
                        "setting": format_setting(s["setting"]), "search_bpp": s["bpp"]} for s in sel])[cols]
    rows = per_image(folder)
    keep = [c for c in rows.columns if c not in ("rate_param", "error_stage", "error", "height", "width", "n_bytes",
                                                 "timing_kind", "metric_errors", "codec_versions", "key",
                                                 "setting_value")]
    # bpp and metric values come from the stored task (what the metrics were computed on); a
    # selection with no task (searched by a run that stopped before its task) is only a cache entry
    merged = df.merge(rows[keep].rename(columns={"status": "task_status"}),
                      on=["dataset", "codec", "setting", "image"], how="inner")
    return sort_rows(merged, ["target_bpp", "dataset", "codec", "image"]).reset_index(drop=True)


def equal_bitrate_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Means per (target, dataset, codec) over the images whose task succeeded (dB columns: dB of the mean)."""
    import pandas as pd

    from gcbench.results.columns import summarise_column, summary_sources
    from gcbench.results.views import metric_columns

    if table.empty:
        return pd.DataFrame(columns=["target_bpp", "dataset", "codec", "n_images", "bpp"])
    ok = table[table["task_status"] == "ok"]
    value_cols = [c for c in metric_columns(ok) if c not in ("target_bpp", "bpp", "search_bpp", "n_probes")]
    sources = summary_sources(value_cols)  # ms_ssim_db: dB of the mean, as in the summary table
    rows = []
    for (target, dataset, codec), g in ok.groupby(["target_bpp", "dataset", "codec"], sort=True):
        row = {"target_bpp": target, "dataset": dataset, "codec": codec, "n_images": len(g),
               "n_off_target": int((g["status"] != "ok").sum()), "bpp": g["bpp"].mean(),
               "bpp_min": g["bpp"].min(), "bpp_max": g["bpp"].max()}
        for c in value_cols:
            row[c] = summarise_column(g, c, sources)
        rows.append(row)
    return pd.DataFrame(rows)


def write_outputs(folder: str | Path) -> list[Path]:
    """``equal_bitrate.csv`` (per image) and ``equal_bitrate_summary.csv`` when the folder has selections."""
    from gcbench.results.views import write_table

    folder = Path(folder)
    table = equal_bitrate_table(folder)
    if table.empty:
        return []
    return [write_table(table, folder / "equal_bitrate.csv"),
            write_table(equal_bitrate_summary(table), folder / "equal_bitrate_summary.csv")]
