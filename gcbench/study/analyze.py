"""Analyse a pairwise study: check the answers, apply quality control, score the codecs.

    from gcbench.study import AnalysisConfig, analyze_study
    report = analyze_study(AnalysisConfig(key="study/study-key.json", answers=["a1.json", "a2.json"]))

Quality control, both reported: participants whose catch-trial accuracy is below
``catch_pass`` are dropped, and so are trials answered faster than ``min_rt_s`` (by default
the minimum viewing time the form enforced, which only an altered form can undercut) or
slower than ``max_rt_s`` when given.

Per codec pair: preference rate with a Wilson interval and an exact two-sided binomial test
against 50 %. Per codec: Bradley–Terry log-strength (choix) and CLIC-style Elo (start 2000,
K 30, scale 400, mean over random orders), each with a percentile bootstrap interval that
resamples participants (a participant's trials stay together: they are not independent).

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
    binomial_p,
    bradley_terry,
    elo_many,
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
        return self.pairs.assign(p_value=[f"{p:.3g}" if not math.isnan(p) else "" for p in self.pairs["p_value"]])

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
    if not config.answers:
        raise ConfigError("no answers files given")


def _quality_control(key: dict[str, Any], accepted: list[Answers], config: AnalysisConfig) -> tuple[list[dict[str, Any]], dict[str, list[tuple[str, str]]]]:
    """Per-participant rows, and each kept participant's (winner, loser) codec comparisons."""
    min_rt = config.min_rt_s if config.min_rt_s is not None else float(key["options"].get("min_view_s", 0.0))
    max_rt = config.max_rt_s
    rows: list[dict[str, Any]] = []
    games: dict[str, list[tuple[str, str]]] = {}
    for ans in accepted:
        part = ans.participant
        design = {t["trial"]: t for t in part["trials"]}
        catch_total = catch_ok = too_fast = too_slow = 0
        pairs: list[tuple[str, str]] = []
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
            pairs.append((chosen, other))
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


def _pair_table(codecs: list[str], comparisons: np.ndarray, bpp: dict[str, float], confidence: float) -> list[dict[str, Any]]:
    wins = win_matrix(comparisons, len(codecs))
    rows = []
    for i, j in combinations(range(len(codecs)), 2):
        n = int(wins[i, j] + wins[j, i])
        w = int(wins[i, j])
        lo, hi = wilson_interval(w, n, confidence)
        rows.append({
            "codec_a": codecs[i], "codec_b": codecs[j], "bpp_a": bpp.get(codecs[i], math.nan),
            "bpp_b": bpp.get(codecs[j], math.nan), "n": n, "wins_a": w, "wins_b": n - w,
            "preference_a": w / n if n else math.nan, "ci_low": lo, "ci_high": hi, "p_value": binomial_p(w, n),
        })
    return rows


def _bootstrap(codecs: list[str], games: dict[str, np.ndarray], config: AnalysisConfig,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    people = list(games)
    if config.bootstrap == 0 or len(people) < 2:
        return None
    n = len(codecs)
    replicates = []
    for _ in range(config.bootstrap):
        picks = rng.integers(0, len(people), size=len(people))
        parts = [games[people[p]] for p in picks]
        replicates.append(np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64))
    bt = np.stack([bradley_terry(win_matrix(r, n), config.bt_alpha).scores for r in replicates])
    elo = elo_many(replicates, n, config.bootstrap_elo_orders, rng)
    return bt, elo


def analyze_study(config: AnalysisConfig) -> AnalysisReport:
    import pandas as pd

    _check(config)
    key = read_key(config.key)
    out = Path(config.out) if config.out is not None else Path(key["_path"]).parent / "analysis"
    accepted, rejected = load_answers(key, list(config.answers))
    part_rows, games_by_name = _quality_control(key, accepted, config)

    codecs: list[str] = list(key["codecs"])
    index = {c: i for i, c in enumerate(codecs)}
    games = {pid: np.array([(index[w], index[lo]) for w, lo in g], dtype=np.int64).reshape(-1, 2)
             for pid, g in games_by_name.items()}
    all_games = np.concatenate(list(games.values())) if games else np.zeros((0, 2), dtype=np.int64)
    bpp = {row["codec"]: row["mean_bpp"] for row in key["selection"].get("bpp", [])}
    notes: list[str] = []

    rng = np.random.default_rng(config.seed)
    pairs = pd.DataFrame(_pair_table(codecs, all_games, bpp, config.confidence))
    wins = win_matrix(all_games, len(codecs))
    fit = bradley_terry(wins, config.bt_alpha)
    if fit.regularised and len(all_games):
        notes.append(f"some codec never won or never lost, so the Bradley–Terry maximum-likelihood scores do not exist; "
                     f"they are regularised (alpha {config.bt_alpha})")
    elo = elo_many([all_games], len(codecs), config.elo_orders, rng)[0]
    boot = _bootstrap(codecs, games, config, rng)
    if boot is None:
        notes.append("bootstrap intervals need at least two kept participants" if config.bootstrap else "no bootstrap asked for")
        nan = np.full(len(codecs), math.nan)
        bt_lo = bt_hi = elo_lo = elo_hi = nan
    else:
        bt_lo, bt_hi = percentile_interval(boot[0], config.confidence)
        elo_lo, elo_hi = percentile_interval(boot[1], config.confidence)
    played = wins.sum(axis=1) + wins.sum(axis=0)
    unplayed = played == 0  # a codec nobody judged has no score, not the starting one
    bt_score, elo = np.where(unplayed, math.nan, fit.scores), np.where(unplayed, math.nan, elo)
    bt_lo, bt_hi = np.where(unplayed, math.nan, bt_lo), np.where(unplayed, math.nan, bt_hi)
    elo_lo, elo_hi = np.where(unplayed, math.nan, elo_lo), np.where(unplayed, math.nan, elo_hi)
    scores = pd.DataFrame({
        "codec": codecs, "mean_bpp": [bpp.get(c, math.nan) for c in codecs],
        "comparisons": [int(wins[i].sum() + wins[:, i].sum()) for i in range(len(codecs))],
        "wins": [int(wins[i].sum()) for i in range(len(codecs))],
        "bt_score": bt_score, "bt_ci_low": bt_lo, "bt_ci_high": bt_hi,
        "elo": elo, "elo_ci_low": elo_lo, "elo_ci_high": elo_hi,
    }).sort_values("elo", ascending=False, kind="stable").reset_index(drop=True)
    participants = pd.DataFrame(part_rows, columns=[
        "participant", "file", "status", "answered", "given", "complete", "catch_correct", "catch_total",
        "catch_accuracy", "too_fast", "too_slow", "comparisons_used", "median_rt_s", "mean_flips"])
    if not games:
        notes.append("no participant passed quality control: nothing to score")
    report = AnalysisReport(out=out, pairs=pairs, scores=scores, participants=participants, rejected=rejected,
                            n_comparisons=len(all_games), notes=notes)
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
