"""Reproducing a timing recipe: the measured table beside the published one, and the files it writes.

    from gcbench.recipes import reproduce
    report = reproduce("fgc-cityscapes-timing", "results/fgc", device="cuda")
    report.table   # per stage: time, difference from the baseline, the source's, parameters, GFLOPs

Absolute times cannot match across hardware, so the judged column is each model's difference
from the baseline in per cent (``diff_pct``) against the source's (``paper_diff_pct``): held when
they are within the recipe's tolerance, in percentage points. The preprocessing is reported as a
multiple of the baseline generator's time beside the source's multiple, not judged.

The output folder receives ``reproduce.csv`` (the table), ``reproduce_samples.csv`` (every timed
call: stage, repeat, seconds, GPU seconds), ``reproduce.json`` (machine fingerprint, protocol,
threads, clock, versions) and ``reproduce.md`` (the recipe, its conventions and deviations, the table).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.recipes.timing_run import PREPROCESS, Stage, TimingOverrides

if TYPE_CHECKING:
    import pandas as pd

    from gcbench.recipes.timing_model import TimingRecipe

COLUMNS = ["stage", "codec", "params_M", "gflops", "mean_s", "median_s", "iqr_s", "gpu_mean_s", "diff_pct",
           "paper_s", "paper_diff_pct", "delta_pp", "x_baseline", "paper_x_baseline", "tolerance", "held", "weights"]
RANDOM = "random (architecture timing)"
HARDWARE_NOTE = ("Absolute times cannot match across hardware: each model's difference from the baseline "
                 "(diff_pct) is compared with the source's (paper_diff_pct).")


def _stats(stage: Stage) -> dict[str, float]:
    import numpy as np

    wall = np.array([t.seconds for t in stage.samples], dtype=float)
    gpu = [t.gpu_seconds for t in stage.samples if t.gpu_seconds is not None]
    q1, med, q3 = np.quantile(wall, [0.25, 0.5, 0.75])
    return {"mean_s": float(wall.mean()), "median_s": float(med), "iqr_s": float(q3 - q1),
            "gpu_mean_s": float(np.mean(gpu)) if gpu else math.nan}


def comparison(recipe: TimingRecipe, stages: list[Stage]) -> pd.DataFrame:
    """One row per stage: measured time and difference from the baseline beside the source's."""
    import pandas as pd

    base = recipe.baseline
    measured = {s.codec or PREPROCESS: _stats(s) for s in stages}
    base_s = measured[base.codec]["mean_s"]
    rows = []
    for stage in stages:
        row: dict[str, Any] = {"stage": stage.label, "codec": stage.codec, "params_M": stage.params / 1e6,
                               "gflops": stage.gflops, **measured[stage.codec or PREPROCESS],
                               "tolerance": "", "held": None, "weights": RANDOM if stage.codec else ""}
        mean = row["mean_s"]
        row["x_baseline"] = mean / base_s
        if not stage.codec:  # the preprocessing: a multiple of the baseline, not judged
            row.update(diff_pct=math.nan, paper_s=math.nan, paper_diff_pct=math.nan, delta_pp=math.nan,
                       paper_x_baseline=recipe.paper_x_baseline if recipe.paper_x_baseline else math.nan,
                       tolerance="not judged")
        else:
            model = next(m for m in recipe.models if m.codec == stage.codec)
            diff = 100.0 * (mean - base_s) / base_s
            paper_diff = 100.0 * (model.paper_seconds - base.paper_seconds) / base.paper_seconds
            row.update(diff_pct=diff, paper_s=model.paper_seconds, paper_diff_pct=paper_diff,
                       delta_pp=diff - paper_diff, paper_x_baseline=model.paper_seconds / base.paper_seconds)
            if not model.baseline:
                row.update(tolerance=recipe.tolerance.describe() + " pp",
                           held=recipe.tolerance.holds(paper_diff, diff))
            else:
                row["tolerance"] = "baseline"
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """The table with the digits a reader needs: seconds to 4 significant digits, per cents to 2 decimals."""
    out = table.drop(columns=["weights"]).copy()

    def fmt(spec: str) -> Any:
        return lambda v: "" if isinstance(v, float) and math.isnan(v) else format(v, spec)

    for col in ("mean_s", "median_s", "iqr_s", "gpu_mean_s", "paper_s"):
        out[col] = out[col].map(fmt(".4g"))
    for col in ("diff_pct", "paper_diff_pct", "delta_pp"):
        out[col] = out[col].map(fmt("+.2f"))
    for col in ("x_baseline", "paper_x_baseline"):
        out[col] = out[col].map(fmt(".3f"))
    out["params_M"] = out["params_M"].map(fmt(".2f"))
    out["gflops"] = out["gflops"].map(fmt(".1f"))
    out["held"] = out["held"].map(lambda v: "—" if v is None or v != v else ("yes" if v else "NO"))
    return out


@dataclass
class TimingReproduceReport:
    """What a timing reproduction found: the table, the protocol it ran under, the files written."""

    recipe: TimingRecipe
    out: Path
    table: pd.DataFrame
    protocol: dict[str, Any]
    outputs: list[Path] = field(default_factory=list)

    @property
    def held(self) -> bool:
        """Every judged model's difference from the baseline within the tolerance of the source's."""
        judged = [h for h in self.table["held"] if h is not None and h == h]
        return bool(judged) and all(bool(h) for h in judged)

    def readable(self) -> pd.DataFrame:
        """The table as printed."""
        return readable(self.table)

    def text(self) -> str:
        """The verdict in a few lines."""
        verdict = "every model held" if self.held else "NOT reproduced"
        p = self.protocol
        lines = [f"{self.recipe.name}: {verdict} ({self.recipe.title})",
                 f"measured on {p['machine']} ({p['device']}, {p['size'][0]}×{p['size'][1]}, "
                 f"{p['warmup']} warm-up + {p['repeats']} timed rounds, {p['threads']} threads); "
                 f"the source: {self.recipe.hardware}, {self.recipe.statistic}", HARDWARE_NOTE]
        for _, row in self.table.iterrows():
            if not row["codec"]:
                paper = f"{row['paper_x_baseline']:.2f}×" if row["paper_x_baseline"] == row["paper_x_baseline"] else "—"
                lines.append(f"{row['stage']}: {row['x_baseline']:.3f}× the baseline generator (published {paper}; "
                             "not judged)")
            elif row["held"] is not None:
                lines.append(f"{row['stage']}: {row['diff_pct']:+.2f} % against {row['paper_diff_pct']:+.2f} % "
                             f"published ({row['delta_pp']:+.2f} pp; {row['tolerance']}: "
                             f"{'held' if row['held'] else 'NOT held'})")
        return "\n".join(lines)


def markdown(report: TimingReproduceReport) -> str:
    """The recipe, its conventions and deviations, the protocol and the table."""
    from gcbench.results.views import to_markdown

    r = report.recipe
    lines = [f"# {r.title}", "", f"Reproduces: {r.citation}" + (f" <{r.url}>" if r.url else ""), "",
             f"Verdict: {'every model held' if report.held else 'NOT reproduced'}", "", HARDWARE_NOTE, "",
             f"- source: {r.hardware}; {r.statistic}",
             f"- here: {report.protocol['machine']}; {report.protocol['clock']}"]
    lines += [f"- {key}: {text}" for key, text in r.conventions.items()]
    lines += [f"- deviation: {d}" for d in r.deviations]
    lines += [f"- tolerance diff_pct {r.tolerance.describe()} pp: {r.tolerance.why}"]
    if r.preprocess_why:
        lines.append(f"- preprocessing: {r.preprocess_why}")
    lines += ["", "Weights are random (seed 0): the table times architectures.", "",
              to_markdown(readable(report.table)), ""]
    return "\n".join(lines)


def _samples(stages: list[Stage]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([{"stage": s.label, "codec": s.codec, "repeat": i, "seconds": t.seconds,
                          "gpu_seconds": t.gpu_seconds} for s in stages for i, t in enumerate(s.samples)])


def write_products(report: TimingReproduceReport, stages: list[Stage]) -> list[Path]:
    """``reproduce.csv``, ``reproduce_samples.csv``, ``reproduce.json`` and ``reproduce.md``."""
    import json

    from gcbench.core.atomic import write_text
    from gcbench.results.views import write_table

    out = report.out
    out.mkdir(parents=True, exist_ok=True)
    versions = {s.codec: s.versions for s in stages if s.codec}
    return [write_table(report.table, out / "reproduce.csv"),
            write_table(_samples(stages), out / "reproduce_samples.csv"),
            write_text(out / "reproduce.json", json.dumps({**report.protocol, "versions": versions},
                                                          indent=2, sort_keys=True, default=str)),
            write_text(out / "reproduce.md", markdown(report))]


def _protocol(recipe: TimingRecipe, overrides: TimingOverrides, device: str) -> dict[str, Any]:
    from gcbench.core import defaults
    from gcbench.core.errors import ConfigError
    from gcbench.timing.clocks import check_device

    protocol = {"device": check_device(device), "size": list(overrides.size or recipe.size),
                "warmup": recipe.warmup if overrides.warmup is None else overrides.warmup,
                "repeats": recipe.repeats if overrides.repeats is None else overrides.repeats,
                "threads": overrides.threads or recipe.threads or defaults.TIMING_THREADS}
    if protocol["warmup"] < 0 or protocol["repeats"] < 1:
        raise ConfigError(f"--warmup must be 0 or more and --repeats at least 1, got {protocol['warmup']} "
                          f"and {protocol['repeats']}")
    return protocol


def reproduce_timing(recipe: TimingRecipe, out: str | Path, *, device: str = "cpu",
                     codec_options: Any = None, overrides: TimingOverrides | None = None,
                     progress: bool = True, cuda_backend: Any = None) -> TimingReproduceReport:
    """Time every stage of ``recipe`` on ``device`` and compare the relative differences with the source's."""
    import torch

    from gcbench.core.hardware import describe, fingerprint, flat_fingerprint
    from gcbench.recipes.reproduce import cannot_run
    from gcbench.recipes.timing_run import measure, missing_timing_pieces

    protocol = _protocol(recipe, overrides or TimingOverrides(), device)
    device = protocol["device"]
    missing = missing_timing_pieces(recipe, device, codec_options)
    if missing:
        raise cannot_run(recipe, missing)
    stages, threads = measure(recipe, device=device, size=tuple(protocol["size"]), warmup=protocol["warmup"],
                              repeats=protocol["repeats"], threads=protocol["threads"], options=codec_options,
                              progress=progress, cuda_backend=cuda_backend)
    fp = fingerprint(probe_gpu=device.startswith("cuda"))
    protocol.update(machine=describe(flat_fingerprint(fp)), fingerprint=fp, clock=threads.pop("clock"),
                    thread_settings=threads, input_channels=recipe.input_channels, weights="random, seed 0",
                    cudnn_allow_tf32=torch.backends.cudnn.allow_tf32, cudnn_benchmark=torch.backends.cudnn.benchmark)
    report = TimingReproduceReport(recipe, Path(out), comparison(recipe, stages), protocol)
    report.outputs = write_products(report, stages)
    return report
