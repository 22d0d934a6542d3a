"""The study's figure: pairwise preference rates with Wilson intervals beside Elo ratings with
bootstrap intervals."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def _label(text: str) -> str:
    # Codec names are user text; a "$" would switch matplotlib into mathtext and may not parse.
    return str(text).replace("$", r"\$")


def plot_study(pairs: pd.DataFrame, scores: pd.DataFrame, out_stem: str | Path, confidence: float = 0.95,
               formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out_stem = Path(out_stem)
    fig, (ax_pairs, ax_elo) = plt.subplots(1, 2, figsize=(11, max(2.6, 0.55 * max(len(pairs), len(scores)) + 1.4)))
    y = np.arange(len(pairs))
    rate = pairs["preference_a"].to_numpy(dtype=float)
    lo, hi = pairs["ci_low"].to_numpy(dtype=float), pairs["ci_high"].to_numpy(dtype=float)
    ax_pairs.errorbar(rate, y, xerr=np.vstack([rate - lo, hi - rate]), fmt="o", capsize=4, color="tab:blue")
    ax_pairs.axvline(0.5, color="grey", lw=1, ls="--")
    ax_pairs.set_yticks(y, [f"{_label(a)} vs {_label(b)}" for a, b in zip(pairs["codec_a"], pairs["codec_b"], strict=True)])
    ax_pairs.set_xlim(0, 1)
    ax_pairs.invert_yaxis()
    ax_pairs.set_xlabel(f"preference for the first codec (Wilson {confidence:.0%} CI)")
    ax_pairs.set_title("Pairwise preferences")

    y2 = np.arange(len(scores))
    elo = scores["elo"].to_numpy(dtype=float)
    elo_lo, elo_hi = scores["elo_ci_low"].to_numpy(dtype=float), scores["elo_ci_high"].to_numpy(dtype=float)
    has_ci = np.isfinite(elo_lo) & np.isfinite(elo_hi)
    # A percentile interval need not contain the point estimate; draw what lies on each side.
    xerr = np.where(has_ci, np.clip([elo - elo_lo, elo_hi - elo], 0.0, None), 0.0)
    ax_elo.errorbar(elo, y2, xerr=xerr, fmt="s", capsize=4, color="tab:red")
    ax_elo.set_yticks(y2, [_label(c) for c in scores["codec"]])
    ax_elo.invert_yaxis()
    ax_elo.axvline(2000, color="grey", lw=1, ls="--")
    ax_elo.set_xlabel(f"Elo (start 2000, K 30; bootstrap {confidence:.0%} CI over participants)")
    ax_elo.set_title("Ratings")
    written = []
    for fmt in formats:
        path = out_stem.with_suffix(f".{fmt}")
        # "tight" grows the canvas to fit long codec names instead of squeezing the axes.
        fig.savefig(path, dpi=150, bbox_inches="tight")
        written.append(path)
    plt.close(fig)
    return written
