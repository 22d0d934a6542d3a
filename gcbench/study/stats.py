"""Statistics of pairwise preferences: Wilson intervals, exact binomial tests with Holm's
adjustment, Bradley–Terry scores, Elo ratings (maximum likelihood and sequential), and the
two-way cluster bootstrap over participants and images.

A comparison is ``(winner, loser)`` as item indices.

Two Elo scales:

- ``elo_ml`` (:func:`elo_ml`): the maximum-likelihood Bradley–Terry fit on the Elo scale,
  P(i beats j) = 1 / (1 + 10^((R_j − R_i) / 400)), anchored as the CLIC-methodology rater
  tool's published scoring code anchors it (google-research ``mucped23/compute_elo.ipynb``: start
  2000, ``elo_n`` 400; the objective adds 0.5·(0.9/n)·(Σ(R − 2000))², which puts the mean at
  2000, and a ridge 0.5·(1e−5/n)·Σ(R − 2000)², which keeps ratings finite when an item never
  loses and pulls them towards 2000 slightly; gcbench minimises the same objective by Newton's
  method). It does not depend on the order of the games.
- ``elo_sequential`` (:func:`elo_sequential`, formerly ``elo_ratings``): the classic update,
  every item from 2000, K = 30, scale 400, played game by game; because it depends on the
  order, the result is the mean over many random orders.

Trials of one participant, and trials on one image, are not independent. :func:`cluster_weights`
draws participants and images with replacement, independently (the two-way "pigeonhole"
bootstrap of Owen 2007): a trial counts once for each draw of its participant times each draw of
its image. Intervals from it widen when a participant or an image answers unlike the others.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gcbench.core.errors import UnavailableError

ELO_START = 2000.0
ELO_K = 30.0
ELO_SCALE = 400.0
# the CLIC-methodology scoring code's penalties, each divided by the number of items
ELO_ML_RIDGE = 1e-5
ELO_ML_MEAN_WEIGHT = 0.9
CLUSTERS = ("participants+images", "participants", "images")


def _require(module: str) -> object:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UnavailableError(
            f"the study analysis needs the Python package {module!r}, which is not installed; "
            "install it with: pip install 'gcbench[study]'"
        ) from exc


def _normal_quantile(confidence: float) -> float:
    from statistics import NormalDist

    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (NaN, NaN when n = 0)."""
    if n == 0:
        return math.nan, math.nan
    if not 0 <= successes <= n:
        raise ValueError(f"successes {successes} outside 0..{n}")
    z = _normal_quantile(confidence)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # At 0 (or n) successes the bound is exactly 0 (or 1); rounding would leave 1e-17.
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


def binomial_p(successes: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test (scipy's ``binomtest``); NaN when n = 0."""
    if n == 0:
        return math.nan
    stats = _require("scipy.stats")
    return float(stats.binomtest(successes, n, p, alternative="two-sided").pvalue)  # type: ignore[attr-defined]


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN entries stay NaN, not counted)."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        out[index] = running
    return out


def win_matrix(comparisons: np.ndarray, n_items: int, weights: np.ndarray | None = None) -> np.ndarray:
    """``m[i, j]`` = times item i beat item j (each comparison counted ``weights`` times)."""
    m = np.zeros((n_items, n_items), dtype=np.float64)
    if len(comparisons):
        w = 1.0 if weights is None else np.asarray(weights, dtype=np.float64)
        np.add.at(m, (comparisons[:, 0], comparisons[:, 1]), w)
    return m


def cluster_weights(participants: np.ndarray, images: np.ndarray, replicates: int, rng: np.random.Generator,
                    clusters: str = "participants+images") -> np.ndarray:
    """replicates × trials counts of a cluster bootstrap (see the module doc).

    ``participants`` and ``images`` hold each trial's cluster indices (0..n−1). ``clusters``
    chooses what is resampled: both (default), or one of them (the other kept as it is).
    """
    if clusters not in CLUSTERS:
        raise ValueError(f"clusters must be one of {', '.join(CLUSTERS)}, got {clusters!r}")
    participants, images = np.asarray(participants, np.intp), np.asarray(images, np.intp)
    weights = np.ones((replicates, len(participants)), dtype=np.int64)
    for name, index in (("participants", participants), ("images", images)):
        if name in clusters.split("+") and len(index):
            n = int(index.max()) + 1
            draws = rng.integers(0, n, size=(replicates, n))
            counts = np.zeros((replicates, n), dtype=np.int64)
            np.add.at(counts, (np.arange(replicates)[:, None], draws), 1)
            weights *= counts[:, index]
    return weights


def elo_ml(wins: np.ndarray, *, start: float = ELO_START, scale: float = ELO_SCALE, ridge: float = ELO_ML_RIDGE,
           mean_weight: float = ELO_ML_MEAN_WEIGHT, tol: float = 1e-10) -> np.ndarray:
    """Maximum-likelihood Elo ratings from a win matrix, with the CLIC scoring code's anchoring.

    Minimises −Σ w_ij·log σ((R_i − R_j)·ln10/scale) + ½(ridge/n)·Σx² + ½(mean_weight/n)·(Σx)²
    with x = R − start, by Newton's method (the objective is strictly convex).
    """
    wins = np.asarray(wins, dtype=np.float64)
    n = wins.shape[0]
    x = np.zeros(n)
    if n == 0:
        return x + start
    s = math.log(10.0) / scale
    r, q = ridge / n, mean_weight / n
    games = wins + wins.T

    def objective(v: np.ndarray) -> float:
        d = s * (v[:, None] - v[None, :])
        return float(np.sum(wins * np.logaddexp(0.0, -d)) + 0.5 * r * v @ v + 0.5 * q * v.sum() ** 2)

    for _ in range(200):
        p = 1.0 / (1.0 + np.exp(-s * (x[:, None] - x[None, :])))  # p[i, j] = P(i beats j)
        grad = -s * (wins * (1.0 - p) - wins.T * p).sum(axis=1) + r * x + q * x.sum()
        c = s * s * games * p * (1.0 - p)
        hess = np.diag(c.sum(axis=1)) - c + r * np.eye(n) + q
        step = np.linalg.solve(hess, grad)
        base, t = objective(x), 1.0
        while objective(x - t * step) > base + 1e-12 * abs(base) and t > 1e-8:
            t /= 2.0  # damped Newton: never increase the objective
        x = x - t * step
        if np.max(np.abs(t * step)) < tol:
            break
    return x + start


def strongly_connected(wins: np.ndarray) -> bool:
    """Whether every item can reach every other along "beat" edges: the condition under
    which the maximum-likelihood Bradley–Terry scores exist (Zermelo, Ford)."""
    n = wins.shape[0]
    adjacency = wins > 0
    for graph in (adjacency, adjacency.T):
        seen = {0}
        frontier = [0]
        while frontier:
            i = frontier.pop()
            for j in np.flatnonzero(graph[i]):
                if int(j) not in seen:
                    seen.add(int(j))
                    frontier.append(int(j))
        if len(seen) < n:
            return False
    return True


@dataclass(frozen=True)
class BTFit:
    scores: np.ndarray  # natural-log strengths, mean zero
    regularised: bool  # True when the ML estimate does not exist and alpha was used


def bradley_terry(wins: np.ndarray, alpha: float = 0.01) -> BTFit:
    """Bradley–Terry log-strengths from a win matrix (choix's iterative LSR).

    The maximum-likelihood estimate is used when it exists (the "beat" graph is strongly
    connected); otherwise choix's regularisation ``alpha`` keeps the scores finite and the
    fit says so.
    """
    choix = _require("choix")
    n = wins.shape[0]
    if n < 2:
        return BTFit(np.zeros(n), False)
    exact = strongly_connected(wins)
    params = choix.ilsr_pairwise_dense(wins, alpha=0.0 if exact else alpha, max_iter=1000, tol=1e-10)  # type: ignore[attr-defined]
    params = np.asarray(params, dtype=np.float64)
    return BTFit(params - params.mean(), not exact)


def elo_sequential(
    comparisons: np.ndarray,
    n_items: int,
    orders: int = 1000,
    rng: np.random.Generator | None = None,
    *,
    start: float = ELO_START,
    k: float = ELO_K,
    scale: float = ELO_SCALE,
) -> np.ndarray:
    """Sequential Elo (K, scale, start): the mean rating per item over ``orders`` random orders."""
    return elo_many([comparisons], n_items, orders, rng, start=start, k=k, scale=scale)[0]


elo_ratings = elo_sequential  # the name before the maximum-likelihood scale was added


def elo_many(
    datasets: Sequence[np.ndarray],
    n_items: int,
    orders: int,
    rng: np.random.Generator | None = None,
    *,
    start: float = ELO_START,
    k: float = ELO_K,
    scale: float = ELO_SCALE,
    max_cells: int = 8_000_000,
) -> np.ndarray:
    """Order-averaged Elo for several comparison sets at once (one row per set).

    Every (set, order) pair is one row of a rating matrix and all rows play their t-th game
    together, so a thousand bootstrap replicates cost a few thousand vectorised steps instead
    of millions of Python-level updates. Shorter sets are padded with no-op games; rows are
    played in blocks of at most ``max_cells`` games so memory stays bounded.
    """
    rng = rng or np.random.default_rng()
    data = [np.asarray(d, dtype=np.int64).reshape(-1, 2) for d in datasets]
    out = np.full((len(data), n_items), start)
    if orders < 1:
        return out
    blocks: list[list[tuple[int, int]]] = []  # each block: (set index, orders of that set)
    current: list[tuple[int, int]] = []
    rows = longest = 0
    for s, d in enumerate(data):
        m, left = len(d), orders
        while m and left:
            take = min(left, max(1, max_cells // m))
            if current and (rows + take) * max(longest, m) > max_cells:
                blocks.append(current)
                current, rows, longest = [], 0, 0
            current.append((s, take))
            rows, longest, left = rows + take, max(longest, m), left - take
    if current:
        blocks.append(current)
    sums = np.zeros((len(data), n_items))
    index_type = np.int16 if n_items <= np.iinfo(np.int16).max else np.intp
    for block in blocks:
        width = max(len(data[s]) for s, _ in block)
        height = sum(n for _, n in block)
        # Game-major layout: the t-th games of all rows are one contiguous vector.
        winners = np.zeros((width, height), dtype=index_type)
        losers = np.zeros((width, height), dtype=index_type)
        active = np.zeros((width, height), dtype=bool)
        spans, r = [], 0
        for s, n in block:
            m = len(data[s])
            perms = np.argsort(rng.random((n, m)), axis=1)
            winners[:m, r : r + n] = data[s][perms, 0].T
            losers[:m, r : r + n] = data[s][perms, 1].T
            active[:m, r : r + n] = True
            spans.append((s, r, r + n))
            r += n
        ratings = _play(winners, losers, active, n_items, start, k, scale)
        for s, a, b in spans:
            sums[s] += ratings[a:b].sum(axis=0)
    for s, d in enumerate(data):
        if len(d):
            out[s] = sums[s] / orders
    return out


def _play(winners: np.ndarray, losers: np.ndarray, active: np.ndarray, n_items: int, start: float, k: float,
          scale: float) -> np.ndarray:
    """Play game t of every row at once; ratings live in one flat array (row-major)."""
    height = winners.shape[1]
    flat = np.full(height * n_items, start)
    base = np.arange(height, dtype=np.intp) * n_items
    per_point = np.log(10.0) / scale
    for t in range(winners.shape[0]):
        fw = base + winners[t]
        fl = base + losers[t]
        rw, rl = flat[fw], flat[fl]
        # K·(1 − E_winner) with E_winner = 1 / (1 + 10^((R_loser − R_winner) / scale))
        delta = k / (1.0 + np.exp((rw - rl) * per_point))
        delta *= active[t]
        flat[fw] = rw + delta
        flat[fl] = rl - delta
    return flat.reshape(height, n_items)


def percentile_interval(samples: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Per-column percentile interval of bootstrap samples (rows = replicates; NaN replicates skipped)."""
    lo = (1.0 - confidence) / 2.0 * 100.0
    samples = np.asarray(samples, dtype=np.float64)
    if samples.size == 0 or np.all(np.isnan(samples)):
        nan = np.full(samples.shape[1:], math.nan)
        return nan, nan.copy()
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, said by the caller
        return np.nanpercentile(samples, lo, axis=0), np.nanpercentile(samples, 100.0 - lo, axis=0)
