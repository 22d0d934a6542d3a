"""Published against measured, point by point: the table ``gcbench reproduce`` prints.

Measured values are the run's summary (means of per-image values, set metrics per setting),
with ``ms_ssim_db`` taken of the MEAN MS-SSIM, as the sources publish it. Published point i of a
curve (sorted by bpp) pairs with the recipe's i-th setting.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from gcbench.recipes.model import Recipe

COLUMNS = ["codec", "setting", "column", "measured_as", "published", "measured", "delta", "delta_pct", "tolerance",
           "held", "why"]


def measured_curves(summary: pd.DataFrame, recipe: Recipe | None = None) -> pd.DataFrame:
    """The run's summary with ``ms_ssim_db`` of the mean MS-SSIM (the published curves' convention)
    and, for each codec of ``recipe`` compared on another rate column, that column as ``bpp``."""
    from gcbench.metrics.pixel import to_db

    out = summary.copy()
    if "ms_ssim" in out.columns:
        out["ms_ssim_db"] = out["ms_ssim"].map(lambda v: to_db(v) if math.isfinite(v) else math.nan)
    for entry in recipe.codecs if recipe is not None else ():
        if entry.rate != "bpp" and entry.rate in out.columns:
            rows = out["codec"] == entry.codec
            out.loc[rows, "bpp"] = out.loc[rows, entry.rate]
    return out


def comparison_table(recipe: Recipe, summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (codec, setting, compared column): published, measured, delta, tolerance, held."""
    import pandas as pd

    from gcbench.analysis.references import load_references
    from gcbench.core.settings import format_setting

    measured = measured_curves(summary)
    rows = []
    for entry in recipe.codecs:
        (curve,) = load_references(entry.reference)
        mine = measured[measured["codec"] == entry.codec].set_index("setting")
        for i, setting in enumerate(entry.settings):
            text = format_setting(setting)
            for tol in entry.tolerances:
                published = float(curve.points[tol.column].iloc[i])
                column = entry.rate if tol.column == "bpp" else tol.column
                value = mine.at[text, column] if text in mine.index and column in mine.columns else math.nan
                value = float(value) if value is not None else math.nan
                delta = value - published
                rows.append({"codec": entry.codec, "setting": text, "column": tol.column, "measured_as": column,
                             "published": published,
                             "measured": value, "delta": delta,
                             "delta_pct": 100.0 * delta / published if published else math.nan,
                             "tolerance": tol.describe(), "held": tol.holds(published, value), "why": tol.why})
    return pd.DataFrame(rows, columns=COLUMNS)


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison with every digit a reader needs: values to 10 significant digits, deltas to 3."""
    out = table.drop(columns=["why"]).copy()
    for col in ("published", "measured"):
        out[col] = out[col].map(lambda v: f"{v:.10g}")
    for col in ("delta", "delta_pct"):
        out[col] = out[col].map(lambda v: f"{v:+.3g}")
    out["held"] = out["held"].map(lambda v: "yes" if v else "NO")
    return out


def summary_lines(table: pd.DataFrame) -> list[str]:
    """Per codec and column: how many points held and the largest deviation."""
    lines = []
    for (codec, column), g in table.groupby(["codec", "column"], sort=False):
        worst = g.loc[g["delta"].abs().idxmax()] if g["delta"].notna().any() else None
        extent = (f"largest delta {worst['delta']:+.6g} ({worst['delta_pct']:+.3g} %) at {worst['setting']}"
                  if worst is not None else "nothing measured")
        lines.append(f"{codec} {column}: {int(g['held'].sum())}/{len(g)} points within {g['tolerance'].iloc[0]}; "
                     f"{extent}")
    return lines
