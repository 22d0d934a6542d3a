"""gcbench weights: list the pretrained files metrics need, with their status here; fetch or install them."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``gcbench weights`` with the command's sub-parsers."""
    p = sub.add_parser("weights", help="list pretrained weight files and where they are", description=__doc__)
    p.add_argument("pattern", nargs="?", help="shell wildcard filter on entry names, e.g. 'vgg*'")
    p.add_argument("--fetch", metavar="NAME", action="append", default=[],
                   help="resolve NAME now (download it unless GCBENCH_OFFLINE=1), repeatable")
    p.add_argument("--install", nargs=2, metavar=("NAME", "FILE"),
                   help="check FILE against NAME's hash and copy it into the weights folder")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """List every weights entry with its status, or install a file fetched elsewhere."""
    from gcbench import weights
    from gcbench.results.views import to_markdown

    if args.install:
        name, source = args.install
        print(f"{name}: installed {weights.install(name, source)}")
    for name in args.fetch:
        print(f"{name}: {weights.resolve(name)}")
    print(to_markdown(weights.weights_table(args.pattern)))
    return 0
