"""Run a recipe as one resumable experiment and compare every point with the published one.

    from gcbench.recipes import reproduce
    report = reproduce("compressai-kodak-webp", "results/webp", jobs=2)
    report.held          # every compared point within its tolerance, and no task failed
    report.table         # published, measured, delta, tolerance, held per (codec, setting, column)

The run is ``gcbench.execution.runner.run`` with the recipe's codecs, settings, options, metrics
and dataset: nothing is re-implemented, so a second call resumes where the first stopped and a
finished one only recomputes the comparison. Anything missing (codec, program, weight file,
metric, dataset) is named before any work, all at once (:mod:`gcbench.recipes.check`).

The output folder receives, beside the run's own files, ``reproduce.csv`` (the comparison),
``reproduce.md`` (the recipe, its conventions and deviations, the comparison) and
``reproduce.png`` / ``.svg`` (the measured curves with the published ones dotted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.core.errors import ConfigError, UnavailableError

if TYPE_CHECKING:
    import pandas as pd

    from gcbench.recipes.model import Recipe
    from gcbench.recipes.timing_model import TimingRecipe
    from gcbench.recipes.timing_run import TimingOverrides


@dataclass
class ReproduceReport:
    """What a reproduction found: the comparison, the run behind it, the files written."""

    recipe: Recipe
    out: Path
    table: pd.DataFrame
    run: Any  # gcbench.execution.runner.RunReport
    outputs: list[Path] = field(default_factory=list)

    @property
    def held(self) -> bool:
        """Every compared point within its tolerance, and the run without failures."""
        return bool(len(self.table)) and bool(self.table["held"].all()) and not self.run.failed

    def readable(self) -> pd.DataFrame:
        """The comparison as printed."""
        from gcbench.recipes.compare import readable

        return readable(self.table)

    def text(self) -> str:
        """The verdict in a few lines (the table itself is ``reproduce.md``)."""
        from gcbench.recipes.compare import summary_lines

        verdict = "every point held" if self.held else "NOT reproduced"
        lines = [f"{self.recipe.name}: {verdict} ({self.recipe.title})", *summary_lines(self.table)]
        if self.run.failed:
            lines.append(self.run.text())
        return "\n".join(lines)


def cannot_run(recipe: Recipe | TimingRecipe, missing: list[str]) -> UnavailableError:
    """The error that stops a recipe before any work, one line per missing piece."""
    return UnavailableError(f"recipe {recipe.name!r} cannot run here; missing:\n  - " + "\n  - ".join(missing))


def reproduce(recipe: Recipe | TimingRecipe | str, out: str | Path | None = None, *, jobs: int = 1,
              device: str = "cpu", data_root: str | None = None, binaries: Mapping[str, str] | None = None,
              codec_options: Mapping[str, Mapping[str, Any]] | None = None, progress: bool = True,
              argv: list[str] | None = None, timing: TimingOverrides | None = None) -> Any:
    """Run ``recipe`` (a Recipe, a shipped name or a .toml path) into ``out`` and compare it with its source.

    A timing recipe (``kind = "timing"``) is measured instead (:mod:`gcbench.recipes.timing_report`);
    ``timing`` changes its size, warm-up, repeats or threads for a quick run, and is refused for
    any other recipe.
    """
    from gcbench.execution.runner import RunConfig, run
    from gcbench.recipes.check import codec_options as recipe_options
    from gcbench.recipes.check import missing_pieces
    from gcbench.recipes.compare import comparison_table
    from gcbench.recipes.registry import get_recipe
    from gcbench.results.views import summary_table

    from gcbench.recipes.timing_model import TimingRecipe as _Timing

    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    out = Path(out) if out is not None else Path("results") / recipe.name
    if isinstance(recipe, _Timing):
        from gcbench.recipes.timing_report import reproduce_timing

        return reproduce_timing(recipe, out, device=device, codec_options=codec_options, overrides=timing,
                                progress=progress)
    if timing is not None and timing.given():
        raise ConfigError(f"recipe {recipe.name!r} reproduces a curve: --size, --warmup, --repeats and --threads "
                          "apply to timing recipes only")
    missing = missing_pieces(recipe, binaries=binaries, data_root=data_root, device=device,
                             extra_options=codec_options)
    if missing:
        raise cannot_run(recipe, missing)
    config = RunConfig(codecs=[c.argument for c in recipe.codecs], dataset=recipe.dataset, out=out,
                       metrics=list(recipe.metrics), jobs=jobs, device=device, data_root=data_root,
                       codec_options=recipe_options(recipe, codec_options), binaries=dict(binaries or {}),
                       metric_options={k: dict(v) for k, v in recipe.metric_options.items()},
                       progress=progress, argv=argv)
    run_report = run(config)
    summary = summary_table(out)
    table = comparison_table(recipe, summary)
    report = ReproduceReport(recipe, out, table, run_report)
    report.outputs = write_products(report, summary)
    return report


def write_products(report: ReproduceReport, summary: pd.DataFrame) -> list[Path]:
    """``reproduce.csv``, ``reproduce.md`` and the plot with both curves."""
    from gcbench.analysis.plots import plot_rd
    from gcbench.analysis.references import load_references
    from gcbench.recipes.compare import measured_curves
    from gcbench.results.views import write_table

    out = report.out
    written = [write_table(report.table, out / "reproduce.csv")]
    md = out / "reproduce.md"
    md.write_text(markdown(report), encoding="utf-8")
    written.append(md)
    references = [curve for c in report.recipe.codecs for curve in load_references(c.reference)]
    mine = measured_curves(summary[summary["codec"].isin([c.codec for c in report.recipe.codecs])], report.recipe)
    compared = [col for c in report.recipe.codecs for col in c.columns]
    shown = [col for ref in references for col in ref.points.columns if col in mine.columns]  # drawn, not judged
    columns = [col for col in dict.fromkeys(compared + shown) if col != "bpp"]
    if not mine.empty and columns:
        written += plot_rd(mine, out / "reproduce", columns=columns, references=references, title=report.recipe.title)
    return written


def markdown(report: ReproduceReport) -> str:
    """The recipe, what it compares under which conventions, and the comparison."""
    from gcbench.recipes.compare import readable, summary_lines
    from gcbench.results.views import to_markdown

    recipe = report.recipe
    lines = [f"# {recipe.title}", "", f"Reproduces: {recipe.citation} <{recipe.url}>", "",
             f"Verdict: {'every point held' if report.held else 'NOT reproduced'}", ""]
    lines += [f"- {key}: {text}" for key, text in recipe.conventions.items()]
    for entry in recipe.codecs:
        lines += ["", f"## {entry.codec} against {entry.reference}", "", f"Protocol: {entry.protocol}", ""]
        lines += [f"- deviation: {d}" for d in entry.deviations]
        lines += [f"- tolerance {t.column} {t.describe()}: {t.why}" for t in entry.tolerances]
    lines += ["", "## Summary", "", *[f"- {line}" for line in summary_lines(report.table)], "",
              "## Every point", "", to_markdown(readable(report.table)), ""]
    return "\n".join(lines)
