"""gcbench study: export blind pairwise forms from a results folder; analyse the answers."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from gcbench.core.errors import ConfigError

if TYPE_CHECKING:  # the study modules load only when a study command runs
    from gcbench.study.export import ExportConfig


def _setting_pair(text: str) -> tuple[str, str]:
    codec, sep, value = text.partition("=")
    if not sep or not codec.strip() or not value.strip():
        raise ConfigError(f"--setting takes CODEC=VALUE, got {text!r}")
    return codec.strip(), value.strip()


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``gcbench study export`` and ``gcbench study analyze``."""
    p = sub.add_parser("study", help="blind pairwise human studies: export forms, analyse answers", description=__doc__)
    actions = p.add_subparsers(dest="study_command", metavar="ACTION", parser_class=type(p))
    actions.required = True

    e = actions.add_parser("export", help="write participant forms, images, a crowdsourcing CSV and the key",
                           description="Choose comparable reconstructions from a results folder and write a "
                                       "blind two-alternative study. The key goes to STUDY/study-key.json; hand "
                                       "out STUDY/handout/ only.")
    e.add_argument("results", help="results folder (the --out of gcbench run)")
    e.add_argument("--codec", action="append", required=True, metavar="NAME[@SETTING]",
                   help="codec to compare, repeatable (at least two); NAME@SETTING fixes its setting")
    rate = e.add_mutually_exclusive_group()
    rate.add_argument("--setting", action="append", default=[], metavar="CODEC=VALUE",
                      help="the setting of one codec, repeatable (a codec the run made at one setting needs none)")
    rate.add_argument("--bpp", type=float, metavar="TARGET", help="per image, each codec's setting nearest this bpp")
    e.add_argument("--out", required=True, help="new folder for the study")
    e.add_argument("--crops", type=int, default=1, help="crops per image (default 1)")
    e.add_argument("--crop-size", type=int, default=512, help="crop side in pixels (default 512)")
    e.add_argument("--crop-rule", choices=["random", "variance"], default="random",
                   help="where to crop: random, or the windows with most luma variance (default random)")
    e.add_argument("--participants", type=int, default=10, help="number of participant forms (default 10)")
    e.add_argument("--reference", action="store_true", help="show the original crop between the two")
    e.add_argument("--catch-rate", type=float, default=0.1,
                   help="fraction of trials that are catch trials: original against a degraded copy (default 0.1)")
    e.add_argument("--min-view", type=float, default=1.0, metavar="SECONDS",
                   help="the choice is possible only after this long (default 1.0)")
    e.add_argument("--seed", type=int, help="seed of trial order, sides and crops (default: random, recorded)")
    e.add_argument("--dataset", help="dataset to use when the results folder holds several")
    e.add_argument("--max-images", type=int, help="use only the first N images")
    e.add_argument("--originals", metavar="DIR", help="folder of the original images, if they moved since the run")
    e.add_argument("--post-url", metavar="URL", help="also POST each participant's answers to this http(s) URL")
    e.add_argument("--title", help="title shown to participants")
    e.add_argument("--instructions", help="instructions shown to participants")
    e.add_argument("--question", help="question above each pair")
    e.add_argument("--image-url-prefix", default="img/",
                   help="prefix of image URLs in the crowdsourcing CSV, e.g. where handout/img is hosted (default img/)")
    e.set_defaults(func=main_export)

    a = actions.add_parser("analyze", aliases=["analyse"], help="check answers files and score the codecs",
                           description="Validate answers files against the study key, drop participants failing "
                                       "catch trials and too-fast trials, and score the codecs.")
    a.add_argument("key", metavar="STUDY_KEY", help="the study-key.json written by export (or its folder)")
    a.add_argument("answers", nargs="+", metavar="ANSWERS", help="answers files downloaded from the forms")
    a.add_argument("--out", help="folder for tables and the plot (default: analysis/ beside the key)")
    a.add_argument("--catch-pass", type=float, default=0.8,
                   help="least fraction of catch trials a participant must get right (default 0.8)")
    a.add_argument("--min-rt", type=float, metavar="SECONDS",
                   help="drop trials answered faster (default: the form's minimum viewing time)")
    a.add_argument("--max-rt", type=float, metavar="SECONDS", help="drop trials answered slower")
    a.add_argument("--confidence", type=float, default=0.95, help="confidence level of intervals (default 0.95)")
    a.add_argument("--bootstrap", type=int, default=1000,
                   help="cluster bootstrap replicates for every interval (default 1000)")
    a.add_argument("--clusters", choices=["participants+images", "participants", "images"],
                   default="participants+images",
                   help="what the bootstrap resamples: participants and images independently (default), or one")
    a.add_argument("--elo-orders", type=int, default=1000,
                   help="random orders sequential Elo is averaged over (default 1000)")
    a.add_argument("--seed", type=int, default=0, help="seed of bootstrap and Elo orders (default 0)")
    a.add_argument("--no-plot", action="store_true", help="do not draw preferences.png")
    a.set_defaults(func=main_analyze)


def export_config(args: argparse.Namespace) -> ExportConfig:
    """The :class:`ExportConfig` the ``export`` arguments describe (settings from NAME@SETTING and --setting)."""
    from gcbench.core.settings import split_codec_arg
    from gcbench.study.export import DEFAULT_INSTRUCTIONS, DEFAULT_TITLE, ExportConfig

    codecs: list[str] = []
    settings: dict[str, str] = {}
    for arg in args.codec:
        name, chosen = split_codec_arg(arg)
        codecs.append(name)
        if chosen is not None:
            if len(chosen) != 1:
                raise ConfigError(f"--codec {arg!r}: a study compares one setting per codec")
            settings[name] = str(arg.partition("@")[2]).strip()
    for text in args.setting:
        codec, value = _setting_pair(text)
        if codec in settings:
            raise ConfigError(f"the setting of {codec!r} is given twice")
        settings[codec] = value
    if settings and args.bpp is not None:
        raise ConfigError("give settings (--setting or NAME@SETTING) or --bpp, not both")
    return ExportConfig(
        results=args.results, codecs=codecs, out=args.out,
        settings=settings or None, target_bpp=args.bpp,
        crops=args.crops, crop_size=args.crop_size, crop_rule=args.crop_rule, participants=args.participants,
        reference=args.reference, catch_rate=args.catch_rate, min_view_s=args.min_view, seed=args.seed,
        dataset=args.dataset, max_images=args.max_images, originals=args.originals, post_url=args.post_url,
        title=args.title if args.title is not None else DEFAULT_TITLE,
        instructions=args.instructions if args.instructions is not None else DEFAULT_INSTRUCTIONS,
        question=args.question, image_url_prefix=args.image_url_prefix, argv=args.argv,
    )


def main_export(args: argparse.Namespace) -> int:
    """Run ``gcbench study export``: one call of :func:`gcbench.study.export.export_study`."""
    from gcbench.study.export import export_study

    report = export_study(export_config(args))
    print(report.text())
    return 0


def main_analyze(args: argparse.Namespace) -> int:
    """Run ``gcbench study analyze``: check the answers files against the key and score the codecs."""
    from gcbench.study.analyze import AnalysisConfig, analyze_study

    report = analyze_study(AnalysisConfig(
        key=args.key, answers=args.answers, out=args.out, catch_pass=args.catch_pass, min_rt_s=args.min_rt,
        max_rt_s=args.max_rt, confidence=args.confidence, bootstrap=args.bootstrap, elo_orders=args.elo_orders,
        seed=args.seed, plot=not args.no_plot, clusters=args.clusters,
    ))
    print(report.text())
    if report.rejected:
        print(f"{len(report.rejected)} answers file(s) rejected (listed above); the others were analysed", file=sys.stderr)
        return 1
    return 0
