"""PSNR on Y'CbCr planes, as video-coding and JPEG AI papers report it (metric ``psnr-yuv``).

Both images go from 8-bit RGB to 8-bit Y'CbCr 4:4:4 through gcbench's rounded conversion
(:func:`gcbench.codecs.colour.rgb_to_ycbcr`: ITU-R BT.709 by default, BT.601 with
``matrix="bt601"``; full range by default, ``range="limited"`` for 16–235/240 codes), and each
plane's PSNR is ``10·log10(255² / MSE)`` with peak 255 whatever the range, as JVET's and JPEG
AI's software compute it. Columns: ``psnr_y``, ``psnr_u``, ``psnr_v`` and

    psnr_yuv = (6·psnr_y + psnr_u + psnr_v) / 8

— the average of the three plane PSNRs in dB with weights 6:1:1, not the PSNR of a pooled MSE.
Identical planes give +inf (JPEG AI's framework writes 100 dB instead; gcbench's ``psnr`` does the
same as here).

Where the conventions come from (what each text says, and what could not be checked):

- The 6:1:1 weighting of per-plane PSNRs is that of Ohm, Sullivan, Schwarz, Tan and Wiegand,
  "Comparison of the coding efficiency of video coding standards — including HEVC", IEEE TCSVT
  2012 (libyuv/WebRTC's ``I420PSNR`` cites it: "Weights from Ohm et al. 2012"; libjxl's
  benchmark aggregates "as a 6:1:1 weighted average of Y-PSNR, U-PSNR and V-PSNR"). The JVET
  common test conditions (JVET-T2010 and predecessors) are where video papers take the per-plane
  PSNRs of the decoded YUV and their combination from; their text was not reachable here, so
  gcbench quotes no wording from them.
- JPEG AI's common training and test conditions (wg1n92048 "ICQ-JPEG AI Common Training and Test
  Conditions") are applied by the JPEG AI Objective Quality Assessment Framework (jpeg-ai-qaf):
  its ``PSNRMetric`` reports ``PSNR_Y``, ``PSNR_U``, ``PSNR_V`` separately (10·log10(255²/MSE),
  100 when MSE is 0), on Y'CbCr 4:4:4 converted from the 8-bit RGB PNG with BT.709 (``'709'`` by
  default; ``'601'`` and ``'2020'`` selectable), full range, rounded to 8 bits. Its chroma offset
  is half of full scale (code = round(255·C + 127.5)) where ITU-T H.273 and gcbench add
  2^(N−1) = 128: about half of the chroma codes land one step apart, for both images alike, so
  U and V PSNRs differ slightly from the framework's (README: measured on Kodak).
  ``chroma_offset="jpeg-ai"`` uses the framework's rule instead (full range only). Its
  reporting template combines the planes itself; that weighting is not quoted here.
"""

from __future__ import annotations

import math

import numpy as np

from gcbench.core.errors import ConfigError
from gcbench.metrics.base import Column, PairMetric
from gcbench.metrics.device_batch import check_pair
from gcbench.metrics.pixel import psnr

MATRICES = ("bt709", "bt601")
RANGES = ("full", "limited")
CHROMA_OFFSETS = ("h273", "jpeg-ai")  # + 2^(N-1) (ITU-T H.273), or + half of full scale (jpeg-ai-qaf)
WEIGHTS = (6.0, 1.0, 1.0)  # Y, U, V


def weighted_psnr(psnr_y: float, psnr_u: float, psnr_v: float) -> float:
    """(6·Y + U + V) / 8 of per-plane PSNRs in dB (+inf when any plane is identical)."""
    values = (psnr_y, psnr_u, psnr_v)
    if any(math.isinf(v) for v in values):
        return math.inf
    return sum(w * v for w, v in zip(WEIGHTS, values, strict=True)) / sum(WEIGHTS)


def to_ycbcr(rgb: np.ndarray, matrix: str, range_: str, chroma_offset: str = "h273") -> np.ndarray:
    """8-bit Y'CbCr 4:4:4 codes (H×W×3) of an 8-bit RGB image, rounded (gcbench.codecs.colour)."""
    from gcbench.codecs import colour

    if chroma_offset == "h273":
        return colour.rgb_to_ycbcr(np.asarray(rgb), matrix=matrix, range_=range_, bit_depth=8)
    # jpeg-ai-qaf: C + 0.5 clamped to [0, 1], times 255, rounded (no limited range there)
    y, cb, cr = colour.rgb_to_ycbcr_float(rgb, matrix)
    chroma = [np.floor(255.0 * np.clip(c + 0.5, 0.0, 1.0) + 0.5) for c in (cb, cr)]
    return np.stack([colour.quantize_luma(y, 8, "full"), *chroma], axis=-1)


def yuv_psnr(original: np.ndarray, reconstruction: np.ndarray, matrix: str = "bt709",
             range_: str = "full", chroma_offset: str = "h273") -> dict[str, float]:
    """Per-plane and 6:1:1-weighted PSNR of two 8-bit RGB images on 8-bit Y'CbCr 4:4:4."""
    check_pair(original, reconstruction)
    a = to_ycbcr(original, matrix, range_, chroma_offset)
    b = to_ycbcr(reconstruction, matrix, range_, chroma_offset)
    y, u, v = (psnr(a[..., k], b[..., k], peak=255.0) for k in range(3))
    return {"psnr_y": y, "psnr_u": u, "psnr_v": v, "psnr_yuv": weighted_psnr(y, u, v)}


class YUVPSNR(PairMetric):
    name = "psnr-yuv"
    columns = (
        Column("psnr_y", higher_is_better=True, label="PSNR-Y", unit="dB"),
        Column("psnr_u", higher_is_better=True, label="PSNR-U (Cb)", unit="dB"),
        Column("psnr_v", higher_is_better=True, label="PSNR-V (Cr)", unit="dB"),
        Column("psnr_yuv", higher_is_better=True, label="PSNR-YUV (6:1:1)", unit="dB"),
    )
    library = "numpy"

    def __init__(self, device: str = "cpu", matrix: str = "bt709", range: str = "full",  # noqa: A002
                 chroma_offset: str = "h273") -> None:
        for option, value, valid in (("matrix", matrix, MATRICES), ("range", range, RANGES),
                                     ("chroma_offset", chroma_offset, CHROMA_OFFSETS)):
            if value not in valid:
                raise ConfigError(f"psnr-yuv {option} must be one of {', '.join(valid)}, got {value!r}")
        if chroma_offset == "jpeg-ai" and range != "full":
            raise ConfigError("psnr-yuv chroma_offset='jpeg-ai' is defined for full range only")
        options = {"matrix": matrix, "range": range}
        if chroma_offset != "h273":  # the default stays out of the identity
            options["chroma_offset"] = chroma_offset
        super().__init__(device, **options)
        self.matrix, self.range, self.chroma_offset = matrix, range, chroma_offset

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}

    def compute(self, original: np.ndarray, reconstruction: np.ndarray) -> dict[str, float]:
        return yuv_psnr(original, reconstruction, self.matrix, self.range, self.chroma_offset)
