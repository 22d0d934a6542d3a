"""Bootstrap Elo of a pairwise study: gcbench's vectorised ``elo_many`` against a plain loop.

The plain loop is CLIC's Elo as one writes it by hand: for each bootstrap replicate and each
random order, one Python-level rating update per game. Both compute the same numbers from the
same shuffles (checked). Printed: seconds of each and the ratio (>1: gcbench is faster).

    python benchmarks/study_elo.py [--participants 20] [--trials 144] [--replicates 200] [--orders 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def plain_elo(games: np.ndarray, perms: np.ndarray, n_items: int) -> np.ndarray:
    total = np.zeros(n_items)
    for perm in perms:
        r = [2000.0] * n_items
        for g in perm:
            w, lo = int(games[g, 0]), int(games[g, 1])
            e = 1.0 / (1.0 + 10 ** ((r[lo] - r[w]) / 400.0))
            r[w] += 30 * (1 - e)
            r[lo] -= 30 * (1 - e)
        total += r
    return total / len(perms)


def main() -> None:
    from gcbench.study.stats import elo_many

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=20)
    ap.add_argument("--trials", type=int, default=144, help="comparisons per participant")
    ap.add_argument("--codecs", type=int, default=3)
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--orders", type=int, default=20)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    strength = np.linspace(0, 1, args.codecs)
    people = []
    for _ in range(args.participants):
        a = rng.integers(0, args.codecs, args.trials)
        b = (a + rng.integers(1, args.codecs, args.trials)) % args.codecs
        a_wins = rng.random(args.trials) < 1 / (1 + np.exp(strength[b] - strength[a]))
        people.append(np.stack([np.where(a_wins, a, b), np.where(a_wins, b, a)], axis=1))
    replicates = [np.concatenate([people[i] for i in rng.integers(0, len(people), len(people))])
                  for _ in range(args.replicates)]

    # Same shuffles for both: elo_many draws rng.random((orders, m)) per replicate, in order.
    t0 = time.perf_counter()
    fast = elo_many(replicates, args.codecs, args.orders, np.random.default_rng(1))
    t_fast = time.perf_counter() - t0

    draw = np.random.default_rng(1)
    t0 = time.perf_counter()
    slow = np.stack([plain_elo(r, np.argsort(draw.random((args.orders, len(r))), axis=1), args.codecs)
                     for r in replicates])
    t_slow = time.perf_counter() - t0
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-8)

    games = args.replicates * args.orders * args.participants * args.trials
    print(f"{args.replicates} replicates × {args.orders} orders × {args.participants * args.trials} games "
          f"= {games:,} rating updates, {args.codecs} codecs (results equal to 1e-8)")
    print(f"plain loop        {t_slow:8.2f} s")
    print(f"gcbench elo_many  {t_fast:8.2f} s   ratio {t_slow / t_fast:6.1f}x")


if __name__ == "__main__":
    main()
