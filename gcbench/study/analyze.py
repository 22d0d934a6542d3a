"""Analyse a pairwise study: check the answers, apply quality control, score the codecs.

    from gcbench.study import AnalysisConfig, analyze_study
    report = analyze_study(AnalysisConfig(key="study/study-key.json", answers=["a1.json", "a2.json"]))

Quality control, both reported: participants whose catch-trial accuracy is below
``catch_pass`` are dropped, and so are trials answered faster than ``min_rt_s`` (by default
the minimum viewing time the form enforced, which only an altered form can undercut) or
slower than ``max_rt_s`` when given.

Trials are not independent: one participant answers many, and one image appears in many. Per
codec pair: preference rate with a percentile interval from the two-way cluster bootstrap over
participants and images (``clusters``; gcbench.study.stats), beside the Wilson interval and the
exact two-sided binomial test against 50 % (both of which treat trials as independent), and
Holm's adjustment of those p-values over all pairs. Every kept trial of a pair is pooled
(participants, images, crops, sides); the summary says so. Per codec: Bradley–Terry
log-strength (choix), maximum-likelihood Elo on the 400·log10 scale anchored at a mean of 2000
as CLIC's scoring code does (``elo_ml``), and sequential Elo (start 2000, K 30, mean over random
orders: ``elo_sequential``), each with a percentile interval from the same cluster bootstrap.

Outputs in ``out``: ``pairs.csv``, ``scores.csv``, ``participants.csv``, ``rejected.csv``,
``summary.md`` and ``preferences.png``/``.svg``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gcbench.core.errors import ConfigError
from gcbench.study.answers import Answers, Rejected, load_answers
from gcbench.study.keyfile import read_key
from gcbench.study.stats import (
    CLUSTERS,
    binomial_p,
    bradley_terry,
    cluster_weights,
    elo_many,
    elo_ml,
    holm,
    percentile_interval,
    wilson_interval,
    win_matrix,
)

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class AnalysisConfig:
    key: str | Path
    answers: list[str | Path]
    out: str | Path | None = None  # default: an "analysis" folder beside the key
    catch_pass: float = 0.8
    min_rt_s: float | None = None  # default: the form's minimum viewing time
    max_rt_s: float | None = None
    confidence: float = 0.95
    bootstrap: int = 1000
    elo_orders: int = 1000
    bootstrap_elo_orders: int = 20  # per replicate; the spread comes from resampling participants
    clusters: str = "participants+images"  # what the bootstrap resamples (gcbench.study.stats.CLUSTERS)
    bt_alpha: float = 0.01
    seed: int = 0
    plot: bool = True


@dataclass
class AnalysisReport:
    out: Path
    pairs: pd.DataFrame
    scores: pd.DataFrame
    participants: pd.DataFrame
    rejected: list[Rejected]
    n_comparisons: int
    notes: list[str] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)

    def text(self) -> str:
        from gcbench.results.views import to_markdown

        lines = self.quality_lines()
        lines += ["", "Pairwise preferences:", to_markdown(self.pairs_for_display()), "", "Scores:",
                  to_markdown(self.scores)]
        lines += [f"wrote {p}" for p in self.outputs]
        return "\n".join(lines)

    def pairs_for_display(self) -> pd.DataFrame:
        """The pairs table with p-values in significant digits (a fixed 4 decimals would print 0.0000)."""
        return self.pairs.assign(**{column: [f"{p:.3g}" if not math.isnan(p) else "" for p in self.pairs[column]]
                                    for column in ("p_value", "p_holm")})

    def quality_lines(self) -> list[str]:
        """What was read, rejected and dropped, and why."""
        kept = int((self.participants["status"] == "kept").sum()) if len(self.participants) else 0
        lines = [(f"{kept} participants kept of {len(self.participants)} valid answer files "
                  f"({len(self.rejected)} rejected); {self.n_comparisons} comparisons analysed")]
        for r in self.rejected:
            lines.append(f"  rejected {r.file}: {r.reason}")
        if len(self.participants):
            for row in self.participants.itertuples():
                if row.status != "kept":
                    lines.append(f"  dropped {row.participant} ({row.file}): {row.status}")
                elif row.too_fast or row.too_slow:
                    lines.append(f"  {row.participant}: {row.too_fast} trials too fast, {row.too_slow} too slow, dropped")
        lines += [f"  note: {n}" for n in self.notes]
        return lines


def _check(config: AnalysisConfig) -> None:
    if not 0.0 <= config.catch_pass <= 1.0:
        raise ConfigError(f"--catch-pass must lie between 0 and 1, got {config.catch_pass}")
    if not 0.5 < config.confidence < 1.0:
        raise ConfigError(f"--confidence must lie between 0.5 and 1, got {config.confidence}")
    if config.bootstrap < 0 or config.elo_orders < 1 or config.bootstrap_elo_orders < 1:
        raise ConfigError("--bootstrap must be >= 0 and the Elo order counts >= 1")
    if config.clusters not in CLUSTERS:
        raise ConfigError(f"--clusters must be one of {', '.join(CLUSTERS)}, got {config.clusters!r}")
    if not config.answers:
        raise ConfigError("no answers files given")


def _quality_control(key: dict[str, Any], accepted: list[Answers], config: AnalysisConfig) -> tuple[list[dict[str, Any]], dict[str, list[tuple[str, str, str]]]]:
    """Per-participant rows, and each kept participant's (winner, loser, image) comparisons."""
    min_rt = config.min_rt_s if config.min_rt_s is not None else float(key["options"].get("min_view_s", 0.0))
    max_rt = config.max_rt_s
    image_of = {it["item"]: it["image"] for it in key.get("items", [])}
    rows: list[dict[str, Any]] = []
    games: dict[str, list[tuple[str, str, str]]] = {}
    for ans in accepted:
        part = ans.participant
        design = {t["trial"]: t for t in part["trials"]}
        catch_total = catch_ok = too_fast = too_slow = 0
        pairs: list[tuple[str, str, str]] = []
        for a in ans.trials:
            t = design[a["trial"]]
            if t["kind"] == "catch":
                catch_total += 1
                catch_ok += a["choice"] == t["original_side"]
                continue
            if a["rt_ms"] < min_rt * 1000.0:
                too_fast += 1
                continue
            if max_rt is not None and a["rt_ms"] > max_rt * 1000.0:
                too_slow += 1
                continue
            chosen = t["left_codec"] if a["choice"] == "left" else t["right_codec"]
            other = t["right_codec"] if a["choice"] == "left" else t["left_codec"]
            pairs.append((chosen, other, image_of.get(t.get("item"), "")))
        accuracy = catch_ok / catch_total if catch_total else math.nan
        if catch_total and accuracy < config.catch_pass:
            status = f"failed catch trials ({catch_ok} of {catch_total} correct, {config.catch_pass:.0%} needed)"
        else:
            status = "kept"
            games[part["id"]] = pairs
        rts = [a["rt_ms"] for a in ans.trials]
        rows.append({
            "participant": part["id"], "file": ans.file, "status": status, "answered": len(ans.trials),
            "given": len(part["trials"]), "complete": ans.complete, "catch_correct": catch_ok,
            "catch_total": catch_total, "catch_accuracy": accuracy, "too_fast": too_fast, "too_slow": too_slow,
            "comparisons_used": len(pairs) if status == "kept" else 0,
            "median_rt_s": float(np.median(rts)) / 1000.0 if rts else math.nan,
            "mean_flips": float(np.mean([a["flips"] for a in ans.trials])) if ans.trials else math.nan,
        })
    return rows, games


@dataclass
class Trials:
    """The kept comparisons as arrays: (winner, loser) codec indices, and each one's clusters."""

    comparisons: np.ndarray  # T × 2
    participant: np.ndarray  # T, index into ``people``
    image: np.ndarray  # T, index into ``images``
    people: list[str]
    images: list[str]

    @classmethod
    def build(cls, games: dict[str, list[tuple[str, str, str]]], codecs: list[str]) -> Trials:
        """Arrays from each kept participant's (winner, loser, image) comparisons."""
        index = {c: i for i, c in enumerate(codecs)}
        people = list(games)
        images = sorted({image for g in games.values() for _, _, image in g})
        image_index = {name: i for i, name in enumerate(images)}
        rows = [(index[w], index[lo], p, image_index[img]) for p, pid in enumerate(people) for w, lo, img in games[pid]]
        a = np.array(rows, dtype=np.int64).reshape(-1, 4)
        return cls(a[:, :2], a[:, 2], a[:, 3], people, images)


def _cluster_draws(trials: Trials, config: AnalysisConfig, rng: np.random.Generator) -> tuple[np.ndarray | None, str]:
    """Bootstrap weights (replicates × trials), or None with the reason."""
    if config.bootstrap == 0:
        return None, "no bootstrap asked for"
    if "participants" in config.clusters and len(trials.people) < 2:
        return None, "bootstrap intervals need at least two kept participants"
    if config.clusters == "images" and len(trials.images) < 2:
        return None, "bootstrap intervals over images need at least two images"
    return cluster_weights(trials.participant, trials.image, config.bootstrap, rng, config.clusters), ""


def _pair_table(codecs: list[str], trials: Trials, weights: np.ndarray | None, bpp: dict[str, float],
                confidence: float) -> list[dict[str, Any]]:
    wins = win_matrix(trials.comparisons, len(codecs))
    rows = []
    for i, j in combinations(range(len(codecs)), 2):
        n, w = int(wins[i, j] + wins[j, i]), int(wins[i, j])
        lo, hi = wilson_interval(w, n, confidence)
        pair = np.isin(trials.comparisons[:, 0], (i, j)) & np.isin(trials.comparisons[:, 1], (i, j))
        ci = (math.nan, math.nan)
        if weights is not None and n:
            won = (trials.comparisons[pair, 0] == i).astype(np.float64)
            total = weights[:, pair].sum(axis=1).astype(np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                replicates = np.where(total > 0, weights[:, pair] @ won / total, math.nan)
            low, high = percentile_interval(replicates[:, None], confidence)
            ci = (float(low[0]), float(high[0]))
        rows.append({
            "codec_a": codecs[i], "codec_b": codecs[j], "bpp_a": bpp.get(codecs[i], math.nan),
            "bpp_b": bpp.get(codecs[j], math.nan), "n": n, "wins_a": w, "wins_b": n - w,
            "preference_a": w / n if n else math.nan, "ci_low": ci[0], "ci_high": ci[1],
            "wilson_low": lo, "wilson_high": hi, "p_value": binomial_p(w, n),
            "participants": len(np.unique(trials.participant[pair])), "images": len(np.unique(trials.image[pair])),
        })
    for row, adjusted in zip(rows, holm([r["p_value"] for r in rows]), strict=True):
        row["p_holm"] = float(adjusted)
    return rows


def _scores(codecs: list[str], trials: Trials, weights: np.ndarray | None, config: AnalysisConfig,
            rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Point estimates and percentile intervals of the three scores (NaN for unplayed codecs)."""
    n = len(codecs)
    wins = win_matrix(trials.comparisons, n)
    out = {"bt_score": bradley_terry(wins, config.bt_alpha).scores, "elo_ml": elo_ml(wins),
           "elo_sequential": elo_many([trials.comparisons], n, config.elo_orders, rng)[0]}
    if weights is not None:
        replicates = {
            "bt_score": np.stack([bradley_terry(win_matrix(trials.comparisons, n, w), config.bt_alpha).scores
                                  for w in weights]),
            "elo_ml": np.stack([elo_ml(win_matrix(trials.comparisons, n, w)) for w in weights]),
            "elo_sequential": elo_many([np.repeat(trials.comparisons, w, axis=0) for w in weights], n,
                                       config.bootstrap_elo_orders, rng),
        }
    unplayed = (wins.sum(axis=1) + wins.sum(axis=0)) == 0  # a codec nobody judged has no score
    for name in list(out):
        lo, hi = (percentile_interval(replicates[name], config.confidence) if weights is not None
                  else (np.full(n, math.nan), np.full(n, math.nan)))
        prefix = "bt" if name == "bt_score" else name
        for column, values in ((name, out[name]), (f"{prefix}_ci_low", lo), (f"{prefix}_ci_high", hi)):
            out[column] = np.where(unplayed, math.nan, values)
    return out


def _pooling_note(trials: Trials, config: AnalysisConfig, n_pairs: int, bootstrapped: bool) -> str:
    what = (f"{config.clusters} cluster bootstrap, {config.bootstrap} replicates over {len(trials.people)} "
            f"participants and {len(trials.images)} images" if bootstrapped else "no cluster bootstrap")
    return (f"each pair pools all its kept trials across participants, images, crops and sides; ci_low/ci_high: "
            f"{what}; Wilson intervals and binomial p-values treat trials as independent; p_holm: Holm over "
            f"{n_pairs} pairs")


def analyze_study(config: AnalysisConfig) -> AnalysisReport:
    """Validate the answers, apply quality control, and write the pairs and scores tables."""
    import pandas as pd

    _check(config)
    key = read_key(config.key)
    out = Path(config.out) if config.out is not None else Path(key["_path"]).parent / "analysis"
    accepted, rejected = load_answers(key, list(config.answers))
    part_rows, games = _quality_control(key, accepted, config)
    codecs: list[str] = list(key["codecs"])
    trials = Trials.build(games, codecs)
    bpp = {row["codec"]: row["mean_bpp"] for row in key["selection"].get("bpp", [])}
    rng = np.random.default_rng(config.seed)
    weights, why_not = _cluster_draws(trials, config, rng)
    notes = [why_not] if why_not else []
    pairs = pd.DataFrame(_pair_table(codecs, trials, weights, bpp, config.confidence))
    notes.append(_pooling_note(trials, config, len(pairs), weights is not None))
    wins = win_matrix(trials.comparisons, len(codecs))
    if len(trials.comparisons) and bradley_terry(wins, config.bt_alpha).regularised:
        notes.append(f"some codec never won or never lost, so the Bradley–Terry maximum-likelihood scores do not exist; "
                     f"they are regularised (alpha {config.bt_alpha}); elo_ml stays finite through its ridge")
    scores = pd.DataFrame({
        "codec": codecs, "mean_bpp": [bpp.get(c, math.nan) for c in codecs],
        "comparisons": [int(wins[i].sum() + wins[:, i].sum()) for i in range(len(codecs))],
        "wins": [int(wins[i].sum()) for i in range(len(codecs))],
        **_scores(codecs, trials, weights, config, rng),
    }).sort_values("elo_ml", ascending=False, kind="stable").reset_index(drop=True)
    participants = pd.DataFrame(part_rows, columns=[
        "participant", "file", "status", "answered", "given", "complete", "catch_correct", "catch_total",
        "catch_accuracy", "too_fast", "too_slow", "comparisons_used", "median_rt_s", "mean_flips"])
    if not games:
        notes.append("no participant passed quality control: nothing to score")
    report = AnalysisReport(out=out, pairs=pairs, scores=scores, participants=participants, rejected=rejected,
                            n_comparisons=len(trials.comparisons), notes=notes)
    report.outputs = _write(report, config)
    return report


def _write(report: AnalysisReport, config: AnalysisConfig) -> list[Path]:
    import pandas as pd

    from gcbench.results.views import to_markdown

    out = report.out
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in (("pairs", report.pairs), ("scores", report.scores), ("participants", report.participants),
                     ("rejected", pd.DataFrame([{"file": r.file, "reason": r.reason} for r in report.rejected],
                                               columns=["file", "reason"]))):
        path = out / f"{name}.csv"
        df.to_csv(path, index=False)
        written.append(path)
    md = out / "summary.md"
    md.write_text("\n\n".join([
        "# Pairwise study", "\n".join(report.quality_lines()),
        "## Pairwise preferences", to_markdown(report.pairs_for_display()), "## Scores", to_markdown(report.scores),
        "## Participants", to_markdown(report.participants),
    ]) + "\n", encoding="utf-8")
    written.append(md)
    if config.plot and report.n_comparisons:
        from gcbench.study.plot import plot_study

        written += plot_study(report.pairs, report.scores, out / "preferences", config.confidence)
    return written
