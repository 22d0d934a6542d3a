"""gcbench ls: list codecs, metrics or datasets with their availability."""

from __future__ import annotations

import argparse
import math
import shutil
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

MIN_COLUMN = 8  # a column is never cut narrower than this (or its header, if shorter)
SHARE = 16  # columns on the right are first cut to this, before any other column is cut
GAP = "  "


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``gcbench ls``."""
    p = sub.add_parser("ls", help="list codecs, metrics or datasets", description=__doc__)
    p.add_argument("what", choices=["codecs", "metrics", "datasets", "references", "recipes"])
    p.add_argument("pattern", nargs="?", help="shell wildcard filter, e.g. 'jpeg*'")
    p.add_argument("--format", choices=["text", "md"], default="text",
                   help="text: an aligned table cut to the terminal's width (default); md: Markdown, nothing cut")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Print the catalog's table for ``args.what``."""
    from gcbench.catalog import list_codecs, list_datasets, list_metrics, list_recipes, list_references

    table = {"codecs": list_codecs, "metrics": list_metrics, "datasets": list_datasets,
             "references": list_references, "recipes": list_recipes}[args.what](args.pattern)
    if args.format == "md":
        from gcbench.results.views import to_markdown

        print(to_markdown(table))
    else:
        print(text_table(table, shutil.get_terminal_size().columns))
    if args.what == "datasets" and (table["found"] == "").any():
        print("\nfound empty: not on this machine; `gcbench datasets download NAME` fetches one "
              "(cityscapes reads your own copy: --data-root ROOT)")
    return 0


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return " ".join(str(value).split())  # one line per row


def _fit(widths: list[int], floors: list[int], width: int) -> list[int]:
    """Narrow columns until the row fits ``width``.

    First the columns on the right (the catalogs put descriptions last) down to ``SHARE``
    characters, then the widest ones, a character at a time, down to their floors.
    """
    widths = list(widths)

    def excess() -> int:
        return sum(widths) + len(GAP) * (len(widths) - 1) - width

    for i in reversed(range(len(widths))):
        widths[i] -= max(0, min(excess(), widths[i] - max(floors[i], SHARE)))
    while excess() > 0:
        cuttable = [i for i, w in enumerate(widths) if w > floors[i]]
        if not cuttable:
            break  # every column at its floor: the terminal wraps
        widths[max(cuttable, key=lambda i: (widths[i], i))] -= 1
    return widths


def text_table(df: pd.DataFrame, width: int) -> str:
    """``df`` as an aligned plain-text table no wider than ``width`` where possible (long cells end in …)."""
    headers = [str(c) for c in df.columns]
    rows = [[_cell(v) for v in row] for row in df.itertuples(index=False)]
    natural = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    floors = [min(n, max(MIN_COLUMN, len(h))) for n, h in zip(natural, headers)]
    floors[0] = natural[0]  # the name is what a user types next: never cut
    widths = _fit(natural, floors, width)
    numeric = [df[c].dtype.kind in "fiu" for c in df.columns]

    def line(cells: list[str]) -> str:
        out = []
        for text, w, right in zip(cells, widths, numeric):
            text = text if len(text) <= w else text[: w - 1] + "…"
            out.append(text.rjust(w) if right else text.ljust(w))
        return GAP.join(out).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])
