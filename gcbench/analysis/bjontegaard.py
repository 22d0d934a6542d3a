"""Bjøntegaard deltas and bootstrap confidence intervals.

BD-rate is the average difference of log-rate between two rate–quality curves over the
range of quality values both curves cover, expressed in percent: −10 means the test codec
needs 10 % fewer bits than the anchor for the same quality. BD-metric is the average
difference of the quality value over the log-rate range both cover, in the metric's units.

Interpolation (``method``):

- ``pchip``: piecewise cubic Hermite (Fritsch–Carlson), what the JCT-VC/JVET common test
  conditions spreadsheet uses;
- ``akima``: Akima's spline (Herglotz et al. 2022 found it closer to measured curves);
  with two points both fall back to a straight line;
- ``cubic``: the single cubic polynomial of VCEG-M33 (Bjøntegaard 2001), for comparison only.

Each result carries the range it was computed over, the number of points of each curve,
the overlap as a fraction of the union of both ranges and warnings (small overlap,
non-monotonic curve, too few points). A metric's direction comes from its ``Column``
declaration (``higher_is_better``), never from its name: it decides which way a curve must
move to be monotonic and the sign of ``bd_gain`` (positive = the test codec is better).
BD-rate itself needs no sign change: fewer bits for the same quality is better either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from gcbench.analysis import interpolation
from gcbench.core.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

METHODS = ("pchip", "akima", "cubic")
DEFAULT_METHODS = ("pchip", "akima")
MIN_OVERLAP = 0.75  # as a fraction of the union of both ranges (the bjontegaard package's default)
MIN_POINTS = 4  # the common test conditions use four rate points


@dataclass
class BDResult:
    """One Bjøntegaard delta and everything needed to judge it."""

    kind: str  # "rate" (percent) or "metric" (the metric's units, test − anchor)
    method: str
    value: float
    range_lo: float  # integration range: metric values for BD-rate, bpp for BD-metric
    range_hi: float
    overlap: float  # fraction of the union of the two ranges
    n_anchor: int
    n_test: int
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Polynomial:
    """VCEG-M33's fit: one least-squares cubic over all points (degree n−1 with fewer)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        degree = min(3, len(x) - 1)
        self.coef = np.polyfit(x, y, degree)
        self.integral = np.polyint(self.coef)

    def integrate(self, a: float, b: float) -> float:
        return float(np.polyval(self.integral, b) - np.polyval(self.integral, a))


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ConfigError(f"unknown interpolation {method!r}; choose one of {', '.join(METHODS)}")


def _mean_difference(xa: np.ndarray, ya: np.ndarray, xt: np.ndarray, yt: np.ndarray, method: str) -> np.ndarray:
    """Per row, the mean of (test − anchor) of y over the x range both cover (NaN: none).

    Rows (B × n arrays) must have strictly increasing, finite x.
    """
    lo = np.maximum(xa[:, 0], xt[:, 0])
    hi = np.minimum(xa[:, -1], xt[:, -1])
    out = np.full(xa.shape[0], np.nan)
    ok = hi > lo
    if not ok.any():
        return out
    if method == "cubic":
        for i in np.flatnonzero(ok):
            fa, ft = _Polynomial(xa[i], ya[i]), _Polynomial(xt[i], yt[i])
            out[i] = (ft.integrate(lo[i], hi[i]) - fa.integrate(lo[i], hi[i])) / (hi[i] - lo[i])
        return out
    ia = interpolation.integrate(xa[ok], ya[ok], lo[ok], hi[ok], method)
    it = interpolation.integrate(xt[ok], yt[ok], lo[ok], hi[ok], method)
    out[ok] = (it - ia) / (hi[ok] - lo[ok])
    return out


def _clean(rate: Sequence[float], value: Sequence[float], what: str) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rate, dtype=float)
    v = np.asarray(value, dtype=float)
    if r.shape != v.shape or r.ndim != 1:
        raise ConfigError(f"{what}: rate and metric need the same number of points")
    keep = np.isfinite(r) & np.isfinite(v) & (r > 0)
    return r[keep], v[keep]


def _monotonic_warning(rate: np.ndarray, value: np.ndarray, higher_is_better: bool, what: str) -> str | None:
    order = np.argsort(rate, kind="stable")
    steps = np.diff(value[order]) * (1.0 if higher_is_better else -1.0)
    rates = rate[order]
    if np.any(np.diff(rates) == 0):
        return f"{what} has two points at the same rate"
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        where = ", ".join(f"{rates[i]:.4g}→{rates[i + 1]:.4g} bpp" for i in bad[:3])
        return f"{what} is not monotonic: quality does not improve with rate at {where}"
    return None


def _strict_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort by x; points sharing an x are averaged (interpolation needs strictly increasing x)."""
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    ux, inverse = np.unique(x, return_inverse=True)
    if len(ux) == len(x):
        return x, y
    sums = np.zeros(len(ux))
    np.add.at(sums, inverse, y)
    return ux, sums / np.bincount(inverse)


def _delta(x_a: np.ndarray, y_a: np.ndarray, x_t: np.ndarray, y_t: np.ndarray, method: str,
           min_overlap: float) -> tuple[float, float, float, float, list[str]]:
    """Mean of (test − anchor) of y over the common x range: (value, lo, hi, overlap, warnings)."""
    warnings: list[str] = []
    lo, hi = max(x_a.min(), x_t.min()), min(x_a.max(), x_t.max())
    union = max(x_a.max(), x_t.max()) - min(x_a.min(), x_t.min())
    overlap = max(hi - lo, 0.0) / union if union > 0 else 0.0
    if not hi > lo:
        return math.nan, float(lo), float(hi), 0.0, ["the curves do not overlap: no BD value"]
    if overlap < min_overlap:
        warnings.append(f"small overlap: {overlap:.0%} of the combined range (want ≥ {min_overlap:.0%})")
    xa, ya = _strict_xy(x_a, y_a)
    xt, yt = _strict_xy(x_t, y_t)
    if len(xa) < 2 or len(xt) < 2:
        return math.nan, float(lo), float(hi), overlap, warnings + ["a curve has fewer than 2 distinct points"]
    value = float(_mean_difference(xa[None], ya[None], xt[None], yt[None], method)[0])
    return value, float(lo), float(hi), overlap, warnings


def _common_checks(r_a: np.ndarray, v_a: np.ndarray, r_t: np.ndarray, v_t: np.ndarray,
                   higher_is_better: bool) -> list[str]:
    warnings = []
    for r, v, what in ((r_a, v_a, "anchor curve"), (r_t, v_t, "test curve")):
        if len(r) < MIN_POINTS:
            warnings.append(f"{what} has {len(r)} points (BD values are usually computed from at least {MIN_POINTS})")
        w = _monotonic_warning(r, v, higher_is_better, what)
        if w:
            warnings.append(w)
    return warnings


def _curves(kind: str, method: str, rate_anchor: Sequence[float], metric_anchor: Sequence[float],
            rate_test: Sequence[float], metric_test: Sequence[float], higher_is_better: bool
            ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], list[str], BDResult | None]:
    """Both curves cleaned and checked: (anchor rate, anchor metric, test rate, test metric), the
    warnings, and the empty result to return when a curve has fewer than 2 points (else None)."""
    _check_method(method)
    r_a, v_a = _clean(rate_anchor, metric_anchor, "anchor")
    r_t, v_t = _clean(rate_test, metric_test, "test")
    warnings = _common_checks(r_a, v_a, r_t, v_t, higher_is_better)
    too_few = None
    if len(r_a) < 2 or len(r_t) < 2:
        too_few = BDResult(kind, method, math.nan, math.nan, math.nan, 0.0, len(r_a), len(r_t),
                           warnings + ["a curve has fewer than 2 points: no BD value"])
    return (r_a, v_a, r_t, v_t), warnings, too_few


def bd_rate(rate_anchor: Sequence[float], metric_anchor: Sequence[float], rate_test: Sequence[float],
            metric_test: Sequence[float], *, method: str = "pchip", higher_is_better: bool = True,
            min_overlap: float = MIN_OVERLAP) -> BDResult:
    """BD-rate in percent of the test curve against the anchor (negative: the test needs fewer bits)."""
    (r_a, v_a, r_t, v_t), warnings, too_few = _curves("rate", method, rate_anchor, metric_anchor, rate_test,
                                                      metric_test, higher_is_better)
    if too_few is not None:
        return too_few
    mean_log, lo, hi, overlap, more = _delta(v_a, np.log10(r_a), v_t, np.log10(r_t), method, min_overlap)
    value = (10.0 ** mean_log - 1.0) * 100.0 if math.isfinite(mean_log) else math.nan
    return BDResult("rate", method, value, lo, hi, overlap, len(r_a), len(r_t), warnings + more)


def bd_metric(rate_anchor: Sequence[float], metric_anchor: Sequence[float], rate_test: Sequence[float],
              metric_test: Sequence[float], *, method: str = "pchip", higher_is_better: bool = True,
              min_overlap: float = MIN_OVERLAP) -> BDResult:
    """Mean metric difference (test − anchor) at equal rate, over the common log-rate range.

    The range is reported in bpp. The value keeps the metric's own sign convention; see
    :func:`gain` for the direction-free form.
    """
    (r_a, v_a, r_t, v_t), warnings, too_few = _curves("metric", method, rate_anchor, metric_anchor, rate_test,
                                                      metric_test, higher_is_better)
    if too_few is not None:
        return too_few
    value, lo, hi, overlap, more = _delta(np.log10(r_a), v_a, np.log10(r_t), v_t, method, min_overlap)
    return BDResult("metric", method, value, 10.0 ** lo, 10.0 ** hi, overlap, len(r_a), len(r_t), warnings + more)


def gain(bd_metric_value: float, higher_is_better: bool) -> float:
    """A BD-metric turned so that positive always means the test codec is better."""
    return bd_metric_value if higher_is_better else -bd_metric_value


def _bd_values(r_a: np.ndarray, v_a: np.ndarray, r_t: np.ndarray, v_t: np.ndarray, method: str) -> tuple[float, float]:
    """(BD-rate, BD-metric) as :func:`bd_rate` and :func:`bd_metric` compute them, without the
    checks and warnings (the bootstrap calls this thousands of times)."""
    keep_a = np.isfinite(r_a) & np.isfinite(v_a) & (r_a > 0)
    keep_t = np.isfinite(r_t) & np.isfinite(v_t) & (r_t > 0)
    if keep_a.sum() < 2 or keep_t.sum() < 2:
        return math.nan, math.nan
    la, lt = np.log10(r_a[keep_a]), np.log10(r_t[keep_t])
    va, vt = v_a[keep_a], v_t[keep_t]
    mean_log = _delta(va, la, vt, lt, method, 0.0)[0]
    rate = (10.0 ** mean_log - 1.0) * 100.0 if math.isfinite(mean_log) else math.nan
    return rate, _delta(la, va, lt, vt, method, 0.0)[0]


def _sorted_rows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by x, and which rows the batch path can take (finite, strictly increasing x)."""
    order = np.argsort(x, axis=1, kind="stable")
    xs, ys = np.take_along_axis(x, order, 1), np.take_along_axis(y, order, 1)
    good = np.isfinite(xs).all(axis=1) & np.isfinite(ys).all(axis=1) & (np.diff(xs, axis=1) > 0).all(axis=1)
    return xs, ys, good


def _bd_batch(r_a: np.ndarray, v_a: np.ndarray, r_t: np.ndarray, v_t: np.ndarray, method: str
              ) -> tuple[np.ndarray, np.ndarray]:
    """(BD-rate, BD-metric) for B curve pairs at once (rows of B × n arrays).

    Rows with a missing value or a tie go through the one-curve path, which drops missing
    points and averages ties, as :func:`bd_rate` does.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        la, lt = np.log10(r_a), np.log10(r_t)
    rates = np.full(r_a.shape[0], np.nan)
    metrics = np.full(r_a.shape[0], np.nan)
    # BD-rate: log-rate as a function of the metric; BD-metric: the metric as a function of log-rate
    xa, ya, good_a = _sorted_rows(v_a, la)
    xt, yt, good_t = _sorted_rows(v_t, lt)
    good_rate = good_a & good_t
    if good_rate.any():
        rates[good_rate] = (10.0 ** _mean_difference(xa[good_rate], ya[good_rate], xt[good_rate], yt[good_rate],
                                                      method) - 1.0) * 100.0
    xa, ya, good_a = _sorted_rows(la, v_a)
    xt, yt, good_t = _sorted_rows(lt, v_t)
    good_metric = good_a & good_t
    if good_metric.any():
        metrics[good_metric] = _mean_difference(xa[good_metric], ya[good_metric], xt[good_metric], yt[good_metric],
                                                method)
    for i in np.flatnonzero(~(good_rate & good_metric)):
        rate, metric = _bd_values(r_a[i], v_a[i], r_t[i], v_t[i], method)
        if not good_rate[i]:
            rates[i] = rate
        if not good_metric[i]:
            metrics[i] = metric
    return rates, metrics


# -- bootstrap over images ---------------------------------------------------------------------

def resample_weights(n_items: int, n_boot: int, seed: int) -> np.ndarray:
    """``n_boot`` × ``n_items`` counts: how often each item is drawn in each bootstrap replicate."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_items, size=(n_boot, n_items))
    weights = np.zeros((n_boot, n_items))
    rows = np.repeat(np.arange(n_boot), n_items)
    np.add.at(weights, (rows, draws.ravel()), 1.0)
    return weights


def weighted_means(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Means of ``values`` (items × k, NaN = missing) under each replicate's weights → n_boot × k."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    present = np.isfinite(values)
    filled = np.where(present, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weights @ filled) / (weights @ present.astype(float))


def percentile_ci(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval of bootstrap ``samples`` at ``confidence`` (NaN with fewer than 2 finite ones)."""
    samples = np.asarray(samples, dtype=float)
    samples = samples[np.isfinite(samples)]
    if samples.size < 2:
        return math.nan, math.nan
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(samples, [tail, 100.0 - tail])
    return float(lo), float(hi)


# -- tables ----------------------------------------------------------------------------------

def curve_columns(curves: pd.DataFrame) -> list[str]:
    """Quality-axis columns of a curve table: declared by a metric (or derived, ``psnr_capped``)
    and not marked ``axis=False`` (a spread such as ``kid_std`` is no quality axis)."""
    from gcbench.results.columns import axis_columns
    from gcbench.results.views import metric_columns

    cols = [c for c in metric_columns(curves) if c not in ("bpp", "setting_value", "encode_s", "decode_s")]
    return axis_columns(cols)


def _image_matrix(per_image: pd.DataFrame, keys: list[tuple[Any, ...]], images: list[str], column: str,
                  group: str) -> np.ndarray:
    """images × settings matrix of one column for one (dataset, series) curve (NaN where missing)."""
    index = {name: i for i, name in enumerate(images)}
    out = np.full((len(images), len(keys)), np.nan)
    for j, setting in enumerate(keys):
        rows = per_image[per_image["setting"] == setting]
        for name, value in zip(rows["image"], rows[column], strict=True):
            if name in index and value is not None and np.isfinite(value):
                out[index[name], j] = value
    return out


def bd_table(curves: pd.DataFrame, anchor: str, *, per_image: pd.DataFrame | None = None,
             columns: Sequence[str] | None = None, methods: Sequence[str] = DEFAULT_METHODS,
             bootstrap: int = 0, seed: int = 0, confidence: float = 0.95,
             min_overlap: float = MIN_OVERLAP, group: str = "series", rate: str = "bpp") -> pd.DataFrame:
    """BD-rate and BD-metric of every curve against ``anchor``, per dataset, metric and method.

    ``curves`` has one row per (dataset, ``group``, setting) with mean ``bpp`` and metric
    columns (the summary table, with a ``series`` column naming each curve). With
    ``per_image`` rows (same keys plus ``image``) and ``bootstrap`` > 0, images are drawn with
    replacement ``bootstrap`` times — the same draw for every curve of a dataset, so the
    comparison stays paired — and each replicate's BD value gives the confidence interval.
    Set metrics have no per-image values and get no interval. ``rate`` is the rate column
    (``bpp``, or ``bpp_payload``: the entropy-coded strings only). A point whose rate or value is
    not finite (a lossless image makes a mean PSNR infinite) cannot be on a curve: it is left out
    and named in the row's warnings.
    """
    import pandas as pd

    from gcbench.results.columns import check_rate, declared_columns

    check_rate(rate)
    if rate not in curves.columns:
        raise ConfigError(f"the results have no {rate!r} column")
    for m in methods:
        if m not in METHODS:
            raise ConfigError(f"unknown interpolation {m!r}; choose from {', '.join(METHODS)}")
    if group not in curves.columns:
        curves = curves.assign(**{group: curves["codec"]})
    if anchor not in set(curves[group]):
        raise ConfigError(f"anchor {anchor!r} is not among the results; choose one of "
                          f"{', '.join(sorted(map(str, set(curves[group]))))}")
    decl = declared_columns()
    cols = list(columns) if columns else curve_columns(curves)
    unknown = [c for c in cols if c not in decl]
    if unknown:
        raise ConfigError(f"column(s) {unknown} are not declared by any metric; their direction is unknown")
    not_axes = [c for c in cols if not decl[c].axis]
    if not_axes:
        raise ConfigError(f"column(s) {not_axes} are not quality axes (declared axis=False): no BD value")
    missing = [c for c in cols if c not in curves.columns]
    if missing:
        raise ConfigError(f"column(s) {missing} are not in the results; available: {', '.join(curve_columns(curves))}")
    rows: list[dict[str, Any]] = []
    for dataset, part in curves.groupby("dataset", sort=True):
        series = [s for s in dict.fromkeys(part[group]) if s != anchor]
        anchor_part = part[part[group] == anchor]
        if anchor_part.empty:
            continue
        boot = None
        if bootstrap and per_image is not None:
            boot = _Bootstrap(per_image[per_image["dataset"] == dataset], group, bootstrap, seed, rate)
        for name in series:
            test_part = part[part[group] == name]
            for col in cols:
                hib = decl[col].higher_is_better
                a, dropped_a = _curve_points(anchor_part, rate, col, f"anchor {anchor}")
                t, dropped_t = _curve_points(test_part, rate, col, f"test {name}")
                if (a.empty and not dropped_a) or (t.empty and not dropped_t):
                    continue  # no point of this column on one of the curves
                for method in methods:
                    row = _bd_row(a, t, rate, col, method, hib, min_overlap, dropped_a + dropped_t)
                    row.update({"dataset": dataset, "anchor": anchor, group: name})
                    if boot is not None and col in per_image.columns and per_image[col].notna().any():
                        row.update(boot.intervals(anchor, a, name, t, col, method, hib, min_overlap, confidence))
                    rows.append(row)
    columns_out = ["dataset", "anchor", group, "metric", "method", "higher_is_better", "bd_rate", "bd_rate_ci_lo",
                   "bd_rate_ci_hi", "rate_metric_lo", "rate_metric_hi", "rate_overlap", "bd_metric", "bd_gain",
                   "bd_metric_ci_lo", "bd_metric_ci_hi", "metric_bpp_lo", "metric_bpp_hi", "metric_overlap",
                   "n_anchor", "n_test", "n_boot", "warnings"]
    return pd.DataFrame(rows, columns=columns_out)


def _curve_points(part: pd.DataFrame, rate: str, col: str, who: str) -> tuple[pd.DataFrame, list[str]]:
    """The points of one curve that can be interpolated, and a note for each one left out because
    its rate or value is infinite (rows with a missing value are simply not on this curve)."""
    present = part.dropna(subset=[rate, col])
    finite = np.isfinite(present[rate].to_numpy(dtype=float)) & np.isfinite(present[col].to_numpy(dtype=float))
    notes = [f"{who} point {r['setting']} dropped: {col} = {r[col]} at {r[rate]:.4g} {rate}"
             + (" (a lossless image; see the summary's flags, or use --psnr-cap)" if np.isinf(r[col]) else "")
             for _, r in present[~finite].iterrows()]
    return present[finite], notes


def _bd_row(a: pd.DataFrame, t: pd.DataFrame, rate: str, col: str, method: str, hib: bool, min_overlap: float,
            notes: list[str]) -> dict[str, Any]:
    """BD-rate and BD-metric of one curve pair (``a`` anchor, ``t`` test) for one column and method."""
    by_rate = bd_rate(a[rate], a[col], t[rate], t[col], method=method, higher_is_better=hib, min_overlap=min_overlap)
    dist = bd_metric(a[rate], a[col], t[rate], t[col], method=method, higher_is_better=hib, min_overlap=min_overlap)
    return {
        "metric": col, "method": method, "higher_is_better": hib,
        "bd_rate": by_rate.value, "bd_rate_ci_lo": math.nan, "bd_rate_ci_hi": math.nan,
        "rate_metric_lo": by_rate.range_lo, "rate_metric_hi": by_rate.range_hi, "rate_overlap": by_rate.overlap,
        "bd_metric": dist.value, "bd_gain": gain(dist.value, hib),
        "bd_metric_ci_lo": math.nan, "bd_metric_ci_hi": math.nan,
        "metric_bpp_lo": dist.range_lo, "metric_bpp_hi": dist.range_hi, "metric_overlap": dist.overlap,
        "n_anchor": by_rate.n_anchor, "n_test": by_rate.n_test, "n_boot": 0,
        "warnings": "; ".join(dict.fromkeys(notes + by_rate.warnings + dist.warnings)),
    }


class _Bootstrap:
    """Paired bootstrap of curves over the images of one dataset."""

    def __init__(self, per_image: pd.DataFrame, group: str, n_boot: int, seed: int, rate: str = "bpp") -> None:
        ok = per_image[per_image["status"] == "ok"] if "status" in per_image.columns else per_image
        if group not in ok.columns:
            ok = ok.assign(**{group: ok["codec"]})
        self.rows = ok
        self.rate = rate
        self.group = group
        self.images = sorted(set(ok["image"]))
        self.n_boot = n_boot
        self.weights = resample_weights(len(self.images), n_boot, seed) if self.images else None

    def _curve(self, name: str, settings: list[Any], col: str) -> tuple[np.ndarray, np.ndarray]:
        from gcbench.results.columns import summary_sources

        part = self.rows[self.rows[self.group] == name]
        # a column summarised as a transform of another's mean (ms_ssim_db): resample that one
        derived = summary_sources([col]).get(col)
        source = derived[0] if derived is not None and derived[0] in part.columns else col
        bpp = _image_matrix(part, settings, self.images, self.rate, self.group)
        val = _image_matrix(part, settings, self.images, source, self.group)
        # An image counts in a setting's mean only when both its bpp and its value exist,
        # exactly as in the summary table (rows of failed tasks have neither).
        both = np.isfinite(bpp) & np.isfinite(val)
        bpp = np.where(both, bpp, np.nan)
        val = weighted_means(self.weights, np.where(both, val, np.nan))
        return weighted_means(self.weights, bpp), val if source == col else derived[1](val)

    def intervals(self, anchor: str, a: pd.DataFrame, name: str, t: pd.DataFrame, col: str, method: str,
                  hib: bool, min_overlap: float, confidence: float) -> dict[str, Any]:
        if self.weights is None:
            return {}
        ra, va = self._curve(anchor, list(a["setting"]), col)
        rt, vt = self._curve(name, list(t["setting"]), col)
        rates, metrics = _bd_batch(ra, va, rt, vt, method)
        r_lo, r_hi = percentile_ci(rates, confidence)
        m_lo, m_hi = percentile_ci(metrics, confidence)
        return {"bd_rate_ci_lo": r_lo, "bd_rate_ci_hi": r_hi, "bd_metric_ci_lo": m_lo, "bd_metric_ci_hi": m_hi,
                "n_boot": int(np.isfinite(rates).sum())}


def summary_ci(per_image: pd.DataFrame, *, columns: Sequence[str] | None = None, bootstrap: int = 1000,
               seed: int = 0, confidence: float = 0.95, group: str = "series") -> pd.DataFrame:
    """Mean of each metric column per (dataset, series, setting) with a bootstrap interval over images.

    Long format: one row per (dataset, series, setting, column) with ``mean``, ``ci_lo``,
    ``ci_hi`` and ``n_images``. ``mean`` is the number the summary table shows: the plain mean
    of the images that succeeded, or, for a column summarised as a transform of another's mean
    (``ms_ssim_db``), that transform of the source's mean, its interval the transform of the
    source's (the transform is monotonic).
    """
    import pandas as pd

    from gcbench.results.columns import declared_columns, summary_sources
    from gcbench.results.views import metric_columns, sort_rows

    ok = per_image[per_image["status"] == "ok"] if "status" in per_image.columns else per_image
    if group not in ok.columns:
        ok = ok.assign(**{group: ok["codec"]})
    if columns:
        cols = list(columns)
    else:
        decl = declared_columns()
        cols = ["bpp"] + [c for c in metric_columns(ok) if c in decl and c not in (
            "bpp", "setting_value", "encode_s", "decode_s")]
    sources = summary_sources(cols)
    rows = []
    for dataset, part in ok.groupby("dataset", sort=True):
        images = sorted(set(part["image"]))
        weights = resample_weights(len(images), bootstrap, seed)
        index = {name: i for i, name in enumerate(images)}
        for (name, setting), g in part.groupby([group, "setting"], sort=False):
            idx = np.array([index[i] for i in g["image"]])
            for col in cols:
                if col not in g.columns:
                    continue
                source, transform = sources.get(col, (col, None))
                source = source if source in g.columns else col
                values = np.full(len(images), np.nan)
                values[idx] = pd.to_numeric(g[source], errors="coerce").to_numpy(dtype=float)
                present = np.isfinite(values)
                if not present.any():
                    continue
                samples = weighted_means(weights, values)[:, 0]
                mean = float(np.nanmean(values))
                lo, hi = percentile_ci(samples, confidence)
                if transform is not None and source != col:
                    mean, lo, hi = (float(transform(v)) for v in (mean, lo, hi))
                rows.append({"dataset": dataset, group: name, "setting": setting,
                             "setting_value": g["setting_value"].iloc[0], "column": col,
                             "mean": mean, "ci_lo": lo, "ci_hi": hi, "n_images": int(present.sum())})
    out = pd.DataFrame(rows, columns=["dataset", group, "setting", "setting_value", "column", "mean", "ci_lo",
                                      "ci_hi", "n_images"])
    return sort_rows(out, ["dataset", group, "setting_value", "setting"]).reset_index(drop=True)


def resolve_anchor(names: Sequence[str], anchor: str | None) -> str:
    """The curve name ``anchor`` means: exact, or a codec name that is one curve's only match."""
    names = list(dict.fromkeys(names))
    if not names:
        raise ConfigError("no curves to compare")
    if anchor is None:
        return names[0]
    if anchor in names:
        return anchor
    matches = [s for s in names if s.split(" (")[0] == anchor or s.split(" [")[0] == anchor]
    if len(matches) == 1:
        return matches[0]
    raise ConfigError(f"anchor {anchor!r} is not among the curves{' (ambiguous)' if matches else ''}; "
                      f"choose one of {', '.join(names)}")


def with_references(curves: pd.DataFrame, references: Sequence[Any]) -> pd.DataFrame:
    """Curves plus published reference curves (series ``name [published]``) for every dataset they fit."""
    import pandas as pd

    from gcbench.analysis.references import as_curves

    refs = as_curves(list(references))
    if refs.empty:
        return curves
    frames = [curves]
    for ds in sorted(set(curves["dataset"])):
        part = refs[(refs["dataset"] == ds) | (refs["dataset"] == "")].copy()
        part["dataset"] = ds
        frames.append(part)
    return pd.concat(frames, ignore_index=True)


def bd_results_table(results: Any, anchor: str | None, *, references: Sequence[Any] = (),
                     columns: Sequence[str] | None = None, methods: Sequence[str] = DEFAULT_METHODS,
                     bootstrap: int = 0, seed: int = 0, confidence: float = 0.95,
                     rate: str = "bpp") -> tuple[pd.DataFrame, str]:
    """BD table of loaded results (gcbench.results.curves.Results) plus references: (table, anchor used)."""
    curves = with_references(results.curves, references)
    chosen = resolve_anchor(list(curves["series"]), anchor)
    table = bd_table(curves, chosen, per_image=results.per_image, columns=columns, methods=methods,
                     bootstrap=bootstrap, seed=seed, confidence=confidence, rate=rate)
    return table, chosen


def bd_curves_table(folders: Sequence[str | Any], anchor: str, *, columns: Sequence[str] | None = None,
                    methods: Sequence[str] = DEFAULT_METHODS, bootstrap: int = 0, seed: int = 0,
                    confidence: float = 0.95, reference_files: Sequence[str] = (),
                    reference_rename: Sequence[str] = (), rate: str = "bpp",
                    psnr_cap: float | None = None) -> pd.DataFrame:
    """What ``gcbench bdrate`` prints: BD values of results folders against ``anchor``.

    ``rate``: ``bpp`` or ``bpp_payload``; ``psnr_cap``: add ``psnr_capped`` (each image's PSNR
    capped at that many dB, so lossless images keep their setting on the curve).
    """
    from gcbench.analysis.references import load_references, parse_rename
    from gcbench.results.curves import load_results

    rename = parse_rename(list(reference_rename))
    refs = [c for path in reference_files for c in load_references(path, rename)]
    results = load_results(list(folders), psnr_cap=psnr_cap)
    if results.curves.empty:
        raise ConfigError("no successful results to compare")
    return bd_results_table(results, anchor, references=refs, columns=columns, methods=methods,
                            bootstrap=bootstrap, seed=seed, confidence=confidence, rate=rate)[0]
