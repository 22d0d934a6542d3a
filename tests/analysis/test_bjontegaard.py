"""BD-rate / BD-metric against the bjontegaard package, the JCT-VC spreadsheet formula and the
VCEG-M33 published numbers; properties; warnings; direction from declarations; bootstrap."""

from __future__ import annotations

import math
import warnings

import bjontegaard as bd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gcbench.analysis import bjontegaard as analysis
from gcbench.analysis import interpolation
from gcbench.analysis.bjontegaard import bd_metric, bd_rate, bd_table, resample_weights, summary_ci

# The test cases the bjontegaard package documents (example_usage.py / README of FAU-LMS/bjontegaard
# and bjontegaard-matlab): x265 rates (kbps) and PSNR (dB) of an anchor and a test encoder.
CASES = {
    "low-bitrates": ([9487.76, 4593.60, 2486.44, 1358.24], [40.037, 38.615, 36.845, 34.851],
                     [9787.80, 4469.00, 2451.52, 1356.24], [40.121, 38.651, 36.970, 34.987]),
    "high-bitrates": ([82472.76, 26875.24, 9487.76, 4593.6], [43.825, 41.404, 40.037, 38.615],
                      [99896.96, 33952.04, 9787.8, 4469.0], [44.731, 41.875, 40.121, 38.651]),
    "two-points": ([82472.76, 26875.24], [43.825, 41.404], [99896.96, 33952.04], [44.731, 41.875]),
    "six-points": ([82472.76, 26875.24, 9487.76, 4593.6, 2486.44, 1358.24],
                   [43.825, 41.404, 40.037, 38.615, 36.845, 34.851],
                   [99896.96, 33952.04, 9787.8, 4469.0, 2451.52, 1356.24],
                   [44.731, 41.875, 40.121, 38.651, 36.970, 34.987]),
}


@pytest.mark.parametrize("method", ["pchip", "akima"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_equals_bjontegaard_package(case: str, method: str) -> None:
    ra, pa, rt, pt = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package warns about small overlaps; we compare values
        want_rate = bd.bd_rate(ra, pa, rt, pt, method=method, min_overlap=0)
        want_psnr = bd.bd_psnr(ra, pa, rt, pt, method=method, min_overlap=0)
    got_rate = bd_rate(ra, pa, rt, pt, method=method)
    got_psnr = bd_metric(ra, pa, rt, pt, method=method)
    assert got_rate.value == pytest.approx(want_rate, abs=1e-6)
    assert got_psnr.value == pytest.approx(want_psnr, abs=1e-6)
    assert got_rate.n_anchor == len(ra) and got_rate.n_test == len(rt)


def _pchip_end(h1: float, h2: float, d1: float, d2: float) -> float:
    d = ((2 * h1 + h2) * d1 - h1 * d2) / (h1 + h2)
    if d * d1 < 0:
        return 0.0
    if d1 * d2 < 0 and abs(d) > abs(3 * d1):
        return 3 * d1
    return d


def _spreadsheet_integral(x: list[float], y: list[float], lo: float, hi: float) -> float:
    """The JCT-VC common-test-conditions spreadsheet's piecewise cubic (4 points), integrated
    on [lo, hi]: harmonic-mean interior slopes, three-point end slopes, segment by segment."""
    order = np.argsort(x)
    x = [float(x[i]) for i in order]
    y = [float(y[i]) for i in order]
    n = len(x)
    h = [x[i + 1] - x[i] for i in range(n - 1)]
    delta = [(y[i + 1] - y[i]) / h[i] for i in range(n - 1)]
    d = [0.0] * n
    d[0] = _pchip_end(h[0], h[1], delta[0], delta[1])
    for i in range(1, n - 1):
        d[i] = 3 * (h[i - 1] + h[i]) / ((2 * h[i] + h[i - 1]) / delta[i - 1] + (h[i] + 2 * h[i - 1]) / delta[i])
    d[n - 1] = _pchip_end(h[n - 2], h[n - 3], delta[n - 2], delta[n - 3])
    total = 0.0
    for i in range(n - 1):
        c = (3 * delta[i] - 2 * d[i] - d[i + 1]) / h[i]
        b = (d[i] - 2 * delta[i] + d[i + 1]) / h[i] ** 2
        s0, s1 = max(x[i], lo) - x[i], min(x[i + 1], hi) - x[i]
        if s1 <= s0:
            continue

        def prim(s: float, i: int = i, c: float = c, b: float = b) -> float:
            return y[i] * s + d[i] * s**2 / 2 + c * s**3 / 3 + b * s**4 / 4

        total += prim(s1) - prim(s0)
    return total


@pytest.mark.parametrize("case", ["low-bitrates", "high-bitrates"])
def test_pchip_equals_jctvc_spreadsheet_formula(case: str) -> None:
    ra, pa, rt, pt = CASES[case]
    la, lt = np.log10(ra), np.log10(rt)
    lo, hi = max(min(pa), min(pt)), min(max(pa), max(pt))
    mean_log = (_spreadsheet_integral(pt, lt, lo, hi) - _spreadsheet_integral(pa, la, lo, hi)) / (hi - lo)
    assert bd_rate(ra, pa, rt, pt, method="pchip").value == pytest.approx((10**mean_log - 1) * 100, abs=1e-6)
    lo, hi = max(la.min(), lt.min()), min(la.max(), lt.max())
    dpsnr = (_spreadsheet_integral(lt, pt, lo, hi) - _spreadsheet_integral(la, pa, lo, hi)) / (hi - lo)
    assert bd_metric(ra, pa, rt, pt, method="pchip").value == pytest.approx(dpsnr, abs=1e-6)


def test_cubic_equals_vceg_m33_published_numbers() -> None:
    # VCEG-M33's example curves and the numbers its polynomial method gives (as published
    # with the bjontegaard_cpp port, which asserts them to 6 decimals)
    a = [(90.33, 27.95), (181.03, 31.17), (332.99, 34.44), (547.79, 38.11)]
    b = [(127.1719, 29.9286), (186.14, 32.4165), (307.2924, 34.7013), (481.5588, 37.4561)]
    (ra, pa), (rt, pt) = zip(*a, strict=True), zip(*b, strict=True)
    assert bd_rate(ra, pa, rt, pt, method="cubic").value == pytest.approx(-13.261773, abs=5e-7)
    assert bd_metric(ra, pa, rt, pt, method="cubic").value == pytest.approx(0.800713, abs=5e-7)


def test_interpolation_equals_scipy() -> None:
    from scipy.interpolate import Akima1DInterpolator, PchipInterpolator

    rng = np.random.default_rng(5)
    for n in (3, 4, 5, 8):
        for _ in range(40):
            x = np.cumsum(rng.uniform(0.05, 2.0, n))
            y = rng.normal(size=n) * 10
            lo, hi = np.sort(rng.uniform(x[0], x[-1], 2))
            for method, cls in (("pchip", PchipInterpolator), ("akima", Akima1DInterpolator)):
                f = cls(x, y)
                got = interpolation.integrate(x[None], y[None], np.array([lo]), np.array([hi]), method)[0]
                assert got == pytest.approx(f.integrate(lo, hi), rel=1e-10, abs=1e-10)
                q = rng.uniform(x[0], x[-1])
                assert interpolation.evaluate(x, y, q, method)[0] == pytest.approx(float(f(q)), rel=1e-10, abs=1e-10)


@st.composite
def curves(draw: st.DrawFn, min_points: int = 2) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(min_points, 8))
    log_steps = draw(st.lists(st.floats(0.05, 0.6), min_size=n, max_size=n))
    q_steps = draw(st.lists(st.floats(0.1, 4.0), min_size=n, max_size=n))
    start = draw(st.floats(-1.5, 0.5))
    rates = 10 ** (start + np.cumsum(log_steps))
    quality = 20 + np.cumsum(q_steps)
    return rates, quality


@settings(max_examples=60, deadline=None)
@given(curves(), st.sampled_from(["pchip", "akima"]))
def test_codec_against_itself_is_zero(curve: tuple[np.ndarray, np.ndarray], method: str) -> None:
    r, q = curve
    assert bd_rate(r, q, r, q, method=method).value == pytest.approx(0.0, abs=1e-9)
    assert bd_metric(r, q, r, q, method=method).value == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(curves(), st.floats(-0.6, 1.5), st.sampled_from(["pchip", "akima"]))
def test_scaling_rate_by_one_plus_x_gives_x(curve: tuple[np.ndarray, np.ndarray], x: float, method: str) -> None:
    r, q = curve
    result = bd_rate(r, q, r * (1 + x), q, method=method)
    assert result.value == pytest.approx(100 * x, abs=1e-8)
    assert result.overlap == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(curves(), st.floats(-3, 3), st.sampled_from(["pchip", "akima"]))
def test_shifting_quality_gives_bd_metric(curve: tuple[np.ndarray, np.ndarray], c: float, method: str) -> None:
    r, q = curve
    assert bd_metric(r, q, r, q + c, method=method).value == pytest.approx(c, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(curves(), curves(), st.sampled_from(["pchip", "akima"]))
def test_random_curves_equal_package(a: tuple[np.ndarray, np.ndarray], t: tuple[np.ndarray, np.ndarray],
                                     method: str) -> None:
    (ra, qa), (rt, qt) = a, t
    ours = bd_rate(ra, qa, rt, qt, method=method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = bd.bd_rate(ra, qa, rt, qt, method=method, require_matching_points=False, min_overlap=0)
        theirs_m = bd.bd_psnr(ra, qa, rt, qt, method=method, require_matching_points=False, min_overlap=0)
    if math.isnan(theirs):
        assert math.isnan(ours.value)
    else:
        assert ours.value == pytest.approx(theirs, rel=1e-9, abs=1e-6)
    ours_m = bd_metric(ra, qa, rt, qt, method=method).value
    assert (math.isnan(ours_m) and math.isnan(theirs_m)) or ours_m == pytest.approx(theirs_m, rel=1e-9, abs=1e-6)


def test_lower_is_better_curve() -> None:
    # an LPIPS-like curve: falls as rate grows; the test codec reaches each value with fewer bits
    rate = np.array([0.1, 0.2, 0.4, 0.8])
    anchor = np.array([0.40, 0.30, 0.20, 0.12])
    test = anchor - 0.03
    r = bd_rate(rate, anchor, rate, test, method="pchip", higher_is_better=False)
    m = bd_metric(rate, anchor, rate, test, method="pchip", higher_is_better=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the package wants the points in increasing order of the metric (it only flips a curve
        # whose metric and rate both fall)
        want = bd.bd_rate(rate[::-1], anchor[::-1], rate[::-1], test[::-1], method="pchip", min_overlap=0)
    assert r.value == pytest.approx(want, abs=1e-6)
    assert r.value < 0  # fewer bits for the same quality
    assert m.value == pytest.approx(-0.03, abs=1e-12)  # metric difference, in the metric's own sign
    assert analysis.gain(m.value, False) == pytest.approx(0.03)  # positive: the test codec is better
    assert not any("monotonic" in w for w in r.warnings)
    # the same numbers declared higher-is-better are a curve that gets worse with rate
    wrong = bd_rate(rate, anchor, rate, test, method="pchip", higher_is_better=True)
    assert any("not monotonic" in w for w in wrong.warnings)


def test_warnings_range_and_points() -> None:
    rate = [0.1, 0.2, 0.4, 0.8]
    a = bd_rate(rate, [30, 32, 34, 36], [0.5, 0.9, 1.6], [35, 37, 39], method="pchip")
    assert (a.range_lo, a.range_hi) == (35, 36)
    assert a.n_anchor == 4 and a.n_test == 3
    assert a.overlap == pytest.approx(1 / 9)
    assert any("small overlap" in w for w in a.warnings)
    assert any("3 points" in w for w in a.warnings)
    none = bd_rate(rate, [30, 32, 34, 36], rate, [40, 41, 42, 43])
    assert math.isnan(none.value) and any("do not overlap" in w for w in none.warnings)
    bumpy = bd_rate(rate, [30, 33, 32, 36], rate, [31, 33, 35, 37])
    assert any("anchor curve is not monotonic" in w for w in bumpy.warnings)
    m = bd_metric(rate, [30, 32, 34, 36], [0.2, 0.4, 0.8, 1.6], [31, 33, 35, 37])
    assert (m.range_lo, m.range_hi) == pytest.approx((0.2, 0.8))
    with pytest.raises(Exception, match="unknown interpolation"):
        bd_rate(rate, [30, 32, 34, 36], rate, [30, 32, 34, 36], method="spline")


# -- tables: direction from the declaration, never the name --------------------------------------

@pytest.fixture
def misleading_metrics():
    """Two metrics whose names say the opposite of their declarations."""
    from gcbench.metrics.base import Column, PairMetric
    from gcbench.metrics.registry import metrics

    class LooksHigher(PairMetric):
        name = "t-higher"
        columns = (Column("higher_value", higher_is_better=False, label="declared lower-is-better"),)

        def compute(self, original, reconstruction):  # pragma: no cover - not run here
            return {}

    class LooksLower(PairMetric):
        name = "t-lower"
        columns = (Column("lower_value", higher_is_better=True, label="declared higher-is-better"),)

        def compute(self, original, reconstruction):  # pragma: no cover - not run here
            return {}

    metrics.add("t-higher", LooksHigher, replace=True)
    metrics.add("t-lower", LooksLower, replace=True)
    yield
    metrics.remove("t-higher")
    metrics.remove("t-lower")


def _curve_rows(series: str, rates: np.ndarray, values: np.ndarray, column: str) -> pd.DataFrame:
    return pd.DataFrame({"dataset": "d", "codec": series, "series": series, "setting": [str(i) for i in range(len(rates))],
                         "bpp": rates, column: values})


def test_table_sign_from_declaration(misleading_metrics: None) -> None:
    rate = np.array([0.1, 0.2, 0.4, 0.8])
    # the test codec has the smaller value everywhere
    a = pd.concat([_curve_rows("A", rate, [0.4, 0.3, 0.2, 0.1], "higher_value"),
                   _curve_rows("B", rate, [0.35, 0.25, 0.15, 0.05], "higher_value")])
    t = bd_table(a, "A", methods=("pchip",))
    row = t.iloc[0]
    assert not row["higher_is_better"]
    assert row["bd_metric"] == pytest.approx(-0.05) and row["bd_gain"] == pytest.approx(0.05)
    assert row["bd_rate"] < 0 and "monotonic" not in row["warnings"]
    b = pd.concat([_curve_rows("A", rate, [30, 32, 34, 36], "lower_value"),
                   _curve_rows("B", rate, [29, 31, 33, 35], "lower_value")])
    row = bd_table(b, "A", methods=("pchip",)).iloc[0]
    assert row["higher_is_better"] and row["bd_gain"] == pytest.approx(-1.0) and row["bd_rate"] > 0


def test_table_refuses_undeclared_columns() -> None:
    rate = np.array([0.1, 0.2, 0.4, 0.8])
    df = pd.concat([_curve_rows("A", rate, [1, 2, 3, 4], "mystery"), _curve_rows("B", rate, [1, 2, 3, 5], "mystery")])
    with pytest.raises(Exception, match="not declared"):
        bd_table(df, "A", columns=["mystery"])
    assert bd_table(df, "A").empty  # left out when not asked for by name
    with pytest.raises(Exception, match="anchor"):
        bd_table(df, "C")


# -- bootstrap -----------------------------------------------------------------------------------

def _per_image(rng: np.random.Generator, n_images: int = 6) -> pd.DataFrame:
    rows = []
    for codec, gain in (("A", 0.0), ("B", 1.5)):
        for s, base in ((1, 0.2), (2, 0.4), (3, 0.8), (4, 1.6)):
            for i in range(n_images):
                bpp = base * rng.uniform(0.7, 1.3)
                rows.append({"dataset": "d", "codec": codec, "series": codec, "setting": str(s), "setting_value": s,
                             "image": f"im{i}", "status": "ok", "bpp": bpp,
                             "psnr": 30 + 6 * np.log2(bpp / 0.2) + gain + rng.normal(0, 1)})
    return pd.DataFrame(rows)


def test_summary_ci_is_the_plain_bootstrap() -> None:
    rng = np.random.default_rng(3)
    df = _per_image(rng)
    ci = summary_ci(df, columns=["psnr"], bootstrap=300, seed=11)
    images = sorted(set(df["image"]))
    draws = np.random.default_rng(11).integers(0, len(images), size=(300, len(images)))
    for r in ci.itertuples(index=False):
        g = df[(df["codec"] == r.series) & (df["setting"] == r.setting)].set_index("image").loc[images]
        values = g["psnr"].to_numpy()
        means = values[draws].mean(axis=1)
        assert r.mean == pytest.approx(values.mean())
        assert (r.ci_lo, r.ci_hi) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))
        assert r.ci_lo <= r.mean <= r.ci_hi


def test_bd_interval_is_the_bootstrap_of_bd_rate() -> None:
    rng = np.random.default_rng(4)
    df = _per_image(rng)
    curves = df.groupby(["dataset", "codec", "series", "setting"], as_index=False)[["bpp", "psnr"]].mean()
    table = bd_table(curves, "A", per_image=df, columns=["psnr"], methods=("akima",), bootstrap=200, seed=2)
    row = table.iloc[0]
    assert row["n_boot"] == 200
    # the same replicates, one at a time through the public function
    images = sorted(set(df["image"]))
    weights = resample_weights(len(images), 200, 2)
    values = []
    for w in weights:
        pick = {name: w[i] for i, name in enumerate(images)}
        means = {}
        for (codec, setting), g in df.groupby(["codec", "setting"]):
            wt = g["image"].map(pick).to_numpy()
            means[(codec, setting)] = (np.sum(wt * g["bpp"]) / wt.sum(), np.sum(wt * g["psnr"]) / wt.sum())
        curve = {c: np.array([means[(c, s)] for s in ("1", "2", "3", "4")]) for c in ("A", "B")}
        values.append(bd_rate(curve["A"][:, 0], curve["A"][:, 1], curve["B"][:, 0], curve["B"][:, 1],
                              method="akima").value)
    lo, hi = np.percentile(values, [2.5, 97.5])
    assert row["bd_rate_ci_lo"] == pytest.approx(lo, abs=1e-9)
    assert row["bd_rate_ci_hi"] == pytest.approx(hi, abs=1e-9)
    assert row["bd_rate_ci_lo"] <= row["bd_rate"] <= row["bd_rate_ci_hi"]
