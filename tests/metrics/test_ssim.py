"""SSIM against the reference implementations: scikit-image (to 1e-6) and pytorch-msssim."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from skimage.metrics import structural_similarity

from gcbench.core.errors import MetricError
from gcbench.metrics.ssim import SSIM, gaussian_window, ssim
from gcbench.metrics.registry import get_metric


def skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                       data_range=255, channel_axis=-1))


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


@pytest.mark.parametrize("name,quality", [("kodim01.png", 10), ("kodim07.png", 40), ("kodim23.png", 85)])
def test_equals_skimage_on_kodak_jpeg(kodak_dir: Path, name: str, quality: int) -> None:
    original = np.asarray(Image.open(kodak_dir / name).convert("RGB"))
    recon = jpeg(original, quality)
    value = SSIM().compute(original, recon)
    reference = skimage_ssim(original, recon)
    assert abs(value["ssim"] - reference) < 1e-6
    assert 0.3 < value["ssim"] < 1.0
    assert value["ssim_db"] == pytest.approx(-10 * math.log10(1 - value["ssim"]), rel=1e-12)


pairs = st.tuples(st.integers(11, 40), st.integers(11, 40)).flatmap(
    lambda hw: st.tuples(arrays(np.uint8, (*hw, 3)), arrays(np.uint8, (*hw, 3))))


@settings(max_examples=40, deadline=None)
@given(pairs)
def test_equals_skimage_on_any_pair(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    assert abs(ssim(a, b) - skimage_ssim(a, b)) < 1e-6


def test_agrees_with_pytorch_msssim(rng: np.random.Generator) -> None:
    import torch
    from pytorch_msssim import ssim as torch_ssim

    a = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
    x = torch.from_numpy(a).permute(2, 0, 1)[None].double()
    y = torch.from_numpy(b).permute(2, 0, 1)[None].double()
    # pytorch-msssim builds its window in float32: agreement to about 1e-6, not 1e-12
    assert ssim(a, b) == pytest.approx(float(torch_ssim(x, y, data_range=255)), abs=5e-6)


def test_window_is_the_standard_gaussian() -> None:
    w = gaussian_window()
    assert len(w) == 11 and w.sum() == pytest.approx(1.0, abs=1e-15)
    x = np.arange(-5, 6)
    expected = np.exp(-(x**2) / (2 * 1.5**2))
    np.testing.assert_allclose(w, expected / expected.sum(), rtol=1e-14)


def test_identical_images_and_small_images(rng: np.random.Generator) -> None:
    a = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out = get_metric("ssim").compute(a, a)
    assert out["ssim"] == pytest.approx(1.0, abs=1e-12) and out["ssim_db"] == math.inf
    with pytest.raises(MetricError, match="too small for SSIM"):
        ssim(a[:10], a[:10])
    with pytest.raises(MetricError, match="shapes differ"):
        ssim(a, a[:15])
