"""Single-scale SSIM on 8-bit RGB, the standard Gaussian-window definition.

Wang et al. (2004) with the window papers and libraries use: an 11-tap Gaussian of sigma 1.5
(radius int(3.5·1.5 + 0.5) = 5, normalised), population (co)variances, K1 = 0.01, K2 = 0.03,
data range 255. The SSIM map is computed where the window fits inside the image ("valid"
positions), averaged per channel, then over the three channels. This is what
``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255, channel_axis=-1)`` returns (it filters with
reflection and then crops the window radius, which leaves exactly the valid positions) and
what pytorch-msssim's ``ssim`` computes in float32.

``ssim`` and ``ssim_map`` here are the plain numpy reference (float64, separable filtering);
the metric computes the same value with gcbench.metrics.fast_ssim (torch, float64, several times
faster), equal to the reference to ~1e-15.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gcbench.core.availability import Availability, require_modules
from gcbench.core.errors import MetricError
from gcbench.metrics.base import Column, PairMetric
from gcbench.metrics.pixel import SSIM_IMPLEMENTATION, similarity_with_db

SIGMA = 1.5
TRUNCATE = 3.5
K1, K2 = 0.01, 0.03


def gaussian_window(sigma: float = SIGMA, truncate: float = TRUNCATE) -> np.ndarray:
    """The normalised 1-D Gaussian taps (11 for sigma 1.5), as scipy.ndimage builds them."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _valid_filter(plane: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable correlation with ``taps`` along axes 0 and 1, at valid positions only."""
    k = len(taps)
    h, w = plane.shape[:2]
    rows = np.zeros((h - k + 1,) + plane.shape[1:], dtype=np.float64)
    for i, t in enumerate(taps):
        rows += t * plane[i : i + h - k + 1]
    out = np.zeros((h - k + 1, w - k + 1) + plane.shape[2:], dtype=np.float64)
    for i, t in enumerate(taps):
        out += t * rows[:, i : i + w - k + 1]
    return out


def ssim_map(original: np.ndarray, reconstruction: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """SSIM at every valid window position: (H-10)×(W-10)×C for a 2-D or H×W×C input."""
    if original.shape != reconstruction.shape:
        raise MetricError(f"shapes differ: original {original.shape}, reconstruction {reconstruction.shape}")
    taps = gaussian_window()
    k = len(taps)
    h, w = original.shape[:2]
    if min(h, w) < k:
        raise MetricError(f"image {h}×{w} is too small for SSIM: both sides must be at least {k} px (Gaussian window)")
    x = original.astype(np.float64)
    y = reconstruction.astype(np.float64)
    ux, uy = _valid_filter(x, taps), _valid_filter(y, taps)
    vx = _valid_filter(x * x, taps) - ux * ux
    vy = _valid_filter(y * y, taps) - uy * uy
    vxy = _valid_filter(x * y, taps) - ux * uy
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))


def ssim(original: np.ndarray, reconstruction: np.ndarray, data_range: float = 255.0) -> float:
    """Mean SSIM: per-channel means of the valid SSIM map, averaged over channels."""
    s = ssim_map(original, reconstruction, data_range)
    if s.ndim == 2:
        return float(s.mean())
    return float(np.mean([s[..., c].mean() for c in range(s.shape[-1])]))


class SSIM(PairMetric):
    name = "ssim"
    columns = (
        Column("ssim", higher_is_better=True, label="SSIM", minimum=-1.0, maximum=1.0),
        Column("ssim_db", higher_is_better=True, label="SSIM", unit="dB", summary_of=("ssim", "db")),
    )
    library = "numpy"
    uses_device = True

    @classmethod
    def available(cls) -> Availability:
        return require_modules("torch")

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__, "gcbench-ssim": SSIM_IMPLEMENTATION}

    def compute(self, original: np.ndarray, reconstruction: np.ndarray) -> dict[str, float]:
        return self.compute_many([(original, reconstruction)])[0]

    def compute_many(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[dict[str, float]]:
        """Same-sized pairs in one batched call on the metric's device."""
        from gcbench.metrics.fast_ssim import WIN_SIZE
        from gcbench.metrics.fast_ssim import ssim as fast

        return similarity_with_db(pairs, self.device, lambda x, y: fast(x, y, data_range=255), "ssim", WIN_SIZE,
                                  "SSIM", "Gaussian window")
