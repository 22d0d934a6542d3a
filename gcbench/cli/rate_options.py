"""Options shared by the commands that read results (table, plot, bdrate, report)."""

from __future__ import annotations

import argparse

from gcbench.core import defaults


def add_rate_options(p: argparse.ArgumentParser, *, rate: bool = True) -> None:
    """``--rate`` and ``--psnr-cap``, shared by table, plot, bdrate and report."""
    if rate:
        p.add_argument("--rate", choices=["bpp", "bpp_payload"], default=defaults.RATE,
                       help="rate axis: bpp (the whole file) or bpp_payload (entropy-coded strings only, "
                            f"CompressAI's count; equal to bpp for codecs whose file is all payload); default {defaults.RATE}")
    p.add_argument("--psnr-cap", type=float, metavar="DB",
                   help="add psnr_capped: each image's PSNR capped at DB (e.g. 100), so that a lossless image "
                        "keeps its setting on the curves")
