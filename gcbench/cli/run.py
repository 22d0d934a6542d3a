"""gcbench run: benchmark codecs on a dataset."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gcbench.core import defaults
from gcbench.core.errors import ConfigError


def _option_pair(text: str) -> tuple[str, str, Any]:
    """``jpeg.save.optimize=true`` → ('jpeg', 'save.optimize', True)."""
    target, sep, value = text.partition("=")
    codec, dot, key = target.partition(".")
    if not sep or not dot or not codec or not key:
        raise ConfigError(f"--codec-option takes CODEC.KEY=VALUE, got {text!r}")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return codec, key, parsed


def codec_overrides(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """``["jpeg.save.optimize=true"]`` → {'jpeg': {'save': {'optimize': True}}} (dotted keys nest)."""
    out: dict[str, dict[str, Any]] = {}
    for text in pairs:
        codec, key, value = _option_pair(text)
        node = out.setdefault(codec, {})
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``gcbench run`` subcommand and its flags (defaults from gcbench.core.defaults)."""
    p = sub.add_parser("run", help="benchmark codecs on a dataset", description=__doc__)
    p.add_argument("--config", metavar="FILE.toml",
                   help="the run's options as TOML (keys: RunConfig's fields, e.g. codecs, metrics, dataset, out, "
                        "jobs, codec_options); flags given here override the file")
    p.add_argument("--codec", action="append", metavar="NAME[@SETTINGS]",
                   help="codec to run, repeatable; 'jpeg@50,75' or 'model@1.0:3.0:0.25' restricts settings")
    p.add_argument("--dataset", help="a dataset name (gcbench ls datasets) or a folder of images")
    p.add_argument("--data-root", help="folder holding the named dataset's files")
    p.add_argument("--metric", action="append", metavar="NAME",
                   help=f"metric to compute, repeatable (default: {' and '.join(defaults.METRICS)})")
    p.add_argument("--metric-set", action="append", default=[], metavar="NAME",
                   help="a named set of metrics, repeatable: jpeg-ai (those that cannot run here are named on stderr)")
    p.add_argument("--out", help="output folder (results database, tables, plots)")
    p.add_argument("--jobs", "-j", type=int, help=f"worker processes (default {defaults.JOBS})")
    p.add_argument("--threads", type=int, help="threads per worker (default: cores / jobs)")
    p.add_argument("--device", help="device for torch metrics and learned codecs: cpu or cuda[:N] "
                                    f"(default {defaults.DEVICE})")
    p.add_argument("--batch", type=int, metavar="N",
                   help="tasks per worker call; torch pair metrics (LPIPS, DISTS, MS-SSIM, SSIM) run N images per "
                        f"call on the device (default {defaults.DEVICE_BATCH} on CUDA, 1 elsewhere)")
    p.add_argument("--random-weights", action="store_true", default=None,
                   help="learned codecs only: untrained networks, to time architectures; recorded on every row")
    p.add_argument("--executor", help=f"where tasks run: local or ray (default {defaults.EXECUTOR})")
    ray = p.add_argument_group("Ray executor (--executor ray; needs gcbench[ray])")
    ray.add_argument("--address", help="Ray cluster to join: auto, HOST:PORT or ray://HOST:10001 "
                                       "(default: start a local instance with jobs × threads CPUs)")
    ray.add_argument("--ray-max-retries", type=int, help="retries of a task whose worker process dies (default 3)")
    ray.add_argument("--ray-gpus-per-task", type=float,
                     help="GPU fraction a task takes when its codec or a metric runs on CUDA (default 0.25)")
    p.add_argument("--codec-option", action="append", default=[], metavar="CODEC.KEY=VALUE",
                   help="override a codec spec option (VALUE parsed as JSON when it can be)")
    p.add_argument("--metric-option", action="append", default=[], metavar="METRIC.KEY=VALUE",
                   help="a metric option, e.g. miou.checkpoint=/path/to/pspnet.pth (VALUE parsed as JSON when it can be)")
    p.add_argument("--binary", action="append", default=[], metavar="NAME=PATH",
                   help="where a command-line codec's program is, e.g. bpgenc=/opt/bpg/bpgenc (repeatable; "
                        "default: $GCBENCH_BIN_<NAME>, then PATH)")
    p.add_argument("--max-images", type=int, help="use only the first N images")
    p.add_argument("--masks", metavar="DIR", help="per-image masks (RoI or saliency), matched by name: "
                                                   "DIR/<image stem>.png or .npy; see README 'Region-aware evaluation'")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--wait", action="store_true", help="if another run is writing --out, wait for it (default: stop)")
    p.add_argument("--no-outputs", action="store_true", help="do not write summary.csv, per_image.csv, rd.png")
    eq = p.add_argument_group("equal-bitrate comparison (gcbench.execution.equal_bitrate)")
    eq.add_argument("--target-bpp", action="append", type=float, default=[], metavar="BPP",
                    help="per image, also run each codec at the setting whose bpp is nearest BPP (repeatable)")
    eq.add_argument("--target-mode", choices=["nearest", "under"],
                    help=f"nearest: closest bpp; under: the highest bpp not above the target (default "
                         f"{defaults.TARGET_MODE})")
    eq.add_argument("--bpp-tolerance", type=float, metavar="FRACTION",
                    help=f"a selection within this relative distance of its target is on target (default "
                         f"{defaults.BPP_TOLERANCE:g}, i.e. {defaults.BPP_TOLERANCE * 100:g} %%)")
    eq.add_argument("--no-sweep", action="store_true", help="with --target-bpp: run only the targeted settings")
    p.set_defaults(func=main)


def executor_options(args: argparse.Namespace) -> dict[str, Any]:
    """Only the options given: the local executor rejects any, so --address without ray is an error."""
    given = {"address": args.address, "max_retries": args.ray_max_retries, "gpus_per_task": args.ray_gpus_per_task}
    return {k: v for k, v in given.items() if v is not None}


def metric_overrides(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """``miou.test_scale=[1024,512]`` → {'miou': {'test_scale': [1024, 512]}} (VALUE parsed as JSON when it can be)."""
    for text in pairs:
        target, sep, _ = text.partition("=")
        if not sep or "." not in target.strip("."):
            raise ConfigError(f"--metric-option takes METRIC.KEY=VALUE, got {text!r}")
    return codec_overrides(pairs)


def metric_names(args: argparse.Namespace) -> list[str] | None:
    """--metric names, then each --metric-set expanded (gcbench.metrics.sets); None when neither is given."""
    from gcbench.metrics.sets import expand_metric_set

    names = list(args.metric or [])
    for set_name in args.metric_set:
        expanded, warnings = expand_metric_set(set_name)
        for line in warnings:
            print(line, file=sys.stderr)
        names += [n for n in expanded if n not in names]
    return names or None


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """The run options given on the command line, as RunConfig fields (what was not given is absent)."""
    from gcbench.codecs.external import parse_binary_args

    given = {
        "codecs": args.codec, "dataset": args.dataset, "out": args.out, "metrics": metric_names(args),
        "jobs": args.jobs, "threads": args.threads, "device": args.device, "batch": args.batch, "random_weights": args.random_weights,
        "data_root": args.data_root, "executor": args.executor, "executor_options": executor_options(args),
        "codec_options": codec_overrides(args.codec_option), "binaries": parse_binary_args(args.binary),
        "metric_options": metric_overrides(args.metric_option), "max_images": args.max_images, "masks": args.masks,
        "progress": False if args.no_progress else None, "write_outputs": False if args.no_outputs else None,
        "target_bpp": list(args.target_bpp), "target_mode": args.target_mode, "bpp_tolerance": args.bpp_tolerance,
        "sweep": False if args.no_sweep else None,
    }
    return {k: v for k, v in given.items() if v is not None and v != [] and v != {}}


def config_from_args(args: argparse.Namespace) -> Any:
    """The run's RunConfig: the --config file, if any, with the flags given here over it; checked."""
    from gcbench.execution.config import RunConfig, config_from_values

    values = flag_values(args)
    if args.config:
        return RunConfig.from_toml(args.config, **values, argv=args.argv)
    return config_from_values({**values, "argv": args.argv})


def main(args: argparse.Namespace) -> int:
    """Run the benchmark the flags (and ``--config``) describe; exit 1 when anything failed."""
    from gcbench.execution.runner import run

    config = config_from_args(args)
    report = run(config, wait=args.wait)
    print(report.text())
    if report.failed:
        print(f"some images, tasks or metrics failed; `gcbench table {config.out} --failures` lists them",
              file=sys.stderr)
        return 1
    return 0
