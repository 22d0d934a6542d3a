"""gcbench bdrate: BD-rate and BD-metric of every codec against an anchor (PCHIP and Akima)."""

from __future__ import annotations

import argparse
import sys

from gcbench.core import defaults


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``gcbench bdrate`` and its options."""
    from gcbench.cli.rate_options import add_rate_options

    p = sub.add_parser("bdrate", help="BD-rate / BD-metric table against an anchor codec", description=__doc__)
    p.add_argument("dirs", nargs="+", metavar="DIR", help="results folders (several: curves named 'codec (folder)')")
    p.add_argument("--anchor", required=True, help="the codec (curve) to compare against")
    p.add_argument("--metric", action="append", metavar="COLUMN",
                   help="metric column, repeatable (default: every quality axis)")
    p.add_argument("--method", action="append", choices=list(defaults.ALL_BD_METHODS),
                   help=f"interpolation, repeatable (default: {' and '.join(defaults.BD_METHODS)})")
    p.add_argument("--bootstrap", type=int, default=0, help="bootstrap replicates over images for intervals")
    p.add_argument("--confidence", type=float, default=defaults.CONFIDENCE)
    p.add_argument("--seed", type=int, default=defaults.SEED)
    add_rate_options(p)
    p.add_argument("--reference", action="append", default=[], metavar="FILE",
                   help="published curves (CSV/JSON) to include as curves")
    p.add_argument("--reference-column", action="append", default=[], metavar="OLD=NEW")
    p.add_argument("--format", choices=["md", "csv"], default="md")
    p.add_argument("--output", "-o", help="write to this file instead of standard output")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run ``gcbench bdrate`` with parsed ``args``; the exit code."""
    from gcbench.analysis.bjontegaard import bd_curves_table
    from gcbench.results.views import to_markdown, write_table

    table = bd_curves_table(args.dirs, args.anchor, columns=args.metric,
                            methods=tuple(args.method or defaults.BD_METHODS), bootstrap=args.bootstrap,
                            confidence=args.confidence, seed=args.seed, reference_files=args.reference,
                            reference_rename=args.reference_column, rate=args.rate, psnr_cap=args.psnr_cap)
    if args.output:
        print(write_table(table, args.output, args.format))
    elif args.format == "md":
        print(to_markdown(table))
    else:
        table.to_csv(sys.stdout, index=False)
    return 0
