"""gcbench validate: check codec spec files (or every registered one) without running anything."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``gcbench validate`` with the command's sub-parsers."""
    p = sub.add_parser("validate", help="check codec spec files", description=__doc__)
    p.add_argument("specs", nargs="*", help="spec files (default: every registered codec)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Check the given spec files (or every registered spec); exit 2 when one is invalid."""
    from gcbench.codecs.registry import codecs
    from gcbench.codecs.spec import build_codec, load_spec

    specs = [load_spec(path) for path in args.specs] if args.specs else [codecs.get(n) for n in codecs.names()]
    for spec in specs:
        codec = build_codec(spec)  # adapter options are checked here
        print(f"{spec.name}: ok ({spec.adapter}, {spec.rate_param} {spec.rate_axis.describe()} × {len(spec.settings)}; "
              f"{codec.available().describe()})")
    return 0
