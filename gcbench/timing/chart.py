"""The bar chart and the table exports of a timing folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.core.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

from gcbench.timing.common import CHART_STEM, DIRECTIONS, SUMMARY_FILE, TABLE_STEM
from gcbench.timing.storage import _atomic_write
from gcbench.timing.tables import render, timing_table

# ---------------------------------------------------------------------------------------------
# Bar chart and exports
# ---------------------------------------------------------------------------------------------

def plot_timing(summary: pd.DataFrame, out_stem: str | Path, *, per: str = "image",
                formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Grouped bars: one group per (codec, setting), one bar per machine; whiskers = quartiles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from gcbench.results.views import sort_rows

    if per not in ("image", "mp"):
        raise ConfigError(f"per must be image or mp, got {per!r}")
    suffix, unit = ("", "ms per image") if per == "image" else ("_per_mp", "ms per megapixel")
    ordered = sort_rows(summary, ["dataset", "codec", "setting_value", "setting"])
    several = ordered["dataset"].nunique() > 1

    def label(r: Any) -> str:
        return f"{r.codec} {r.setting}" + (f" ({r.dataset})" if several else "")

    labels = list(dict.fromkeys(label(r) for r in ordered.itertuples()))
    machines = list(dict.fromkeys(summary["hw_name"].astype(str)))
    fig, axes = plt.subplots(1, 2, figsize=(max(6.0, 0.55 * len(labels) * max(1, len(machines)) + 3), 4.2),
                             squeeze=False)
    width = 0.8 / max(1, len(machines))
    x = np.arange(len(labels))
    for ax, d in zip(axes[0], DIRECTIONS, strict=True):
        stem = f"{d}_ms{suffix}"
        values = []
        for j, mach in enumerate(machines):
            g = ordered[ordered["hw_name"].astype(str) == mach]
            lookup = {label(r): r for r in g.itertuples()}
            med = np.array([getattr(lookup[lab], f"{stem}_median") if lab in lookup else np.nan for lab in labels])
            lo = np.array([getattr(lookup[lab], f"{stem}_q25") if lab in lookup else np.nan for lab in labels])
            hi = np.array([getattr(lookup[lab], f"{stem}_q75") if lab in lookup else np.nan for lab in labels])
            values.append(med)
            ax.bar(x + (j - (len(machines) - 1) / 2) * width, med, width, label=mach,
                   yerr=np.vstack([med - lo, hi - med]).tolist(), capsize=2)  # lists: matplotlib warns on a 2×1 array
        finite = np.concatenate(values)
        finite = finite[np.isfinite(finite) & (finite > 0)]
        if finite.size and finite.max() / finite.min() > 50:
            ax.set_yscale("log")
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel(f"{d} time ({unit})")
        ax.set_title(f"{d.capitalize()}: median, whiskers = quartiles", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = out_stem.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=130)
        written.append(path)
    plt.close(fig)
    return written


def write_exports(summary: pd.DataFrame, out: str | Path, *, per: str = "both", stages: bool = True) -> list[Path]:
    """Summary CSV, the table as Markdown, LaTeX and CSV, and the bar chart (PNG, SVG) in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / SUMMARY_FILE]
    _atomic_write(written[0], summary.to_csv(index=False))
    table = timing_table(summary, per=per, stages=stages)
    for fmt in ("md", "tex", "csv"):
        path = out / f"{TABLE_STEM}.{fmt}"
        _atomic_write(path, render(table, fmt))
        written.append(path)
    written += plot_timing(summary, out / CHART_STEM)
    return written
