"""What a recipe needs that is not here: each missing codec, program, weight file, metric or dataset
(a timing recipe: each codec that cannot be built, and the device).

The checks are the run's own (``resolve_codecs``, ``resolve_metrics``, ``load_dataset``), called
one codec and one metric at a time so that every missing piece is named at once, each with the
message the run would give: what is missing and how to get it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from gcbench.core.errors import GcbenchError

if TYPE_CHECKING:
    from gcbench.recipes.model import Recipe
    from gcbench.recipes.timing_model import TimingRecipe


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """``GCBENCH_OFFLINE=1`` for the duration: checks find files, they never fetch them."""
    previous = os.environ.get("GCBENCH_OFFLINE")
    os.environ["GCBENCH_OFFLINE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("GCBENCH_OFFLINE", None)
        else:
            os.environ["GCBENCH_OFFLINE"] = previous


def codec_options(recipe: Recipe, extra: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """The spec option overrides of the recipe's codecs, with the caller's merged over them key by key."""
    from gcbench.execution.config import merge_values

    options = {c.codec: dict(c.options) for c in recipe.codecs if c.options}
    return merge_values(options, {k: dict(v) for k, v in (extra or {}).items()})


def _programs_of(codec: str, binaries: Mapping[str, str]) -> dict[str, str]:
    """The ``--binary`` paths of the programs ``codec`` runs (the run itself rejects names no codec runs)."""
    from gcbench.codecs.registry import codecs

    options = codecs.get(codec).options
    declared = options.get("binaries") if isinstance(options, dict) else None
    return {name: path for name, path in binaries.items() if isinstance(declared, dict) and name in declared}


def missing_pieces(recipe: Recipe | TimingRecipe, *, binaries: Mapping[str, str] | None = None, data_root: str | None = None,
                   device: str = "cpu", extra_options: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """One line per thing the recipe cannot find here (empty: it can run)."""
    from gcbench.data.datasets import load_dataset
    from gcbench.execution.runner import resolve_codecs, resolve_metrics
    from gcbench.recipes.timing_model import TimingRecipe

    if isinstance(recipe, TimingRecipe):
        from gcbench.recipes.timing_run import missing_timing_pieces

        return missing_timing_pieces(recipe, device, extra_options)
    problems: list[str] = []
    options = codec_options(recipe, extra_options)
    for entry in recipe.codecs:
        try:
            resolve_codecs([entry.argument], options, _programs_of(entry.codec, binaries or {}))
        except GcbenchError as exc:
            problems.append(f"codec {entry.codec}: {exc}")
    for metric in recipe.metrics:
        left_out: dict[str, str] = {}
        try:
            resolve_metrics([metric], device, recipe.metric_options, left_out)
        except GcbenchError as exc:
            problems.append(f"metric {metric}: {exc}")
        problems += [f"metric {name}: {why}" for name, why in left_out.items()]
    try:
        load_dataset(recipe.dataset, data_root)
    except GcbenchError as exc:
        problems.append(f"dataset {recipe.dataset}: {exc}")
    return problems
