"""Rate–distortion–perception plots.

- :func:`plot_rd`: bpp against every metric column the results hold, one panel each; several
  result folders on one figure; published reference curves overlaid; set-metric values whose
  computation raised a warning flag (too few patches for a comparable FID, …) drawn hollow
  with the flag written under the panel.
- :func:`plot_per_image`: every image's (bpp, value) point with the mean curve on top.
- :func:`plot_distortion_perception`: one metric against another at equal rate (e.g. PSNR
  against FID), each codec's curve interpolated at common bpp values.

Axis direction comes from each column's declaration (``Column.higher_is_better``): a
lower-is-better axis is inverted, so "better" is always up (and right). Columns no metric
declares are not drawn: their direction is unknown; nor, unless asked for, columns declared
``axis=False`` (KID's spread, NIQE of the original). The rate axis is ``bpp`` or
``bpp_payload`` (``rate=``). A point whose value is infinite (a lossless image's PSNR) cannot
be drawn: a note under the panel names it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from gcbench.analysis.references import ReferenceCurve

DEFAULT_COLUMNS = ("psnr", "ms_ssim_db")
_NOT_METRICS = ("bpp", "setting_value", "encode_s", "decode_s")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_columns(df: pd.DataFrame, columns: Sequence[str] | None = None) -> list[str]:
    """The metric columns to draw: those asked for, or every declared one the table holds.

    ``ms_ssim`` is left out by default when ``ms_ssim_db`` is present: the same numbers on a
    scale where the high-quality end is readable.
    """
    from gcbench.results.columns import axis_columns
    from gcbench.results.views import metric_columns

    if columns:
        return [c for c in columns if c in df.columns]
    available = [c for c in axis_columns(metric_columns(df)) if c not in _NOT_METRICS and df[c].notna().any()]
    default = [c for c in DEFAULT_COLUMNS if c in available]
    rest = [c for c in available if c not in default and not (c == "ms_ssim" and "ms_ssim_db" in available)]
    return default + rest


def _curves(source: Any, psnr_cap: float | None = None) -> pd.DataFrame:
    import pandas as pd

    from gcbench.results.curves import load_results

    if isinstance(source, pd.DataFrame):
        df = source
    else:
        df = load_results(source, psnr_cap=psnr_cap).curves
    if "series" not in df.columns:
        df = df.assign(series=df["codec"].astype(str))
    if "n_images" in df.columns:
        df = df[df["n_images"] > 0]
    return df


def series_colours(names: Sequence[str]) -> dict[str, Any]:
    """One colour per curve name, the same in every panel."""
    plt = _pyplot()
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def _label(df: pd.DataFrame, dataset: Any, series: Any) -> str:
    return str(series) if df["dataset"].nunique() <= 1 else f"{series} ({dataset})"


def _axis_title(col: str, ax: Any, *, y: bool = True) -> None:
    from gcbench.results.columns import declared_columns

    spec = declared_columns().get(col)
    text = spec.title if spec else col
    if y:
        ax.set_ylabel(text)
    else:
        ax.set_xlabel(text)
    if spec is not None and not spec.higher_is_better:
        (ax.invert_yaxis if y else ax.invert_xaxis)()


def _panel_title(col: str) -> str:
    from gcbench.results.columns import declared_columns

    spec = declared_columns().get(col)
    name = (spec.label or col) if spec else col
    if spec is None:
        return name
    return f"{name} ({'higher' if spec.higher_is_better else 'lower'} is better)"


def _grid(n: int, width: float = 5.0, height: float = 4.0) -> tuple[Any, list[Any]]:
    plt = _pyplot()
    ncols = min(n, 3)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows + 0.4), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]


def _save(fig: Any, out_stem: str | Path, formats: Sequence[str]) -> list[Path]:
    plt = _pyplot()
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = out_stem.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Date": None} if fmt in ("svg", "pdf") else None)
        written.append(path)
    plt.close(fig)
    return written


def _wrap(line: str, width: int) -> str:
    """Wrapped text that never separates a comparison from its number ("< 2048" stays whole)."""
    import re

    glued = re.sub(r"([<>≤≥=]) ", "\\1\u00a0", line)  # textwrap breaks at ASCII spaces only
    return textwrap.fill(glued, width).replace("\u00a0", " ")


def _note(ax: Any, lines: list[str]) -> None:
    if not lines:
        return
    text = "\n".join(_wrap(line, 70) for line in lines)
    ax.annotate(text, xy=(0, 0), xycoords="axes fraction", xytext=(0, -34), textcoords="offset points",
                va="top", ha="left", fontsize=7, color="#7a2a00")


def plot_rd(source: Any, out_stem: str | Path, columns: list[str] | None = None,
            formats: tuple[str, ...] = ("png", "svg"), title: str | None = None, *,
            references: Sequence[ReferenceCurve] = (), ci: pd.DataFrame | None = None, rate: str = "bpp",
            psnr_cap: float | None = None) -> list[Path]:
    """bpp against each metric column, one panel each, to ``out_stem.<format>``.

    ``source`` is a results folder, a list of folders (drawn together, each curve named
    ``codec (folder)``) or a summary-shaped DataFrame. ``ci`` (the long table of
    :func:`gcbench.analysis.bjontegaard.summary_ci`) adds error bars; ``references`` overlays published
    curves (:func:`gcbench.analysis.references.load_references`), named in a note under the figure.
    ``rate``: ``bpp`` or ``bpp_payload`` on the x axis; ``psnr_cap``: add ``psnr_capped``
    (each image's PSNR capped there, see :func:`gcbench.results.views.per_image`).
    """
    fig = rd_figure(source, columns, title, references=references, ci=ci, rate=rate, psnr_cap=psnr_cap)
    return [] if fig is None else _save(fig, out_stem, formats)


def rd_figure(source: Any, columns: list[str] | None = None, title: str | None = None, *,
              references: Sequence[ReferenceCurve] = (), ci: pd.DataFrame | None = None, rate: str = "bpp",
              psnr_cap: float | None = None) -> Any:
    """The figure :func:`plot_rd` saves (None when there is nothing to draw)."""
    from gcbench.results.columns import RATE_TITLES, check_rate

    check_rate(rate)
    df = _curves(source, psnr_cap)
    cols = plot_columns(df, columns)
    if df.empty or not cols or rate not in df.columns:
        return None
    colours = series_colours(list(dict.fromkeys(df["series"])))
    fig, axes = _grid(len(cols))
    for ax, col in zip(axes, cols, strict=True):
        _rd_panel(ax, df, col, rate, colours, ci)
        for ref in references:
            if col in ref.points.columns and rate in ref.points.columns:
                pts = ref.points.dropna(subset=[rate, col]).sort_values(rate)
                ax.plot(pts[rate], pts[col], linestyle=":", marker="x", markersize=4, linewidth=1.2,
                        color="#555555", label=f"{ref.name} [published]")
        ax.set_xlabel(RATE_TITLES[rate])
        _axis_title(col, ax)
        ax.set_title(_panel_title(col), fontsize=10)
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # a panel whose only points are infinite has no curve
            ax.legend(fontsize=7)
    if references:
        lines = [f"[published] {r.name}: {r.provenance}" for r in references]
        fig.text(0.01, -0.01, "\n".join(textwrap.fill(line, 160) for line in lines), fontsize=7, va="top")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _rd_panel(ax: Any, df: pd.DataFrame, col: str, rate: str, colours: dict[str, Any], ci: pd.DataFrame | None) -> None:
    """One metric's curves: flagged set-metric values hollow, infinite values named in a note."""
    import numpy as np

    from gcbench.results.curves import flags_column

    flag_col = flags_column(col)
    notes: list[str] = []
    for (dataset, name), g in df.groupby(["dataset", "series"], sort=False):
        g = g.dropna(subset=[rate, col]).sort_values(rate)
        infinite = g[np.isinf(g[col].to_numpy(dtype=float))]
        notes += [f"{name} @ {r.setting}: {col} infinite (lossless), not drawn" for r in infinite.itertuples()]
        g = g.drop(infinite.index)
        if g.empty:
            continue
        estimated = "bpp_kind" in g.columns and (g["bpp_kind"] == "estimated").any()
        label = _label(df, dataset, name) + (" [estimated bpp]" if estimated else "")
        colour = colours[name]
        ax.plot(g[rate], g[col], color=colour, linewidth=1.4, linestyle="--" if estimated else "-", label=label)
        flagged = (g[flag_col].fillna("").astype(str) != "") if flag_col and flag_col in g.columns else None
        if flagged is not None and flagged.any():
            ok = g[~flagged]
            bad = g[flagged]
            ax.plot(ok[rate], ok[col], "o", color=colour, markersize=4)
            ax.plot(bad[rate], bad[col], "o", markerfacecolor="white", markeredgecolor=colour, markersize=6)
            for text in dict.fromkeys(bad[flag_col].astype(str)):
                notes.append(f"hollow {name}: {text}")
        else:
            ax.plot(g[rate], g[col], "o", color=colour, markersize=4)
        if ci is not None and not ci.empty:
            _error_bars(ax, ci, dataset, name, g, col, colour, rate)
    _note(ax, sorted(set(notes)))


def _error_bars(ax: Any, ci: pd.DataFrame, dataset: Any, name: Any, g: pd.DataFrame, col: str, colour: Any,
                rate: str = "bpp") -> None:
    part = ci[(ci["dataset"] == dataset) & (ci["series"] == name) & (ci["column"] == col)]
    if part.empty:
        return
    merged = g[["setting", rate, col]].merge(part[["setting", "ci_lo", "ci_hi"]], on="setting", how="inner")
    merged = merged.dropna(subset=["ci_lo", "ci_hi"])
    if merged.empty:
        return
    lower = (merged[col] - merged["ci_lo"]).clip(lower=0)
    upper = (merged["ci_hi"] - merged[col]).clip(lower=0)
    ax.errorbar(merged[rate], merged[col], yerr=[lower, upper], fmt="none", ecolor=colour, elinewidth=0.8,
                capsize=2, alpha=0.8)


def plot_per_image(source: Any, out_stem: str | Path, columns: list[str] | None = None,
                   formats: tuple[str, ...] = ("png", "svg"), *, curves: pd.DataFrame | None = None,
                   rate: str = "bpp") -> list[Path]:
    """Each image's (rate, value) as a faint point, the mean curve of each codec on top."""
    fig = per_image_figure(source, columns, curves=curves, rate=rate)
    return [] if fig is None else _save(fig, out_stem, formats)


def per_image_figure(source: Any, columns: list[str] | None = None, *, curves: pd.DataFrame | None = None,
                     rate: str = "bpp") -> Any:
    """The figure :func:`plot_per_image` saves (None when there is nothing to draw)."""
    import pandas as pd

    from gcbench.results.columns import RATE_TITLES, check_rate
    from gcbench.results.curves import load_results

    check_rate(rate)
    if isinstance(source, pd.DataFrame):
        rows = source
    else:
        results = load_results(source)
        rows, curves = results.per_image, results.curves if curves is None else curves
    if "series" not in rows.columns:
        rows = rows.assign(series=rows["codec"].astype(str))
    rows = rows[rows["status"] == "ok"] if "status" in rows.columns else rows
    cols = plot_columns(rows, columns)
    if rows.empty or not cols:
        return None
    if curves is None:
        from gcbench.results.views import summary

        curves = summary(rows).assign(series=lambda d: d["codec"].astype(str))
    series = list(dict.fromkeys(rows["series"]))
    colours = series_colours(series)
    fig, axes = _grid(len(cols))
    for ax, col in zip(axes, cols, strict=True):
        for (dataset, name), g in rows.groupby(["dataset", "series"], sort=False):
            g = g.dropna(subset=[rate, col])
            colour = colours[name]
            ax.scatter(g[rate], g[col], s=9, color=colour, alpha=0.45, linewidths=0)
            mean = curves[(curves["dataset"] == dataset) & (curves["series"] == name)]
            if col in mean.columns:
                mean = mean.dropna(subset=[rate, col]).sort_values(rate)
                ax.plot(mean[rate], mean[col], "-o", color=colour, markersize=3.5, linewidth=1.6,
                        label=f"{_label(rows, dataset, name)} (mean of {g['image'].nunique()} images)")
        ax.set_xlabel(RATE_TITLES[rate])
        _axis_title(col, ax)
        ax.set_title(f"{_panel_title(col)}: per image", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def equal_rate_points(curves: pd.DataFrame, x: str, y: str, rates: Sequence[float] | None = None,
                      n_rates: int = 3) -> tuple[pd.DataFrame, list[float]]:
    """Each curve's (x, y) at common bpp values, by PCHIP in log-bpp within the curve's own range.

    Without ``rates``, ``n_rates`` values spaced evenly in log-bpp over the range every curve
    covers. Returns rows (dataset, series, bpp, x, y) and the rates used.
    """
    import numpy as np
    import pandas as pd

    from gcbench.analysis.interpolation import evaluate

    groups = [(k, g.dropna(subset=["bpp", x, y]).sort_values("bpp"))
              for k, g in curves.groupby(["dataset", "series"], sort=False)]
    groups = [(k, g) for k, g in groups if len(g) >= 2 and g["bpp"].nunique() == len(g)]
    if rates is None:
        if not groups:
            return pd.DataFrame(columns=["dataset", "series", "bpp", x, y]), []
        lo = max(g["bpp"].min() for _, g in groups)
        hi = min(g["bpp"].max() for _, g in groups)
        if not hi > lo:
            return pd.DataFrame(columns=["dataset", "series", "bpp", x, y]), []
        edges = np.geomspace(lo, hi, n_rates + 2)[1:-1]
        rates = [float(f"{r:.3g}") for r in edges]
    rows = []
    for (dataset, name), g in groups:
        lb = np.log10(g["bpp"].to_numpy(dtype=float))
        xs, ys = g[x].to_numpy(dtype=float), g[y].to_numpy(dtype=float)
        for r in rates:
            t = np.log10(r)
            if lb[0] <= t <= lb[-1]:
                rows.append({"dataset": dataset, "series": name, "bpp": r,
                             x: float(evaluate(lb, xs, t, "pchip")[0]), y: float(evaluate(lb, ys, t, "pchip")[0])})
    return pd.DataFrame(rows, columns=["dataset", "series", "bpp", x, y]), list(rates)


def plot_distortion_perception(source: Any, out_stem: str | Path, x: str, y: str,
                               rates: Sequence[float] | None = None,
                               formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """The distortion–perception plane: ``x`` against ``y``, codecs compared at equal rate."""
    fig = distortion_perception_figure(source, x, y, rates)
    return [] if fig is None else _save(fig, out_stem, formats)


def distortion_perception_figure(source: Any, x: str, y: str, rates: Sequence[float] | None = None) -> Any:
    """The figure :func:`plot_distortion_perception` saves (None when there is nothing to draw)."""
    from gcbench.results.curves import flags_column

    df = _curves(source)
    for col in (x, y):
        if col not in df.columns:
            return None
    points, used = equal_rate_points(df, x, y, rates)
    if points.empty:
        return None
    plt = _pyplot()
    series = list(dict.fromkeys(df["series"]))
    colours = series_colours(series)
    markers = ["o", "s", "^", "D", "v", "P", "*", "X"]
    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    for (dataset, name), g in df.groupby(["dataset", "series"], sort=False):
        g = g.dropna(subset=["bpp", x, y]).sort_values("bpp")
        ax.plot(g[x], g[y], color=colours[name], alpha=0.35, linewidth=1.0)
    for i, r in enumerate(used):
        at = points[points["bpp"] == r]
        for _, row in at.iterrows():
            ax.plot(row[x], row[y], markers[i % len(markers)], color=colours[row["series"]], markersize=7)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colours[s], linewidth=2, label=_label(df, None, s)) for s in series
               if s in set(points["series"])]
    handles += [Line2D([], [], color="black", marker=markers[i % len(markers)], linestyle="none", label=f"{r:g} bpp")
                for i, r in enumerate(used)]
    ax.legend(handles=handles, fontsize=7)
    _axis_title(x, ax, y=False)
    _axis_title(y, ax, y=True)
    notes = []
    for col in (x, y):
        fc = flags_column(col)
        if fc and fc in df.columns and (df[fc].fillna("").astype(str) != "").any():
            notes.append(f"{col}: some values carry warning flags (see the RD plot and the summary table)")
    ax.set_title(f"{_panel_title(x)} vs {_panel_title(y)}\nat equal rate (PCHIP in log bpp); faint lines: sweep",
                 fontsize=9)
    ax.grid(True, alpha=0.3)
    _note(ax, notes)
    fig.tight_layout()
    return fig
