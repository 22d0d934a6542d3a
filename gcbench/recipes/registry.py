"""The recipes shipped in the top-level ``recipes/`` folder (``gcbench/_data/recipes`` in a wheel), by name.

A recipe's name is its file's stem (``recipes/compressai-kodak-webp.toml`` → ``compressai-kodak-webp``);
any other recipe file is used by its path.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.core.registry import Registry, lazy

if TYPE_CHECKING:
    import pandas as pd

    from gcbench.recipes.model import Recipe
    from gcbench.recipes.timing_model import TimingRecipe


def recipes_folder() -> Path | None:
    """The shipped ``recipes/`` folder (None in an installation without it)."""
    from gcbench.core.resources import data_dir

    return data_dir("recipes")


def _populate(reg: Registry[Any]) -> None:
    from gcbench.recipes.model import load_recipe_file

    folder = recipes_folder()
    for path in sorted(folder.glob("*.toml")) if folder is not None else []:
        reg.add(path.stem, lazy(lambda path=path: load_recipe_file(path)), origin=str(path))


recipes: Registry[Recipe | TimingRecipe] = Registry("recipe", populate=_populate)


def get_recipe(name_or_path: str | Path) -> Recipe | TimingRecipe:
    """A shipped recipe by name, or the recipe in a ``.toml`` file."""
    from gcbench.recipes.model import load_recipe_file

    text = str(name_or_path)
    if text.endswith(".toml"):
        return load_recipe_file(text)
    return recipes.get(text)


def list_recipes(pattern: str | None = None) -> pd.DataFrame:
    """What ``gcbench ls recipes`` shows: each recipe, what it reproduces, what it needs, and whether it runs here."""
    import pandas as pd

    from gcbench.recipes.check import missing_pieces, offline

    rows = []
    for name in recipes.names(pattern):
        try:
            recipe = recipes.get(name)
            with offline():  # a listing never downloads weights or datasets
                missing = missing_pieces(recipe)
            status = "runnable" if not missing else "missing: " + "; ".join(missing)
            rows.append({"recipe": name, "reproduces": recipe.title, "dataset": recipe.dataset,
                         "codecs": ", ".join(c.argument for c in recipe.codecs),
                         "metrics": ", ".join(recipe.metrics), "status": status})
        except Exception as exc:  # noqa: BLE001 - list a broken recipe rather than hide it
            rows.append({"recipe": name, "reproduces": "", "dataset": "", "codecs": "", "metrics": "",
                         "status": f"broken: {exc}"})
    return pd.DataFrame(rows, columns=["recipe", "reproduces", "dataset", "codecs", "metrics", "status"])
