"""Statistics of pairwise preferences: Wilson intervals, exact binomial tests, Bradley–Terry
scores and CLIC-style Elo ratings, with bootstrap intervals over participants.

A comparison is ``(winner, loser)`` as item indices. Ratings follow CLIC's perceptual track:
every item starts at 2000, K = 30, logistic scale 400, and because Elo depends on the order in
which games are played the result is the mean over many random orders.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gcbench.core.errors import UnavailableError

ELO_START = 2000.0
ELO_K = 30.0
ELO_SCALE = 400.0


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


def win_matrix(comparisons: np.ndarray, n_items: int) -> np.ndarray:
    """``m[i, j]`` = times item i beat item j."""
    m = np.zeros((n_items, n_items), dtype=np.float64)
    if len(comparisons):
        np.add.at(m, (comparisons[:, 0], comparisons[:, 1]), 1.0)
    return m


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


def elo_ratings(
    comparisons: np.ndarray,
    n_items: int,
    orders: int = 1000,
    rng: np.random.Generator | None = None,
    *,
    start: float = ELO_START,
    k: float = ELO_K,
    scale: float = ELO_SCALE,
) -> np.ndarray:
    """Mean Elo rating per item over ``orders`` random orders of the comparisons."""
    return elo_many([comparisons], n_items, orders, rng, start=start, k=k, scale=scale)[0]


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
    """Per-column percentile interval of bootstrap samples (rows = replicates)."""
    lo = (1.0 - confidence) / 2.0 * 100.0
    return np.percentile(samples, lo, axis=0), np.percentile(samples, 100.0 - lo, axis=0)
