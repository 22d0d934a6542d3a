"""Results of one or several output folders as curves: what plots, BD tables and reports read.

Each curve is a *series*: the codec name, or ``codec (folder)`` when several folders are
read together. Curves hold the sweep settings only: settings a run added to reach a target
bpp for single images (``gcbench run --target-bpp``) would put one-image means on a
dataset-wide curve, so they are left out here and shown in the equal-bitrate table instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.core.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Results:
    """Everything read from the folders, with ``series`` and ``run`` columns added."""

    folders: list[Path]
    labels: dict[Path, str]  # folder → its short name in legends and tables
    summary: pd.DataFrame  # summary_table rows of every folder (what `gcbench table` prints)
    curves: pd.DataFrame  # the sweep rows of the summary: one per (dataset, series, setting)
    per_image: pd.DataFrame  # per-image rows of the sweep settings, with series
    sets: pd.DataFrame  # set-metric rows (FID, KID, …) with series


def folder_labels(folders: list[Path]) -> dict[Path, str]:
    """Short distinct names: the folder name, with parents added until the names differ."""
    labels: dict[Path, str] = {}
    depth = 1
    while True:
        names = {f: "/".join(f.resolve().parts[-depth:]) for f in folders}
        if len(set(names.values())) == len(folders) or depth > 8:
            labels.update(names)
            return labels
        depth += 1


def sweep_settings(folder: str | Path) -> set[tuple[str, str]] | None:
    """(codec, setting text) pairs the runs of a folder swept; None when no run targeted a rate."""
    from gcbench.results.store import ResultStore

    with ResultStore(folder, create=False) as store:
        runs = store.runs()
    if not any(r.config.target_bpp for r in runs):
        return None
    return set().union(*(r.config.swept() for r in runs))


def _keep_sweep(df: pd.DataFrame, pairs: set[tuple[str, str]] | None) -> pd.DataFrame:
    if pairs is None or df.empty:
        return df
    mask = [(c, s) in pairs for c, s in zip(df["codec"], df["setting"], strict=True)]
    return df[mask]


def load_results(sources: str | Path | list[str | Path], *, psnr_cap: float | None = None) -> Results:
    """The results of one or several folders, as curves (``psnr_cap``: add ``psnr_capped``, see views)."""
    import pandas as pd

    from gcbench.results.views import per_image, set_table, summary_table

    folders = [Path(s) for s in ([sources] if isinstance(sources, (str, Path)) else sources)]
    if not folders:
        raise ConfigError("no results folder given")
    if len({f.resolve() for f in folders}) != len(folders):
        raise ConfigError("a results folder is given twice")
    labels = folder_labels(folders)
    many = len(folders) > 1
    summaries, curves, images, sets = [], [], [], []
    for folder in folders:
        label = labels[folder]

        def tag(df: pd.DataFrame, label: str = label) -> pd.DataFrame:
            df = df.copy()
            df.insert(0, "run", label)
            df["series"] = [f"{c} ({label})" if many else str(c) for c in df["codec"]] if len(df) else []
            return df

        pairs = sweep_settings(folder)
        summary = summary_table(folder, psnr_cap=psnr_cap)
        summaries.append(tag(summary))
        curve = _keep_sweep(summary, pairs)
        if "n_images" in curve.columns:
            curve = curve[curve["n_images"] > 0]
        curves.append(tag(curve))
        images.append(tag(_keep_sweep(per_image(folder, psnr_cap=psnr_cap), pairs)))
        sets.append(tag(set_table(folder)))

    def cat(frames: list[pd.DataFrame]) -> pd.DataFrame:
        frames = [f for f in frames if not f.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["run", "dataset", "codec", "setting", "series"])

    return Results(folders, labels, cat(summaries), cat(curves), cat(images), cat(sets))


def column_owners() -> dict[str, Any]:
    """Declared column name → the class of the metric that writes it (for kinds and flag columns)."""
    from gcbench.metrics.registry import all_metric_names, metrics

    out: dict[str, Any] = {}
    for name in all_metric_names():  # prefix-family members (pyiqa:NAME) included
        try:
            cls = metrics.get(name)
        except Exception:  # noqa: BLE001, S112 - a broken plugin must not break tables
            continue
        for col in cls.columns:
            out.setdefault(col.name, (name, cls))
    return out


def flags_column(column: str) -> str | None:
    """The summary column holding the warning flags of a set metric's value column."""
    owner = column_owners().get(column)
    if owner is None or owner[1].kind not in ("set", "task"):
        return None
    return f"{owner[0].replace('-', '_')}_flags"


def metric_kind(column: str) -> str | None:
    """The kind (pair, noref, set, task) of the metric that writes ``column``; None when no metric declares it."""
    owner = column_owners().get(column)
    return None if owner is None else str(owner[1].kind)
