"""gcbench timing: encode/decode times on a named machine, and tables merging several machines.

    gcbench timing --codec jpeg@50,75 --dataset kodak --hardware-name "laptop" --out timing/laptop
    gcbench timing merge timing/laptop timing/server --format tex
"""

from __future__ import annotations

import argparse
import sys

from gcbench.core import defaults


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``gcbench timing`` subcommand, with ``timing merge``."""
    p = sub.add_parser("timing",
                       help="encode/decode times on named hardware; `timing merge` puts machines side by side",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--codec", action="append", metavar="NAME[@SETTINGS]",
                   help="codec to time, repeatable; 'jpeg@50,75' restricts settings")
    p.add_argument("--dataset", help="a dataset name (gcbench ls datasets) or a folder of images")
    p.add_argument("--data-root", help="folder holding the named dataset's files")
    p.add_argument("--out", help="output folder for this machine's timings")
    p.add_argument("--hardware-name", metavar="NAME", help="your name for this machine (default: host name)")
    p.add_argument("--device", default=defaults.DEVICE,
                   help=f"cpu, cuda or cuda:N (codecs that take a device run there; default {defaults.DEVICE})")
    p.add_argument("--warmup", type=int, default=defaults.TIMING_WARMUP, metavar="W",
                   help=f"untimed runs per (codec, setting, image), default {defaults.TIMING_WARMUP}")
    p.add_argument("--repeats", type=int, default=defaults.TIMING_REPEATS, metavar="R",
                   help=f"timed runs per (codec, setting, image), default {defaults.TIMING_REPEATS}")
    p.add_argument("--threads", type=int, default=defaults.TIMING_THREADS,
                   help="threads for torch, OpenMP/BLAS and the codec library, fixed and recorded "
                        f"(default {defaults.TIMING_THREADS})")
    p.add_argument("--max-images", type=int, help="use only the first N images")
    p.add_argument("--codec-option", action="append", default=[], metavar="CODEC.KEY=VALUE",
                   help="override a codec spec option (VALUE parsed as JSON when it can be)")
    p.add_argument("--binary", action="append", default=[], metavar="NAME=PATH",
                   help="where a command-line codec's program is, e.g. bpgenc=/opt/bpg/bpgenc (repeatable; "
                        "default: $GCBENCH_BIN_<NAME>, then PATH)")
    p.add_argument("--no-sync", action="store_true",
                   help="CUDA: do NOT synchronise (under-counts GPU work; only to show why synchronising matters)")
    p.add_argument("--no-stages", action="store_true", help="do not record learned codecs' stage breakdown")
    p.add_argument("--random-weights", action="store_true",
                   help="time untrained architectures (learned codecs that accept it); recorded on every row")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=main)

    sub2 = p.add_subparsers(dest="timing_command", metavar="[merge DIR ...]", parser_class=type(p))
    sub2.required = False
    m = sub2.add_parser("merge", help="one table from several timing folders, a column group per machine",
                        description="One timing table from several folders (each machine named differently).")
    m.add_argument("dirs", nargs="+", metavar="DIR", help="timing folders (the --out of gcbench timing)")
    m.add_argument("--format", choices=["md", "tex", "csv"], default="md")
    m.add_argument("--per", choices=["image", "mp", "both"], default="both",
                   help="time per image, per megapixel or both (default)")
    m.add_argument("--no-stages", action="store_true", help="leave out stage columns")
    m.add_argument("--output", "-o", help="write the table to this file instead of standard output")
    m.add_argument("--chart", metavar="STEM", help="also draw the bar chart to STEM.png and STEM.svg")
    m.set_defaults(func=merge_main)


def main(args: argparse.Namespace) -> int:
    """Time the codecs the flags name on this machine; exit 1 when a cell failed."""
    from gcbench.cli.run import codec_overrides
    from gcbench.codecs.external import parse_binary_args
    from gcbench.core.errors import ConfigError
    from gcbench.timing import TimingConfig, run_timing

    missing = [flag for flag, value in (("--codec", args.codec), ("--dataset", args.dataset), ("--out", args.out))
               if not value]
    if missing:
        raise ConfigError(f"gcbench timing needs {', '.join(missing)} (or `gcbench timing merge DIR …`)")
    report = run_timing(TimingConfig(
        codecs=args.codec, dataset=args.dataset, out=args.out, hardware_name=args.hardware_name,
        device=args.device, warmup=args.warmup, repeats=args.repeats, threads=args.threads,
        data_root=args.data_root, max_images=args.max_images, codec_options=codec_overrides(args.codec_option),
        binaries=parse_binary_args(args.binary),
        sync=not args.no_sync, stages=not args.no_stages, random_weights=args.random_weights,
        progress=not args.no_progress, argv=args.argv,
    ))
    print(report.text())
    return 1 if report.failed else 0


def merge_main(args: argparse.Namespace) -> int:
    """One table (and optionally a chart) from several timing folders."""
    from pathlib import Path

    from gcbench.timing import merge_timing, plot_timing, render, timing_table

    summary = merge_timing(args.dirs)
    text = render(timing_table(summary, per=args.per, stages=not args.no_stages), args.format)
    if args.output:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(path)
    else:
        sys.stdout.write(text)
    if args.chart:
        for path in plot_timing(summary, args.chart, per="mp" if args.per == "mp" else "image"):
            print(path, file=sys.stderr if not args.output else sys.stdout)
    return 0
