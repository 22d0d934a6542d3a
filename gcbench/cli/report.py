"""gcbench report: one self-contained HTML report (and a Markdown twin) of one or more results folders."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="self-contained HTML + Markdown report of results folders", description=__doc__)
    p.add_argument("dirs", nargs="+", metavar="DIR",
                   help="results folders (gcbench run --out) and/or timing folders (gcbench timing --out)")
    p.add_argument("--out", required=True, help="the HTML file to write (the Markdown twin goes beside it)")
    p.add_argument("--anchor", help="codec (curve) the BD-rates are computed against (default: the first codec)")
    p.add_argument("--reference", action="append", default=[], metavar="FILE",
                   help="published curves to overlay and compare (CSV or JSON with provenance), repeatable")
    p.add_argument("--reference-column", action="append", default=[], metavar="OLD=NEW",
                   help="rename a column of the reference files, e.g. psnr-rgb=psnr")
    p.add_argument("--method", action="append", choices=["pchip", "akima", "cubic"],
                   help="BD interpolation, repeatable (default: pchip and akima)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates over images (0: none)")
    p.add_argument("--confidence", type=float, default=0.95, help="interval coverage (default 0.95)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    p.add_argument("--no-crops", action="store_true", help="leave out the example crops")
    p.add_argument("--crop-size", type=int, default=192, help="side of the example crops in pixels")
    p.add_argument("--no-markdown", action="store_true", help="write only the HTML file")
    p.add_argument("--title", help="title of the report")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from gcbench.analysis.references import load_references, parse_rename
    from gcbench.report.document import build_report

    rename = parse_rename(args.reference_column)
    references = [curve for path in args.reference for curve in load_references(path, rename)]
    written = build_report(args.dirs, args.out, anchor=args.anchor, references=references,
                           methods=tuple(args.method or ("pchip", "akima")), bootstrap=args.bootstrap,
                           seed=args.seed, confidence=args.confidence, crops=not args.no_crops,
                           crop_size=args.crop_size, markdown=not args.no_markdown, title=args.title,
                           argv=args.argv)
    for path in written:
        print(path)
    return 0
