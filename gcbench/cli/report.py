"""gcbench report: one self-contained HTML report (and a Markdown twin) of one or more results folders."""

from __future__ import annotations

import argparse

from gcbench.core import defaults


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``gcbench report`` and its options."""
    from gcbench.cli.rate_options import add_rate_options

    p = sub.add_parser("report", help="self-contained HTML + Markdown report of results folders", description=__doc__)
    p.add_argument("dirs", nargs="+", metavar="DIR",
                   help="results folders (gcbench run --out) and/or timing folders (gcbench timing --out)")
    p.add_argument("--out", required=True, help="the HTML file to write (the Markdown twin goes beside it)")
    p.add_argument("--anchor", help="codec (curve) the BD-rates are computed against (default: the first codec)")
    p.add_argument("--reference", action="append", default=[], metavar="FILE",
                   help="published curves to overlay and compare (CSV or JSON with provenance), repeatable")
    p.add_argument("--reference-column", action="append", default=[], metavar="OLD=NEW",
                   help="rename a column of the reference files, e.g. psnr-rgb=psnr")
    p.add_argument("--method", action="append", choices=list(defaults.ALL_BD_METHODS),
                   help=f"BD interpolation, repeatable (default: {' and '.join(defaults.BD_METHODS)})")
    p.add_argument("--bootstrap", type=int, default=defaults.BOOTSTRAP_REPLICATES,
                   help="bootstrap replicates over images (0: none)")
    p.add_argument("--confidence", type=float, default=defaults.CONFIDENCE,
                   help=f"interval coverage (default {defaults.CONFIDENCE})")
    p.add_argument("--seed", type=int, default=defaults.SEED, help="seed of the bootstrap")
    add_rate_options(p)
    p.add_argument("--no-crops", action="store_true", help="leave out the example crops")
    p.add_argument("--crop-size", type=int, default=defaults.CROP_SIZE, help="side of the example crops in pixels")
    p.add_argument("--no-markdown", action="store_true", help="write only the HTML file")
    p.add_argument("--title", help="title of the report")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run ``gcbench report`` with parsed ``args``; the exit code."""
    from gcbench.analysis.references import load_references, parse_rename
    from gcbench.report.document import ReportConfig, build_report

    rename = parse_rename(args.reference_column)
    references = [curve for path in args.reference for curve in load_references(path, rename)]
    config = ReportConfig(anchor=args.anchor, references=references,
                          methods=tuple(args.method or defaults.BD_METHODS), bootstrap=args.bootstrap,
                          seed=args.seed, confidence=args.confidence, crops=not args.no_crops,
                          crop_size=args.crop_size, markdown=not args.no_markdown, title=args.title,
                          argv=args.argv, rate=args.rate, psnr_cap=args.psnr_cap)
    for path in build_report(args.dirs, args.out, config):
        print(path)
    return 0
