"""Statistics of the study analysis against hand-computed values and independent implementations."""

from __future__ import annotations

import itertools
import math
import sys

import numpy as np
import pytest

from gcbench.core.errors import UnavailableError
from gcbench.study import stats


def test_wilson_interval_of_7_of_10_by_hand() -> None:
    # z = 1.959964: centre (0.7 + z²/20) / (1 + z²/10) = 0.644490;
    # half-width z / (1 + z²/10) · sqrt(0.7·0.3/10 + z²/400) = 0.247712.
    z = 1.959963984540054
    centre = (0.7 + z * z / 20) / (1 + z * z / 10)
    half = z / (1 + z * z / 10) * math.sqrt(0.021 + z * z / 400)
    lo, hi = stats.wilson_interval(7, 10)
    assert lo == pytest.approx(centre - half, abs=1e-12)
    assert hi == pytest.approx(centre + half, abs=1e-12)
    assert (round(lo, 4), round(hi, 4)) == (0.3968, 0.8922)  # the published table value


def test_wilson_interval_edges() -> None:
    lo, hi = stats.wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = stats.wilson_interval(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.7225, abs=1e-4)
    assert all(math.isnan(v) for v in stats.wilson_interval(0, 0))
    with pytest.raises(ValueError):
        stats.wilson_interval(11, 10)


def test_binomial_p_of_7_of_10_by_hand() -> None:
    # P(X >= 7) = (C(10,7) + C(10,8) + C(10,9) + C(10,10)) / 2^10 = 176/1024; two-sided doubles it.
    assert stats.binomial_p(7, 10) == pytest.approx(2 * 176 / 1024, abs=1e-15)
    assert stats.binomial_p(3, 10) == pytest.approx(2 * 176 / 1024, abs=1e-15)
    assert stats.binomial_p(5, 10) == pytest.approx(1.0)
    assert math.isnan(stats.binomial_p(0, 0))


def test_bradley_terry_two_items_is_the_log_odds() -> None:
    # 7 wins of 10: P(A beats B) = e^a / (e^a + e^b) = 0.7, so a - b = ln(7/3), centred.
    fit = stats.bradley_terry(np.array([[0.0, 7.0], [3.0, 0.0]]))
    assert not fit.regularised
    assert fit.scores[0] - fit.scores[1] == pytest.approx(math.log(7 / 3), abs=1e-8)
    assert fit.scores.sum() == pytest.approx(0.0, abs=1e-12)


def _bt_negative_log_likelihood(theta: np.ndarray, wins: np.ndarray) -> float:
    total = 0.0
    for i, j in itertools.permutations(range(len(theta)), 2):
        if wins[i, j]:
            total -= wins[i, j] * (theta[i] - np.logaddexp(theta[i], theta[j]))
    return total


def test_bradley_terry_known_matrix_matches_direct_maximum_likelihood() -> None:
    from scipy.optimize import minimize

    wins = np.array([[0, 8, 6, 9], [4, 0, 7, 5], [2, 5, 0, 6], [1, 3, 4, 0]], dtype=float)
    fit = stats.bradley_terry(wins)
    assert not fit.regularised
    ref = minimize(_bt_negative_log_likelihood, np.zeros(4), args=(wins,), method="BFGS", options={"gtol": 1e-10}).x
    ref -= ref.mean()
    np.testing.assert_allclose(fit.scores, ref, atol=1e-5)
    # Maximum-likelihood condition: every item's expected wins equal its observed wins.
    p = 1.0 / (1.0 + np.exp(fit.scores[None, :] - fit.scores[:, None]))
    n = wins + wins.T
    np.testing.assert_allclose((n * p).sum(axis=1) - np.diag(n * p), wins.sum(axis=1), atol=1e-5)


def test_bradley_terry_without_ml_estimate_is_regularised_and_says_so() -> None:
    wins = np.array([[0, 5], [0, 0]], dtype=float)  # B never wins: the ML scores diverge
    fit = stats.bradley_terry(wins, alpha=0.01)
    assert fit.regularised
    assert np.all(np.isfinite(fit.scores)) and fit.scores[0] > fit.scores[1]
    assert stats.strongly_connected(np.array([[0, 1], [1, 0]]))
    assert not stats.strongly_connected(wins)


def test_elo_single_order_by_hand() -> None:
    # A beats B from 2000/2000: expected 0.5, so A gains K·0.5 = 15.
    r = stats.elo_sequential(np.array([[0, 1]]), 2, orders=1)
    np.testing.assert_allclose(r, [2015.0, 1985.0])
    # Then B beats A: E_B = 1 / (1 + 10^((2015 - 1985) / 400)) = 0.456922; B gains 30·(1 - E_B).
    # 10^0.075 = 1.188502, E_B = 0.456934, gain 16.29199: A 1998.70801, B 2001.29199. With one
    # random order the games come either way round, the other order mirroring the result.
    by_hand = [1998.70801, 2001.29199]
    for seed in range(6):
        r = stats.elo_ratings(np.array([[0, 1], [1, 0]]), 2, orders=1, rng=np.random.default_rng(seed))
        assert list(r) == pytest.approx(by_hand, abs=1e-5) or list(r[::-1]) == pytest.approx(by_hand, abs=1e-5)


def _elo_reference(games: list[tuple[int, int]], n: int) -> np.ndarray:
    """Plain CLIC Elo over one order (independent of the vectorised implementation)."""
    r = [2000.0] * n
    for w, lo in games:
        e = 1.0 / (1.0 + 10 ** ((r[lo] - r[w]) / 400.0))
        r[w] += 30 * (1 - e)
        r[lo] -= 30 * (1 - e)
    return np.array(r)


def test_elo_average_over_orders_matches_exhaustive_average() -> None:
    games = [(0, 1), (0, 1), (1, 2), (2, 0), (0, 2)]
    exact = np.mean([_elo_reference(list(p), 3) for p in itertools.permutations(games)], axis=0)
    got = stats.elo_ratings(np.array(games), 3, orders=20000, rng=np.random.default_rng(0))
    np.testing.assert_allclose(got, exact, atol=0.15)
    # Symmetric data: the two orders of (A>B, B>A) average to exactly 2000.
    two = stats.elo_ratings(np.array([[0, 1], [1, 0]]), 2, orders=20000, rng=np.random.default_rng(1))
    np.testing.assert_allclose(two, [2000.0, 2000.0], atol=0.05)


def test_elo_many_pads_shorter_sets_without_moving_ratings() -> None:
    sets = [np.array([[0, 1]]), np.array([[1, 0], [1, 0], [1, 0]]), np.zeros((0, 2), dtype=int)]
    out = stats.elo_many(sets, 2, orders=3, rng=np.random.default_rng(0))
    np.testing.assert_allclose(out[0], [2015.0, 1985.0])
    np.testing.assert_allclose(out[1], _elo_reference([(1, 0)] * 3, 2))
    np.testing.assert_allclose(out[2], [2000.0, 2000.0])


def test_elo_blocks_do_not_change_the_result() -> None:
    rng = np.random.default_rng(3)
    sets = [rng.integers(0, 3, (n, 2)) for n in (7, 0, 12, 3)]
    sets = [s[s[:, 0] != s[:, 1]] for s in sets]
    whole = stats.elo_many(sets, 3, orders=9, rng=np.random.default_rng(4))
    small = stats.elo_many(sets, 3, orders=9, rng=np.random.default_rng(4), max_cells=20)
    np.testing.assert_allclose(small, whole, atol=1e-9)
    # and each set equals the plain reference averaged over the same shuffles
    draw = np.random.default_rng(4)
    for s, got in zip(sets, whole):
        if len(s) == 0:
            np.testing.assert_array_equal(got, [2000.0] * 3)
            continue
        perms = np.argsort(draw.random((9, len(s))), axis=1)
        ref = np.mean([_elo_reference([tuple(s[i]) for i in p], 3) for p in perms], axis=0)
        np.testing.assert_allclose(got, ref, atol=1e-9)


def test_missing_choix_and_scipy_give_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "choix", None)
    with pytest.raises(UnavailableError, match=r"gcbench\[study\]"):
        stats.bradley_terry(np.array([[0.0, 1.0], [1.0, 0.0]]))
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    with pytest.raises(UnavailableError, match=r"'scipy.stats'.*gcbench\[study\]"):
        stats.binomial_p(3, 5)


def test_holm_by_hand() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 (m = 4): 4·0.005, 3·0.01, 2·0.03, max(0.06, 1·0.04); NaN is not counted
    got = stats.holm([0.01, 0.04, 0.03, math.nan, 0.005])
    np.testing.assert_allclose(got, [0.03, 0.06, 0.06, math.nan, 0.02])
    assert stats.holm([0.6, 0.7])[1] == 1.0 and stats.holm([]).size == 0


def _clic_objective(ratings: np.ndarray, wins: np.ndarray) -> float:
    """The CLIC-methodology scoring code's loss (google-research mucped23/compute_elo.ipynb), in numpy."""
    n, shifted = len(ratings), ratings - 2000.0
    scaled = ratings * np.log(10) / 400
    log_probs = -np.logaddexp(0.0, -(scaled[:, None] - scaled[None, :]))  # log_sigmoid(a - b)
    accum = -0.5 * (1e-5 / n) * np.square(shifted).sum() - 0.5 * (0.9 / n) * np.square(shifted.sum())
    return -(accum + (wins * log_probs).sum())


def test_elo_ml_minimises_the_clic_scoring_objective() -> None:
    from scipy.optimize import minimize

    wins = np.array([[0, 8, 6, 9], [4, 0, 7, 5], [2, 5, 0, 6], [1, 3, 4, 0]], dtype=float)
    got = stats.elo_ml(wins)
    ref = minimize(_clic_objective, np.full(4, 2000.0), args=(wins,), method="Nelder-Mead",
                   options={"xatol": 1e-7, "fatol": 1e-12, "maxiter": 20000}).x
    np.testing.assert_allclose(got, ref, atol=1e-3)
    assert _clic_objective(got, wins) <= _clic_objective(ref, wins) + 1e-9
    assert got.mean() == pytest.approx(2000.0, abs=1e-6)
    # without the tiny ridge it is the Bradley–Terry ML fit on the Elo scale: 400/ln 10 per log-odds unit
    pure = stats.elo_ml(wins, ridge=0.0)
    np.testing.assert_allclose(pure - 2000.0, 400 / np.log(10) * stats.bradley_terry(wins).scores, atol=1e-6)
    # two items, 7 of 10: 10^((Ra - Rb)/400) = 7/3 exactly (no ridge)
    two = stats.elo_ml(np.array([[0.0, 7.0], [3.0, 0.0]]), ridge=0.0)
    assert two[0] - two[1] == pytest.approx(400 * np.log10(7 / 3), abs=1e-8)


def test_elo_ml_stays_finite_when_an_item_never_loses() -> None:
    got = stats.elo_ml(np.array([[0.0, 5.0], [0.0, 0.0]]))
    assert np.all(np.isfinite(got)) and got[0] > got[1]


def test_cluster_weights_are_products_of_participant_and_image_draws() -> None:
    participant = np.array([0, 0, 1, 1, 2, 2])
    image = np.array([0, 1, 0, 1, 0, 1])
    w = stats.cluster_weights(participant, image, 2000, np.random.default_rng(0))
    assert w.shape == (2000, 6) and w.min() >= 0
    assert w.mean() == pytest.approx(1.0, abs=0.03)  # E[count] = 1 for each cluster, drawn independently
    # a product of a participant count and an image count: w(p0, i0)·w(p1, i1) = w(p0, i1)·w(p1, i0)
    np.testing.assert_array_equal(w[:, 0] * w[:, 3], w[:, 1] * w[:, 2])
    assert np.any(w[:, 0] != w[:, 1]) and np.any(w[:, 0] != w[:, 2])  # both dimensions are drawn
    only_p = stats.cluster_weights(participant, image, 50, np.random.default_rng(1), "participants")
    assert np.all(only_p[:, 0] == only_p[:, 1]) and np.all(only_p.sum(axis=1) == 6)
    only_i = stats.cluster_weights(participant, image, 50, np.random.default_rng(1), "images")
    assert np.all(only_i[:, 0] == only_i[:, 2]) and np.all(only_i.sum(axis=1) == 6)
    with pytest.raises(ValueError):
        stats.cluster_weights(participant, image, 1, np.random.default_rng(0), "crops")
