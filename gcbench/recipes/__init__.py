"""Recipes: a published table (a shipped reference curve) and the exact run that reproduces it.

A recipe is a TOML file in the top-level ``recipes/`` folder: the source (curve name, citation,
URL), the dataset, each codec with the source's settings and options, the metrics, the
conventions (rate accounting, MS-SSIM dB of the mean) and a tolerance per compared column with the
reason for it. ``gcbench ls recipes`` lists them with what each needs and whether it runs here;
``gcbench reproduce NAME`` runs one and says point by point whether the published numbers held.
A timing recipe (``kind = "timing"``) holds a published table of model times instead: the models
are timed on the machine at hand and their differences from a baseline compared with the source's.

Layer: above ``gcbench.report`` and below ``gcbench.catalog``; it runs experiments through
``gcbench.execution`` and compares with curves from ``gcbench.analysis``.
"""

from __future__ import annotations

from gcbench.recipes.model import Recipe, RecipeCodec, Tolerance, load_recipe_file
from gcbench.recipes.registry import get_recipe, list_recipes, recipes
from gcbench.recipes.reproduce import ReproduceReport, reproduce
from gcbench.recipes.timing_model import TimingModel, TimingRecipe
from gcbench.recipes.timing_report import TimingReproduceReport
from gcbench.recipes.timing_run import TimingOverrides

__all__ = ["Recipe", "RecipeCodec", "Tolerance", "ReproduceReport", "TimingModel", "TimingOverrides", "TimingRecipe",
           "TimingReproduceReport", "get_recipe", "list_recipes", "load_recipe_file", "recipes", "reproduce"]
