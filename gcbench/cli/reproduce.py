"""gcbench reproduce: run a recipe (a published table) and say point by point whether it held.

Exit code: 0 every point within its tolerance, 1 a point off (or a task failed), 2 the recipe
cannot run here (each missing codec, program, weight file, metric or dataset is named first).
A timing recipe times its models on --device; --size, --warmup, --repeats and --threads shorten
its protocol for a quick run.
"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``gcbench reproduce``."""
    p = sub.add_parser("reproduce", help="reproduce a published table from a recipe (gcbench ls recipes)",
                       description=__doc__)
    p.add_argument("recipe", help="a shipped recipe name (gcbench ls recipes) or a recipe .toml file")
    p.add_argument("--out", help="results folder (default results/RECIPE); run again to resume")
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.add_argument("--device", default="cpu", help="device of learned codecs, torch metrics and a timing recipe's generators")
    p.add_argument("--data-root", help="folder holding the recipe's dataset")
    p.add_argument("--binary", action="append", default=[], metavar="NAME=PATH",
                   help="path of a codec program, e.g. bpgenc=/opt/libbpg/bpgenc (repeatable)")
    p.add_argument("--codec-option", action="append", default=[], metavar="CODEC.KEY=VALUE",
                   help="override a spec option of the recipe's codec (e.g. a checkpoint), repeatable")
    p.add_argument("--size", metavar="WxH", help="timing recipes: the generators' input size (default: the recipe's)")
    p.add_argument("--warmup", type=int, help="timing recipes: untimed rounds (default: the recipe's)")
    p.add_argument("--repeats", type=int, help="timing recipes: timed rounds (default: the recipe's)")
    p.add_argument("--threads", type=int, help="timing recipes: torch/OpenMP/BLAS threads (default: the recipe's, else 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run the recipe, print the comparison; 0 held, 1 a point off (2 comes from the error raised before any work)."""
    from gcbench.cli.run import codec_overrides
    from gcbench.codecs.external import parse_binary_args
    from gcbench.recipes import TimingOverrides, reproduce
    from gcbench.recipes.timing_run import parse_size
    from gcbench.results.views import to_markdown

    timing = TimingOverrides(parse_size(args.size) if args.size else None, args.warmup, args.repeats, args.threads)
    report = reproduce(args.recipe, args.out, jobs=args.jobs, device=args.device, data_root=args.data_root,
                       binaries=parse_binary_args(args.binary), codec_options=codec_overrides(args.codec_option),
                       progress=not args.quiet, argv=args.argv, timing=timing)
    print(to_markdown(report.readable()))
    print()
    print(report.text())
    for path in report.outputs:
        print(f"wrote {path}")
    return 0 if report.held else 1
