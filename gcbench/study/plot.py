"""The study's figure: pairwise preference rates with cluster-bootstrap intervals (Wilson where
there is no bootstrap) beside maximum-likelihood Elo ratings with their bootstrap intervals."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def _label(text: str) -> str:
    # Codec names are user text; a "$" would switch matplotlib into mathtext and may not parse.
    return str(text).replace("$", r"\$")


def _sides(value: Any, lo: Any, hi: Any) -> Any:
    """errorbar's [below, above]; a percentile interval need not contain the estimate: draw each side clipped."""
    import numpy as np

    has = np.isfinite(lo) & np.isfinite(hi)
    return np.where(has, np.clip([value - lo, hi - value], 0.0, None), 0.0)


def plot_study(pairs: pd.DataFrame, scores: pd.DataFrame, out_stem: str | Path, confidence: float = 0.95,
               formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Draw the pairs and scores tables of an analysis into ``out_stem``.png/.svg."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out_stem = Path(out_stem)
    fig, (ax_pairs, ax_elo) = plt.subplots(1, 2, figsize=(11, max(2.6, 0.55 * max(len(pairs), len(scores)) + 1.4)))
    y = np.arange(len(pairs))
    rate = pairs["preference_a"].to_numpy(dtype=float)
    lo, hi = pairs["ci_low"].to_numpy(dtype=float), pairs["ci_high"].to_numpy(dtype=float)
    clustered = bool(np.isfinite(lo).any())
    if not clustered:  # no bootstrap: the Wilson interval, which treats trials as independent
        lo, hi = pairs["wilson_low"].to_numpy(dtype=float), pairs["wilson_high"].to_numpy(dtype=float)
    ax_pairs.errorbar(rate, y, xerr=_sides(rate, lo, hi), fmt="o", capsize=4, color="tab:blue")
    ax_pairs.axvline(0.5, color="grey", lw=1, ls="--")
    ax_pairs.set_yticks(y, [f"{_label(a)} vs {_label(b)}" for a, b in zip(pairs["codec_a"], pairs["codec_b"], strict=True)])
    ax_pairs.set_xlim(0, 1)
    ax_pairs.invert_yaxis()
    kind = "cluster bootstrap" if clustered else "Wilson"
    ax_pairs.set_xlabel(f"preference for the first codec ({kind} {confidence:.0%} CI)")
    ax_pairs.set_title("Pairwise preferences")

    y2 = np.arange(len(scores))
    elo = scores["elo_ml"].to_numpy(dtype=float)
    ax_elo.errorbar(elo, y2, xerr=_sides(elo, scores["elo_ml_ci_low"].to_numpy(dtype=float),
                                         scores["elo_ml_ci_high"].to_numpy(dtype=float)),
                    fmt="s", capsize=4, color="tab:red", label="maximum likelihood")
    ax_elo.plot(scores["elo_sequential"].to_numpy(dtype=float), y2, "o", mfc="none", color="grey",
                label="sequential (K 30)")
    ax_elo.set_yticks(y2, [_label(c) for c in scores["codec"]])
    ax_elo.invert_yaxis()
    ax_elo.axvline(2000, color="grey", lw=1, ls="--")
    ax_elo.set_xlabel(f"Elo (400·log10 scale, mean 2000; bootstrap {confidence:.0%} CI)")
    ax_elo.legend(loc="best", fontsize="small")
    ax_elo.set_title("Ratings")
    written = []
    for fmt in formats:
        path = out_stem.with_suffix(f".{fmt}")
        # "tight" grows the canvas to fit long codec names instead of squeezing the axes.
        fig.savefig(path, dpi=150, bbox_inches="tight")
        written.append(path)
    plt.close(fig)
    return written
