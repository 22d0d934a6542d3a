"""Region-aware metrics: distortion inside and outside a region of interest, saliency-weighted
distortion, LPIPS per region, and estimated bits per region for codecs that expose likelihoods.

Each metric declares ``needs_mask``: the worker hands it the image's mask (gcbench.data.masks), a
float32 H×W array in [0, 1]. Conventions:

- **RoI** = pixels whose mask value is at least ``threshold`` (0.5 by default, so a binary mask
  is used as is and a soft one is cut in half). Inside/outside values are means over the pixels
  of that region and the three channels; a region with no pixel has no value (NaN), so an
  all-ones mask gives the whole-image value inside and nothing outside.
- **Saliency weighting**: per-pixel squared error (mean over channels) times weights
  ``w = s / mean(s)``, normalised to mean 1, so a uniform map gives plain MSE and PSNR.
- **LPIPS per region**: gcbench's LPIPS (lpips AlexNet v0.1, trunk from gcbench.weights) run
  with ``spatial=True`` gives a distance map at the input resolution (whose mean is the scalar
  LPIPS up to the bilinear upsampling of each layer, ~1e-4 relative); the map is averaged over
  the RoI and over the rest.
- **Estimated bits per region** (``*_est`` columns, estimates, never bitstream sizes): a
  codec exposing ``bits_map(image, setting, side=None)`` (estimated bits per pixel position,
  H×W) or ``likelihoods(image, setting, side=None)`` (latent name → likelihoods, shaped
  (1, C, h, w) or (C, h, w)) is asked for its bits; each latent element's −log2 likelihood is
  spread evenly over the image block it codes (see :func:`bits_map_from_likelihoods`).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

# the bits map belongs to the codecs (they expose it); re-exported here for region metrics
from gcbench.codecs.learned.bits import bits_map_from_likelihoods
from gcbench.core.errors import ConfigError, MetricError
from gcbench.metrics.base import Column, PairMetric
from gcbench.metrics.perceptual import LPIPS

DEFAULT_THRESHOLD = 0.5


# -- plain functions (what the metrics compute, usable on their own) -------------------------


def _check(original: np.ndarray, reconstruction: np.ndarray, mask: np.ndarray) -> None:
    if original.shape != reconstruction.shape:
        raise MetricError(f"shapes differ: original {original.shape}, reconstruction {reconstruction.shape}")
    if mask.shape != original.shape[:2]:
        raise MetricError(f"mask is {mask.shape[1]}×{mask.shape[0]}, image is {original.shape[1]}×{original.shape[0]}")


def squared_error(original: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """Per-pixel squared error, averaged over channels (float64 H×W)."""
    diff = original.astype(np.float64) - reconstruction.astype(np.float64)
    se = diff * diff
    return se.mean(axis=2) if se.ndim == 3 else se


def roi_of(mask: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """The region of interest of a mask: pixels at or above ``threshold``."""
    return np.asarray(mask) >= threshold


def psnr_from_mse(mse: float, peak: float = 255.0) -> float:
    """PSNR from a mean squared error (NaN stays NaN, zero error is infinite)."""
    if math.isnan(mse):
        return math.nan
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)


def region_mse(original: np.ndarray, reconstruction: np.ndarray, mask: np.ndarray,
               threshold: float = DEFAULT_THRESHOLD) -> tuple[float, float]:
    """(MSE inside the RoI, MSE outside); NaN for a region without pixels."""
    _check(original, reconstruction, mask)
    se = squared_error(original, reconstruction)
    inside = roi_of(mask, threshold)
    n_in = int(inside.sum())
    mse_in = float(se[inside].mean()) if n_in else math.nan
    mse_out = float(se[~inside].mean()) if n_in < inside.size else math.nan
    return mse_in, mse_out


def saliency_mse(original: np.ndarray, reconstruction: np.ndarray, saliency: np.ndarray) -> float:
    """Mean of the per-pixel squared error weighted by ``saliency / mean(saliency)``."""
    _check(original, reconstruction, saliency)
    s = np.asarray(saliency, dtype=np.float64)
    mean = float(s.mean())
    if not mean > 0.0:
        raise MetricError("the saliency map is zero everywhere: it cannot be normalised to mean 1")
    return float(np.mean(squared_error(original, reconstruction) * (s / mean)))


def region_means(values: np.ndarray, mask: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> tuple[float, float]:
    """Means of an H×W map over the RoI and over the rest (NaN for an empty region)."""
    inside = roi_of(mask, threshold)
    n_in = int(inside.sum())
    return (float(values[inside].mean()) if n_in else math.nan,
            float(values[~inside].mean()) if n_in < inside.size else math.nan)


def codec_bits_map(codec: Any, image: np.ndarray, setting: Any, side: np.ndarray | None) -> np.ndarray:
    """Ask a codec for its estimated bits per pixel position (see the module docstring)."""
    kwargs = {"side": side} if side is not None else {}
    if hasattr(codec, "bits_map"):
        bits = np.asarray(codec.bits_map(image, setting, **kwargs), dtype=np.float64)
    elif hasattr(codec, "likelihoods"):
        bits = bits_map_from_likelihoods(codec.likelihoods(image, setting, **kwargs), image.shape[:2])
    else:
        raise MetricError(
            f"codec {getattr(codec, 'name', codec)!r} exposes no likelihoods (neither bits_map() nor "
            "likelihoods()): estimated bits per region need a learned codec that does"
        )
    if bits.shape != image.shape[:2]:
        raise MetricError(f"codec's bits map is {bits.shape}, the image is {image.shape[:2]}")
    return bits


# -- metric plugins ------------------------------------------------------------------------------


class _Thresholded(PairMetric):
    needs_mask: ClassVar[bool] = True

    def __init__(self, device: str = "cpu", threshold: float = DEFAULT_THRESHOLD, **options: Any) -> None:
        if not 0.0 < float(threshold) <= 1.0:
            raise ConfigError(f"metric {self.name!r}: threshold must be in (0, 1], got {threshold!r}")
        super().__init__(device, threshold=float(threshold), **options)
        self.threshold = float(threshold)


class RegionPSNR(_Thresholded):
    """PSNR and MSE inside and outside the region of interest."""

    name = "roi-psnr"
    columns = (
        Column("psnr_in", higher_is_better=True, label="PSNR in RoI", unit="dB"),
        Column("psnr_out", higher_is_better=True, label="PSNR outside RoI", unit="dB"),
        Column("mse_in", higher_is_better=False, label="MSE in RoI", minimum=0.0),
        Column("mse_out", higher_is_better=False, label="MSE outside RoI", minimum=0.0),
    )
    library = "numpy"

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}

    def compute(self, original: np.ndarray, reconstruction: np.ndarray, mask: np.ndarray | None = None) -> dict[str, float]:
        if mask is None:
            raise MetricError(f"metric {self.name!r} needs a mask")
        mse_in, mse_out = region_mse(original, reconstruction, mask, self.threshold)
        return {"psnr_in": psnr_from_mse(mse_in), "psnr_out": psnr_from_mse(mse_out),
                "mse_in": mse_in, "mse_out": mse_out}


class SaliencyPSNR(PairMetric):
    """MSE and PSNR weighted by a saliency map normalised to mean 1."""

    name = "saliency-psnr"
    columns = (
        Column("psnr_sal", higher_is_better=True, label="saliency-weighted PSNR", unit="dB"),
        Column("mse_sal", higher_is_better=False, label="saliency-weighted MSE", minimum=0.0),
    )
    library = "numpy"
    needs_mask: ClassVar[bool] = True

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}

    def compute(self, original: np.ndarray, reconstruction: np.ndarray, mask: np.ndarray | None = None) -> dict[str, float]:
        if mask is None:
            raise MetricError(f"metric {self.name!r} needs a saliency map")
        mse = saliency_mse(original, reconstruction, mask)
        return {"psnr_sal": psnr_from_mse(mse), "mse_sal": mse}


class RegionLPIPS(LPIPS):
    """LPIPS (AlexNet v0.1 by default, inputs in [-1, 1], full resolution) averaged inside and
    outside the RoI.

    The network is gcbench's LPIPS metric (gcbench.metrics.perceptual: the trunk resolved and
    hash-checked through gcbench.weights, ``trunk_weights=PATH`` for another file, recorded as
    such); only its output changes: lpips reads its ``spatial`` flag in ``forward``, and with
    it set returns the distance map at the input resolution instead of its mean.
    """

    name = "roi-lpips"
    columns = (
        Column("lpips_in", higher_is_better=False, label="LPIPS in RoI", minimum=0.0),
        Column("lpips_out", higher_is_better=False, label="LPIPS outside RoI", minimum=0.0),
    )
    needs_mask: ClassVar[bool] = True

    def __init__(self, device: str = "cpu", net: str = "alex", version: str = "0.1",
                 trunk_weights: str | None = None, threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 0.0 < float(threshold) <= 1.0:
            raise ConfigError(f"metric {self.name!r}: threshold must be in (0, 1], got {threshold!r}")
        super().__init__(device, net=net, version=version, trunk_weights=trunk_weights)
        self.threshold = float(threshold)
        self.options["threshold"] = self.threshold  # part of the identity

    def prepare(self) -> None:
        super().prepare()
        self._model.spatial = True

    def distance_map(self, original: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
        """The LPIPS distance at each pixel (H×W float64)."""
        import torch

        from gcbench.metrics.device_batch import device_batch
        from gcbench.metrics.precision import full_precision

        self.prepare()
        x, y = (device_batch([im], self.device).to(torch.float32) * self.scale + self.offset
                for im in (original, reconstruction))
        with torch.no_grad(), full_precision(self.device):
            d = self._model(x, y)
        return d[0, 0].double().cpu().numpy()

    def compute(self, original: np.ndarray, reconstruction: np.ndarray, mask: np.ndarray | None = None) -> dict[str, float]:
        if mask is None:
            raise MetricError(f"metric {self.name!r} needs a mask")
        _check(original, reconstruction, mask)
        inside, outside = region_means(self.distance_map(original, reconstruction), mask, self.threshold)
        return {"lpips_in": inside, "lpips_out": outside}


class RegionBits(_Thresholded):
    """Estimated bits per pixel inside and outside the RoI, from the codec's likelihoods."""

    name = "roi-bits"
    columns = (
        Column("bpp_in_est", higher_is_better=False, label="estimated bpp in RoI", unit="bpp", minimum=0.0),
        Column("bpp_out_est", higher_is_better=False, label="estimated bpp outside RoI", unit="bpp", minimum=0.0),
        Column("bpp_est", higher_is_better=False, label="estimated bpp", unit="bpp", minimum=0.0),
    )
    library = "numpy"
    needs_codec: ClassVar[bool] = True

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}

    def compute(self, original: np.ndarray, reconstruction: np.ndarray, mask: np.ndarray | None = None,
                codec: Any = None, setting: Any = None) -> dict[str, float]:
        if mask is None or codec is None:
            raise MetricError(f"metric {self.name!r} needs a mask and the codec")
        side = mask if getattr(codec, "uses_side_input", False) else None
        bits = codec_bits_map(codec, original, setting, side)
        inside, outside = region_means(bits, mask, self.threshold)
        return {"bpp_in_est": inside, "bpp_out_est": outside, "bpp_est": float(bits.mean())}
