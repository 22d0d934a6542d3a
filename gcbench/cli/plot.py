"""gcbench plot: rate–distortion plot(s) of a results folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="RD plot of a results folder", description=__doc__)
    p.add_argument("dir", help="results folder")
    p.add_argument("--metric", action="append", metavar="COLUMN",
                   help="metric column to plot against bpp, repeatable (default: psnr, ms_ssim_db and the rest)")
    p.add_argument("--out", help="output file stem (default DIR/rd)")
    p.add_argument("--format", action="append", choices=["png", "svg", "pdf"], help="default: png and svg")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from gcbench.analysis.plots import plot_rd

    stem = Path(args.out) if args.out else Path(args.dir) / "rd"
    written = plot_rd(args.dir, stem, columns=args.metric, formats=tuple(args.format or ("png", "svg")))
    if not written:
        print("nothing to plot: no successful results with those metrics")
        return 1
    for path in written:
        print(path)
    return 0
