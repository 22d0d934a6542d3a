"""gcbench ls: list codecs, metrics or datasets with their availability."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ls", help="list codecs, metrics or datasets", description=__doc__)
    p.add_argument("what", choices=["codecs", "metrics", "datasets"])
    p.add_argument("pattern", nargs="?", help="shell wildcard filter, e.g. 'jpeg*'")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from gcbench.catalog import list_codecs, list_datasets, list_metrics
    from gcbench.results.views import to_markdown

    table = {"codecs": list_codecs, "metrics": list_metrics, "datasets": list_datasets}[args.what](args.pattern)
    print(to_markdown(table))
    return 0
