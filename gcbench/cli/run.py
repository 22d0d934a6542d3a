"""gcbench run: benchmark codecs on a dataset."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

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
    out: dict[str, dict[str, Any]] = {}
    for text in pairs:
        codec, key, value = _option_pair(text)
        node = out.setdefault(codec, {})
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def metric_overrides(pairs: list[str], metrics: list[str]) -> dict[str, dict[str, Any]]:
    """``miou.test_scale=[1024,512]`` → {'miou': {'test_scale': [1024, 512]}} (VALUE parsed as JSON when it can be)."""
    for text in pairs:
        target, sep, _ = text.partition("=")
        if not sep or "." not in target.strip("."):
            raise ConfigError(f"--metric-option takes METRIC.KEY=VALUE, got {text!r}")
    out = codec_overrides(pairs)
    unused = sorted(set(out) - set(metrics))
    if unused:
        raise ConfigError(f"--metric-option for {', '.join(unused)}, which is not among the metrics run "
                          f"({', '.join(metrics)}); add --metric {unused[0]}")
    return out


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="benchmark codecs on a dataset", description=__doc__)
    p.add_argument("--codec", action="append", required=True, metavar="NAME[@SETTINGS]",
                   help="codec to run, repeatable; 'jpeg@50,75' or 'model@1.0:3.0:0.25' restricts settings")
    p.add_argument("--dataset", required=True, help="a dataset name (gcbench ls datasets) or a folder of images")
    p.add_argument("--data-root", help="folder holding the named dataset's files")
    p.add_argument("--metric", action="append", metavar="NAME",
                   help="metric to compute, repeatable (default: psnr and ms-ssim)")
    p.add_argument("--metric-set", action="append", default=[], metavar="NAME",
                   help="a named set of metrics, repeatable: jpeg-ai (those that cannot run here are named on stderr)")
    p.add_argument("--out", required=True, help="output folder (results database, tables, plots)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--threads", type=int, help="threads per worker (default: cores / jobs)")
    p.add_argument("--device", default="cpu", help="device for torch metrics and learned codecs: cpu or cuda[:N]")
    p.add_argument("--random-weights", action="store_true",
                   help="learned codecs only: untrained networks, to time architectures; recorded on every row")
    p.add_argument("--executor", default="local", help="where tasks run: local (default) or ray")
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
    p.add_argument("--no-outputs", action="store_true", help="do not write summary.csv, per_image.csv, rd.png")
    eq = p.add_argument_group("equal-bitrate comparison (gcbench.execution.equal_bitrate)")
    eq.add_argument("--target-bpp", action="append", type=float, default=[], metavar="BPP",
                    help="per image, also run each codec at the setting whose bpp is nearest BPP (repeatable)")
    eq.add_argument("--target-mode", choices=["nearest", "under"], default="nearest",
                    help="nearest: closest bpp; under: the highest bpp not above the target")
    eq.add_argument("--no-sweep", action="store_true", help="with --target-bpp: run only the targeted settings")
    p.set_defaults(func=main)


def executor_options(args: argparse.Namespace) -> dict[str, Any]:
    """Only the options given: the local executor rejects any, so --address without ray is an error."""
    given = {"address": args.address, "max_retries": args.ray_max_retries, "gpus_per_task": args.ray_gpus_per_task}
    return {k: v for k, v in given.items() if v is not None}


def metric_names(args: argparse.Namespace) -> list[str]:
    """--metric names, then each --metric-set expanded (gcbench.metrics.sets); default psnr, ms-ssim."""
    from gcbench.execution.runner import DEFAULT_METRICS
    from gcbench.metrics.sets import expand_metric_set

    names = list(args.metric or [])
    for set_name in args.metric_set:
        expanded, warnings = expand_metric_set(set_name)
        for line in warnings:
            print(line, file=sys.stderr)
        names += [n for n in expanded if n not in names]
    return names or list(DEFAULT_METRICS)


def config_from_args(args: argparse.Namespace) -> Any:
    from gcbench.codecs.external import parse_binary_args
    from gcbench.execution.runner import RunConfig

    metrics = metric_names(args)
    return RunConfig(
        codecs=args.codec,
        dataset=args.dataset,
        out=args.out,
        metrics=metrics,
        jobs=args.jobs,
        threads=args.threads,
        device=args.device,
        data_root=args.data_root,
        executor=args.executor,
        executor_options=executor_options(args),
        codec_options=_codec_options(args),
        metric_options=metric_overrides(args.metric_option, metrics),
        binaries=parse_binary_args(args.binary),
        max_images=args.max_images,
        masks=args.masks,
        progress=not args.no_progress,
        write_outputs=not args.no_outputs,
        argv=args.argv,
        target_bpp=list(args.target_bpp),
        target_mode=args.target_mode,
        sweep=_sweep(args),
    )


def _codec_options(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    from gcbench.codecs.learned import with_learned_flags

    return with_learned_flags(args.codec, codec_overrides(args.codec_option), random_weights=args.random_weights,
                              device=None if args.device == "cpu" else args.device)


def _sweep(args: argparse.Namespace) -> bool:
    if args.no_sweep and not args.target_bpp:
        raise ConfigError("--no-sweep leaves nothing to run without --target-bpp")
    return not args.no_sweep


def main(args: argparse.Namespace) -> int:
    from gcbench.execution.runner import run

    report = run(config_from_args(args))
    print(report.text())
    if report.failed:
        print(f"some images, tasks or metrics failed; `gcbench table {args.out} --failures` lists them", file=sys.stderr)
        return 1
    return 0
