"""Equal-bitrate comparison: per image, the setting of each codec that lands on a target bpp.

For every (image, codec, target) the search encodes the image at trial settings, measures
its bpp and keeps the setting whose bpp is nearest the target (``mode="nearest"``) or the
highest not above it (``mode="under"``), as HiFiC was compared against BPG. The rate axis
comes from the codec spec:

- integer settings (JPEG quality, QP, a model's quality index): every integer between the
  smallest and largest listed setting is allowed; bisection over them;
- float settings (a JPEG 2000 ratio, a variable-rate model's gain): bisection on the value
  between the listed bounds until the bpp is within ``rel_tol`` of the target or the
  interval is narrower than ``float_step``;
- named settings, or ``search="listed"``: only the listed settings are tried.

``rate_increases_with_setting`` from the spec says which way to go. Bisection assumes bpp
is monotonic in the setting; every probe is kept, so the final choice is the best of all
settings tried on the right side of the target. A target outside the codec's range gives
the nearest end and a status saying so.

Selections are saved to ``equal_bitrate.json`` in the output folder (keyed by codec spec,
library versions, image content, target and mode), so a re-run does not search again; the
runner adds one task per selected (codec, setting, image) and computes metrics as usual.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.core.errors import ConfigError
from gcbench.core.settings import Setting, format_setting

if TYPE_CHECKING:
    import pandas as pd

    from gcbench.execution.plan import CodecPlan, ImageItem, MetricRef, Task

MODES = ("nearest", "under")
SEARCHES = ("axis", "listed")
FILE_NAME = "equal_bitrate.json"
FILE_VERSION = 1


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
    status: str  # "ok", "above-target" (nothing reaches down to it), "below-target" (the codec cannot reach it)
    axis: str
    n_probes: int
    key: str = ""  # cache key
    probes: list[tuple[Setting, float]] = field(default_factory=list)

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


def _bisect_list(candidates: list[Setting], probe: _Prober, target: float) -> None:
    """Probe until two neighbours in ``candidates`` bracket the target (or an end is reached)."""
    lo, hi = 0, len(candidates) - 1
    if probe(candidates[lo]) > target or probe(candidates[hi]) <= target:
        return
    while hi - lo > 1:  # invariant: bpp(lo) <= target < bpp(hi)
        mid = (lo + hi) // 2
        if probe(candidates[mid]) <= target:
            lo = mid
        else:
            hi = mid


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


def search_setting(measure: Callable[[Setting], float], axis: RateAxis, target: float, mode: str = "nearest",
                   *, rel_tol: float = 1e-3, max_probes: int = 40) -> tuple[Setting, float, str, list[tuple[Setting, float]]]:
    """(setting, bpp, status, probes) for one image; ``measure(setting)`` returns its bpp."""
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
        _bisect_list(candidates, probe, target)
    tried = list(probe.seen.values())
    under = [p for p in tried if p[1] <= target]
    over = [p for p in tried if p[1] > target]
    if not under:
        setting, bpp = min(over, key=lambda p: p[1])
        return setting, bpp, "above-target", tried
    best_under = max(under, key=lambda p: p[1])
    if not over:
        status = "ok" if abs(best_under[1] - target) <= rel_tol * target else "below-target"
        return best_under[0], best_under[1], status, tried
    if mode == "under":
        return best_under[0], best_under[1], "ok", tried
    best_over = min(over, key=lambda p: p[1])
    pick = best_under if target - best_under[1] <= best_over[1] - target else best_over
    return pick[0], pick[1], "ok", tried


def _bpp_of(encoded: Any, pixels: int) -> float:
    from gcbench.codecs.base import Encoded

    if isinstance(encoded, Encoded):
        if encoded.bits_estimate is not None:
            return float(encoded.bits_estimate) / pixels
        return 8.0 * len(encoded.data) / pixels
    return 8.0 * len(encoded) / pixels


def selection_key(plan: CodecPlan, image: ImageItem, target: float, mode: str, axis: RateAxis) -> str:
    import hashlib

    payload = {"spec": plan.spec.spec_hash(), "versions": plan.versions, "image": image.sha256, "name": image.name,
               "target": repr(float(target)), "mode": mode, "axis": axis.describe()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def load_selections(folder: str | Path) -> list[dict[str, Any]]:
    path = Path(folder) / FILE_NAME
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("version") != FILE_VERSION:
        raise ConfigError(f"{path}: version {data.get('version')!r}, this gcbench reads {FILE_VERSION}; "
                          "delete it to search again")
    return list(data.get("selections", []))


def save_selections(folder: str | Path, selections: list[dict[str, Any]]) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    from gcbench.core.atomic import write_text

    return write_text(folder / FILE_NAME,
                      json.dumps({"version": FILE_VERSION, "selections": selections}, indent=1, default=str))


def select_settings(plans: Sequence[CodecPlan], images: Sequence[ImageItem], targets: Sequence[float], dataset: str,
                    *, mode: str = "nearest", search: str = "axis", folder: str | Path | None = None,
                    progress: bool = False) -> list[Selection]:
    """Search every (codec, image, target); selections already in ``folder`` are reused."""
    from gcbench.codecs.spec import build_codec
    from gcbench.data.images import load_image

    if mode not in MODES:
        raise ConfigError(f"unknown target mode {mode!r}; choose one of {', '.join(MODES)}")
    for t in targets:
        if not (isinstance(t, (int, float)) and math.isfinite(t) and t > 0):
            raise ConfigError(f"--target-bpp must be a positive number, got {t!r}")
    cached = {s["key"]: s for s in load_selections(folder)} if folder is not None else {}
    out: list[Selection] = []
    codecs = {}
    total = len(plans) * len(images)
    from tqdm import tqdm

    with tqdm(total=total, disable=not progress, unit="search", desc="equal bitrate", mininterval=0.5) as bar:
        for image in images:
            array = None
            for plan in plans:
                # the spec's settings bound the axis; the run's own settings are its sweep
                axis = rate_axis(plan.spec, None, search)
                probe_cache: dict[str, float] = {}
                for target in targets:
                    key = selection_key(plan, image, target, mode, axis)
                    hit = cached.get(key)
                    if hit is not None:
                        out.append(Selection(**{k: v for k, v in hit.items() if k != "probes"},
                                             probes=[tuple(p) for p in hit.get("probes", [])]))
                        continue
                    if array is None:
                        array = load_image(image.path).array
                    codec = codecs.get(plan.spec.name)
                    if codec is None:
                        codec = codecs[plan.spec.name] = build_codec(plan.spec)
                        codec.prepare()
                    pixels = image.height * image.width

                    def measure(setting: Setting, codec: Any = codec, cache: dict[str, float] = probe_cache,
                                image_array: Any = array, pixels: int = pixels) -> float:
                        text = format_setting(setting)
                        if text not in cache:
                            cache[text] = _bpp_of(codec.encode(image_array, setting), pixels)
                        return cache[text]

                    setting, bpp, status, probes = search_setting(measure, axis, float(target), mode)
                    out.append(Selection(float(target), mode, plan.spec.name, dataset, image.name, image.sha256,
                                         setting, bpp, status, axis.describe(), len(probes), key, probes))
                bar.update(1)
    if folder is not None:
        merged = dict(cached)
        for s in out:
            merged[s.key] = asdict(s)
        save_selections(folder, list(merged.values()))
    return out


def selection_tasks(selections: Sequence[Selection], plans: Sequence[CodecPlan], images: Sequence[ImageItem],
                    metrics: Sequence[MetricRef], dataset: str, dataset_root: str = "") -> list[Task]:
    """One task per distinct selected (codec, setting, image)."""
    from gcbench.execution.plan import Task, task_key

    by_codec = {p.spec.name: p for p in plans}
    by_image = {i.name: i for i in images}
    tasks: dict[str, Task] = {}
    for s in selections:
        plan, image = by_codec[s.codec], by_image[s.image]
        key = task_key(plan.spec, plan.versions, s.setting, image)
        if key not in tasks:
            tasks[key] = Task(key=key, codec=s.codec, spec=plan.spec, codec_versions=plan.versions,
                              setting=s.setting, dataset=dataset, image=image, metrics=tuple(metrics),
                              dataset_root=dataset_root)
    return list(tasks.values())


def add_target_tasks(tasks: list[Task], config: Any, plans: Sequence[CodecPlan], images: Sequence[ImageItem],
                     metrics: Sequence[MetricRef], dataset: Any) -> list[Task]:
    """The runner's hook: search the targets of ``config`` and append the tasks they need."""
    selections = select_settings(plans, images, list(config.target_bpp), dataset.name, mode=config.target_mode,
                                 folder=config.out, progress=config.progress)
    extra = selection_tasks(selections, plans, images, metrics, dataset.name, str(dataset.root))
    known = {t.key for t in tasks}
    return list(tasks) + [t for t in extra if t.key not in known]


def equal_bitrate_table(folder: str | Path) -> pd.DataFrame:
    """One row per (target, dataset, codec, image): the chosen setting, its bpp and metric values."""
    import pandas as pd

    from gcbench.results.views import per_image, sort_rows

    sel = load_selections(folder)
    cols = ["target_bpp", "mode", "dataset", "codec", "image", "setting", "status", "search_bpp", "n_probes"]
    if not sel:
        return pd.DataFrame(columns=cols + ["task_status", "bpp"])
    df = pd.DataFrame([{**{k: s[k] for k in cols if k not in ("setting", "search_bpp")},
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
    """Means per (target, dataset, codec) over the images whose task succeeded."""
    import pandas as pd

    from gcbench.results.views import metric_columns

    if table.empty:
        return pd.DataFrame(columns=["target_bpp", "dataset", "codec", "n_images", "bpp"])
    ok = table[table["task_status"] == "ok"]
    value_cols = [c for c in metric_columns(ok) if c not in ("target_bpp", "bpp", "search_bpp", "n_probes")]
    rows = []
    for (target, dataset, codec), g in ok.groupby(["target_bpp", "dataset", "codec"], sort=True):
        row = {"target_bpp": target, "dataset": dataset, "codec": codec, "n_images": len(g),
               "n_off_target": int((g["status"] != "ok").sum()), "bpp": g["bpp"].mean(),
               "bpp_min": g["bpp"].min(), "bpp_max": g["bpp"].max()}
        for c in value_cols:
            row[c] = g[c].mean()
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
