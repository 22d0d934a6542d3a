"""Rate–distortion plots: bpp against each metric column, one curve per codec.

Axis direction comes from each column's declaration: a lower-is-better column is drawn with
its axis inverted, so "better" is always up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_COLUMNS = ("psnr", "ms_ssim_db")


def _columns_to_plot(df: pd.DataFrame, columns: list[str] | None) -> list[str]:
    from .views import metric_columns

    available = [c for c in metric_columns(df) if c not in ("bpp", "setting_value", "encode_s", "decode_s")]
    if columns:
        return [c for c in columns if c in df.columns]
    default = [c for c in DEFAULT_COLUMNS if c in available]
    return default + [c for c in available if c not in default and c != "ms_ssim"]


def plot_rd(source: Any, out_stem: str | Path, columns: list[str] | None = None,
            formats: tuple[str, ...] = ("png", "svg"), title: str | None = None) -> list[Path]:
    """Draw the RD plot of a results folder (or a summary DataFrame) to ``out_stem.{png,svg}``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from .metrics.base import column_index
    from .views import summary_table

    df = source if isinstance(source, pd.DataFrame) else summary_table(source)
    df = df[df["n_images"] > 0] if "n_images" in df.columns else df
    cols = _columns_to_plot(df, columns)
    if not cols:
        return []
    decl = column_index()
    n = len(cols)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.2), squeeze=False)
    for ax, col in zip(axes[0], cols, strict=True):
        spec = decl.get(col)
        for (dataset, codec), g in df.groupby(["dataset", "codec"], sort=True):
            g = g.dropna(subset=["bpp", col]).sort_values("bpp")
            if g.empty:
                continue
            estimated = (g.get("bpp_kind") == "estimated").any() if "bpp_kind" in g else False
            label = codec if df["dataset"].nunique() == 1 else f"{codec} ({dataset})"
            ax.plot(g["bpp"], g[col], marker="o", markersize=3.5, linewidth=1.4,
                    linestyle="--" if estimated else "-", label=label + (" [estimated bpp]" if estimated else ""))
        ax.set_xlabel("bits per pixel (bpp)")
        ax.set_ylabel(spec.title if spec else col)
        if spec is not None and not spec.higher_is_better:
            ax.invert_yaxis()
            ax.set_title(f"{spec.label or col} (lower is better)", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
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
