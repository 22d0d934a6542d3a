"""gcbench table: print or export the summary (or per-image) table of a results folder."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``gcbench table`` and its options."""
    from gcbench.cli.rate_options import add_rate_options

    p = sub.add_parser("table", help="summary or per-image table of a results folder", description=__doc__)
    p.add_argument("dir", help="results folder (the --out of gcbench run)")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--per-image", action="store_true", help="one row per (codec, setting, image)")
    kind.add_argument("--failures", action="store_true", help="every failed image, task and metric")
    p.add_argument("--format", choices=["csv", "md", "parquet", "tex"], default="md")
    p.add_argument("--output", "-o", help="write to this file instead of standard output")
    add_rate_options(p, rate=False)  # both bpp and bpp_payload are columns of the table
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run ``gcbench table`` with parsed ``args``; the exit code."""
    import io

    from gcbench.core.errors import ConfigError
    from gcbench.results.views import (
        failures,
        per_image,
        summary_table,
        to_markdown,
        write_table,
    )

    if args.failures:
        df = failures(args.dir)
    elif args.per_image:
        df = per_image(args.dir, psnr_cap=args.psnr_cap)
    else:
        df = summary_table(args.dir, psnr_cap=args.psnr_cap)
    if args.output:
        print(write_table(df, args.output, args.format))
        return 0
    if args.format == "md":
        print(to_markdown(df))
    elif args.format == "csv":
        buf = io.StringIO()
        df.to_csv(buf, index=False)
        sys.stdout.write(buf.getvalue())
    elif args.format == "tex":
        sys.stdout.write(df.to_latex(index=False, float_format="%.4f", na_rep="--"))
    else:
        raise ConfigError("Parquet is binary: give --output FILE.parquet")
    return 0
