"""PSNR against scikit-image's peak_signal_noise_ratio, on 8-bit images (the exact integer path)
and on float and 16-bit arrays (the float64 path)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import peak_signal_noise_ratio

from gcbench.core.errors import MetricError
from gcbench.metrics.pixel import psnr, to_db


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), h=st.integers(1, 40), w=st.integers(1, 40), spread=st.integers(1, 255))
def test_8bit_psnr_equals_scikit_image(seed: int, h: int, w: int, spread: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    noise = rng.integers(-spread, spread + 1, a.shape)
    b = np.clip(a.astype(np.int64) + noise, 0, 255).astype(np.uint8)
    if np.array_equal(a, b):
        assert psnr(a, b) == math.inf
    else:
        assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), rel=1e-13)


def test_extremes_and_other_dtypes() -> None:
    black, white = np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8)
    assert psnr(black, white) == 0.0  # the largest error there is, without overflow
    assert psnr(white, white) == math.inf
    rng = np.random.default_rng(1)
    a16, b16 = rng.integers(0, 65536, (2, 16, 16, 3)).astype(np.uint16)
    assert psnr(a16, b16, peak=65535.0) == pytest.approx(peak_signal_noise_ratio(a16, b16, data_range=65535), rel=1e-13)
    af, bf = rng.random((2, 16, 16, 3))
    assert psnr(af, bf, peak=1.0) == pytest.approx(peak_signal_noise_ratio(af, bf, data_range=1.0), rel=1e-13)
    with pytest.raises(MetricError, match="shapes differ"):
        psnr(black, black[:4])


def test_to_db() -> None:
    assert to_db(0.9) == pytest.approx(10.0)
    assert to_db(0.99) == pytest.approx(20.0)
    assert to_db(1.0) == math.inf
