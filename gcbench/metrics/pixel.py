"""PSNR and MS-SSIM on 8-bit RGB, as CompressAI and MS-ILLM compute them.

PSNR: mean squared error over all pixels and the three channels, peak 255, per image.
MS-SSIM: pytorch-msssim's definition with data range 255 on RGB, 5 scales, 11×11 Gaussian
window (sigma 1.5), computed exactly in float64 by gcbench.metrics.fast_ssim; also reported in
dB as -10·log10(1 - MS-SSIM).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gcbench.core.availability import Availability, require_modules
from gcbench.core.errors import MetricError
from gcbench.metrics.base import Column, PairMetric
from gcbench.metrics.device_batch import batched_values, check_pair

#: gcbench.metrics.fast_ssim's numbers, stored with every SSIM and MS-SSIM value (metric versions):
#: bump when they change. Kept here, free of torch, so that planning a run never imports torch.
SSIM_IMPLEMENTATION = "1"


def _squared_error_sum(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """Σ (original - reconstruction)², exactly: in integers for 8-bit images (4× faster than
    float64 and free of rounding), in float64 otherwise."""
    if original.dtype == np.uint8 and reconstruction.dtype == np.uint8:
        diff = np.subtract(original, reconstruction, dtype=np.int16)
        return float(np.multiply(diff, diff, dtype=np.int32).sum(dtype=np.int64))
    diff = original.astype(np.float64) - reconstruction.astype(np.float64)
    return float(np.dot(diff.ravel(), diff.ravel()))


def psnr(original: np.ndarray, reconstruction: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB over all pixels and channels (CompressAI's per-image definition); inf when identical."""
    check_pair(original, reconstruction)
    mse = _squared_error_sum(original, reconstruction) / original.size
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)


class PSNR(PairMetric):
    name = "psnr"
    columns = (Column("psnr", higher_is_better=True, label="PSNR", unit="dB"),)
    library = "numpy"

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}

    def compute(self, original: np.ndarray, reconstruction: np.ndarray) -> dict[str, float]:
        return {"psnr": psnr(original, reconstruction)}


# pytorch-msssim's default: 5 scales, window 11, so each side must exceed (11 - 1) * 2**4.
MS_SSIM_MIN_SIDE = (11 - 1) * 2**4 + 1


def to_db(value: float) -> float:
    """A similarity in [0, 1] as dB, -10·log10(1 - value), CompressAI's MS-SSIM dB; inf at 1."""
    return math.inf if value >= 1.0 else -10.0 * math.log10(1.0 - value)


class MSSSIM(PairMetric):
    name = "ms-ssim"
    columns = (
        Column("ms_ssim", higher_is_better=True, label="MS-SSIM", minimum=0.0, maximum=1.0),
        Column("ms_ssim_db", higher_is_better=True, label="MS-SSIM", unit="dB", summary_of=("ms_ssim", "db")),
    )
    library = "pytorch-msssim"
    uses_device = True

    @classmethod
    def available(cls) -> Availability:
        return require_modules("torch", "pytorch_msssim")

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        # pytorch-msssim defines the value; gcbench's own implementation computes it (in float64:
        # it differs from pytorch-msssim's float32 result by that result's rounding, up to ~5e-5).
        return {"pytorch-msssim": version("pytorch-msssim"), "gcbench-ssim": SSIM_IMPLEMENTATION}

    def compute(self, original: np.ndarray, reconstruction: np.ndarray) -> dict[str, float]:
        return self.compute_many([(original, reconstruction)])[0]

    def compute_many(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[dict[str, float]]:
        """Same-sized pairs in one batched call on the metric's device (8-bit, exact float64 sums)."""
        from gcbench.metrics.fast_ssim import ms_ssim

        return similarity_with_db(pairs, self.device, lambda x, y: ms_ssim(x, y, data_range=255), "ms_ssim",
                                  MS_SSIM_MIN_SIDE, "MS-SSIM", "5 scales with an 11-px window")


def similarity_with_db(pairs: Sequence[tuple[np.ndarray, np.ndarray]], device: str, scores: Any, column: str,
                       min_side: int, label: str, why: str) -> list[dict[str, float]]:
    """``{column, column_db}`` per pair from a batched similarity (MS-SSIM, SSIM): pairs checked
    (one shape each, both sides at least ``min_side``), then one call per group of one size."""
    for original, reconstruction in pairs:
        check_pair(original, reconstruction)
        h, w = original.shape[:2]
        if min(h, w) < min_side:
            raise MetricError(f"image {h}×{w} is too small for {label}: both sides must be at least {min_side} px "
                              f"({why})")
    values = batched_values(pairs, device, scores, column)
    return [{column: v[column], f"{column}_db": to_db(v[column])} for v in values]
