"""gcbench plot: rate–distortion plot(s) of a results folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``gcbench plot`` and its options."""
    from gcbench.cli.rate_options import add_rate_options

    p = sub.add_parser("plot", help="RD plot of a results folder", description=__doc__)
    p.add_argument("dir", help="results folder")
    p.add_argument("--metric", action="append", metavar="COLUMN",
                   help="metric column to plot against bpp, repeatable (default: psnr, ms_ssim_db and the rest)")
    p.add_argument("--out", help="output file stem (default DIR/rd)")
    p.add_argument("--format", action="append", choices=["png", "svg", "pdf"], help="default: png and svg")
    p.add_argument("--reference", action="append", default=[], metavar="FILE|NAME",
                   help="published curves to draw: a CSV/JSON file or a shipped name (gcbench ls references)")
    add_rate_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run ``gcbench plot`` with parsed ``args``; the exit code."""
    from gcbench.analysis.plots import plot_rd
    from gcbench.analysis.references import load_references

    stem = Path(args.out) if args.out else Path(args.dir) / "rd"
    references = [curve for ref in args.reference for curve in load_references(ref)]
    written = plot_rd(args.dir, stem, columns=args.metric, formats=tuple(args.format or ("png", "svg")),
                      references=references, rate=args.rate, psnr_cap=args.psnr_cap)
    if not written:
        print("nothing to plot: no successful results with those metrics")
        return 1
    for path in written:
        print(path)
    return 0
