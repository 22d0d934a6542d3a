"""What ``gcbench ls`` shows, as DataFrames: every registered codec, metric and dataset."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from gcbench.analysis.bundled_references import list_references  # noqa: F401 - gcbench ls references
from gcbench.recipes.registry import list_recipes  # noqa: F401 - gcbench ls recipes

if TYPE_CHECKING:
    import pandas as pd


def _settings_text(settings: tuple[Any, ...]) -> str:
    return ",".join(str(s) for s in settings)


def list_codecs(pattern: str | None = None) -> pd.DataFrame:
    """Every registered codec: adapter, rate parameter, default settings, availability here."""
    import pandas as pd

    from gcbench.codecs.registry import codecs
    from gcbench.codecs.spec import build_codec

    rows = []
    for name in codecs.names(pattern):
        try:
            spec = codecs.get(name)
            avail = build_codec(spec).available()
            rows.append({"codec": name, "adapter": spec.adapter, "rate_param": spec.rate_param,
                         "settings": _settings_text(spec.settings), "status": avail.describe(),
                         "description": spec.description})
        except Exception as exc:  # noqa: BLE001 - list a broken entry rather than hide it
            rows.append({"codec": name, "adapter": "", "rate_param": "", "settings": "",
                         "status": f"broken: {exc}", "description": ""})
    return pd.DataFrame(rows, columns=["codec", "adapter", "rate_param", "settings", "status", "description"])


def list_metrics(pattern: str | None = None) -> pd.DataFrame:
    """Every registered metric (and metric family): kind, columns with their direction, library, availability."""
    import pandas as pd

    from gcbench.metrics.registry import metrics

    rows = []
    for name in metrics.names(pattern):
        try:
            cls = metrics.get(name)
            cols = ", ".join(f"{c.name} {'↑' if c.higher_is_better else '↓'}" for c in cls.columns)
            rows.append({"metric": name, "kind": cls.kind, "columns": cols, "library": cls.library,
                         "status": cls.available().describe()})
        except Exception as exc:  # noqa: BLE001
            rows.append({"metric": name, "kind": "", "columns": "", "library": "", "status": f"broken: {exc}"})
    for family in metrics.families():  # e.g. pyiqa:NAME, one row for the whole family
        label = f"{family.prefix}:NAME"
        if pattern is None or fnmatch.fnmatchcase(label, pattern):
            rows.append({"metric": label, "kind": "pair, noref", "columns": f"{family.prefix}_<name>",
                         "library": family.prefix, "status": f"{len(family.members())} names: {family.description}"})
    return pd.DataFrame(rows, columns=["metric", "kind", "columns", "library", "status"])


def list_datasets(pattern: str | None = None) -> pd.DataFrame:
    """Every registered dataset: its image count, whether and where it is on this machine, licence."""
    import pandas as pd

    from gcbench.data.acquire import dataset_status
    from gcbench.data.registry import datasets

    rows = []
    for name in datasets.names(pattern):
        entry = datasets.get(name)
        status = dataset_status(entry)
        rows.append({"dataset": name, "images": entry.n_images, "found": "" if status.found is None else str(status.found),
                     "where": str(status.where) if status.present else "", "license": entry.license,
                     "description": entry.description})
    return pd.DataFrame(rows, columns=["dataset", "images", "found", "where", "license", "description"])
