"""gcbench.metrics.fast_ssim against its oracles: pytorch-msssim (MS-SSIM) and scikit-image (SSIM).

pytorch-msssim is evaluated in float64: in float32 (how it is usually called) its own result
moves by up to ~5e-5 on Kodak JPEGs, so it cannot be the yardstick for 1e-6. The float32 value
is checked only to lie within that known error.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from pytorch_msssim import ms_ssim as oracle_ms_ssim
from skimage.metrics import structural_similarity

from gcbench.metrics import fast_ssim

TOL = 1e-9  # observed: ~2e-15 (float64 summation order)
MIN_SIDE = (11 - 1) * 2**4 + 1


def as_batch(image: np.ndarray) -> torch.Tensor:
    """H×W×3 uint8 → (1, 3, H, W), a channels-last view as gcbench passes images."""
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None]


def reference_ms_ssim(a: np.ndarray, b: np.ndarray, dtype: torch.dtype = torch.float64) -> float:
    with torch.no_grad():
        return float(oracle_ms_ssim(as_batch(a).to(dtype), as_batch(b).to(dtype), data_range=255, size_average=True))


def reference_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                       data_range=255, channel_axis=-1))


def fast_pair(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    x, y = as_batch(a), as_batch(b)
    return float(fast_ssim.ms_ssim(x, y)[0]), float(fast_ssim.ssim(x, y)[0])


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def smooth(h: int, w: int, seed: int) -> np.ndarray:
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([128 + 100 * np.sin(xx / (w / 3.0) + seed), 128 + 100 * np.cos(yy / (h / 2.5)),
                    128 + 80 * np.sin((xx + yy) / ((h + w) / 4.0))], axis=-1)
    img += r.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def check_pair(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Both metrics against their oracles; returns the two absolute differences."""
    ms, ss = fast_pair(a, b)
    d_ms = abs(ms - reference_ms_ssim(a, b))
    d_ss = abs(ss - reference_ssim(a, b))
    assert d_ms < TOL, (ms, d_ms)
    assert d_ss < TOL, (ss, d_ss)
    return d_ms, d_ss


# pytorch-msssim in float64 takes about a second per Kodak image on the CPU: a few pairs here,
# all of them in the slow test.
@pytest.mark.parametrize("name,quality", [("kodim01.png", 5), ("kodim13.png", 40), ("kodim20.png", 90)])
def test_kodak_jpeg(kodak_dir: Path, name: str, quality: int) -> None:
    original = load(kodak_dir / name)
    check_pair(original, jpeg(original, quality))


@pytest.mark.slow
def test_every_kodak_image(kodak_dir: Path) -> None:
    paths = sorted(kodak_dir.glob("*.png"))
    assert len(paths) == 24
    worst = [0.0, 0.0]
    for path in paths:
        original = load(path)
        for quality in (5, 30, 75, 95):
            worst = np.maximum(worst, check_pair(original, jpeg(original, quality)))
    print(f"max |difference|: MS-SSIM {worst[0]:.1e}, SSIM {worst[1]:.1e}")


def test_sample_images(sample_dir: Path) -> None:
    paths = sorted(sample_dir.glob("*.png"))
    assert paths
    for path, quality in zip(paths, (5, 30, 75)):
        original = load(path)
        check_pair(original, jpeg(original, quality))


@pytest.mark.parametrize("h,w", [(177, 203), (161, 161), (500, 333), (161, 640), (333, 162)])
def test_odd_sizes(h: int, w: int) -> None:
    original = smooth(h, w, seed=h + w)
    if (h + w) % 2:
        check_pair(original, jpeg(original, 20))
    else:
        noisy = original.astype(int) + np.random.default_rng(w).integers(-40, 41, original.shape)
        check_pair(original, np.clip(noisy, 0, 255).astype(np.uint8))


def test_float32_oracle_is_within_its_own_rounding(kodak_dir: Path) -> None:
    # pytorch-msssim on float32 tensors (what pixel.py used to call): off by its float32
    # rounding only, up to ~5e-5 on flat regions at low quality (kodim20 at quality 5).
    original = load(kodak_dir / "kodim20.png")
    recon = jpeg(original, 5)
    value, _ = fast_pair(original, recon)
    assert abs(value - reference_ms_ssim(original, recon, torch.float32)) < 1e-4


pairs = st.tuples(st.integers(11, 40), st.integers(11, 40)).flatmap(
    lambda hw: st.tuples(arrays(np.uint8, (*hw, 3)), arrays(np.uint8, (*hw, 3))))


@settings(max_examples=40, deadline=None)
@given(pairs)
def test_ssim_equals_skimage_on_any_pair(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    assert abs(float(fast_ssim.ssim(as_batch(a), as_batch(b))[0]) - reference_ssim(a, b)) < TOL


def test_batch_gives_per_image_values() -> None:
    images = [smooth(170, 180, seed) for seed in range(3)]
    recons = [jpeg(im, q) for im, q in zip(images, (10, 40, 80))]
    x = torch.stack([as_batch(im)[0] for im in images])
    y = torch.stack([as_batch(im)[0] for im in recons])
    ms, ss = fast_ssim.ms_ssim(x, y), fast_ssim.ssim(x, y)
    assert ms.shape == ss.shape == (3,) and ms.dtype == torch.float64
    for i in range(3):
        assert float(ms[i]) == pytest.approx(reference_ms_ssim(images[i], recons[i]), abs=TOL)
        assert float(ss[i]) == pytest.approx(reference_ssim(images[i], recons[i]), abs=TOL)
    with torch.no_grad():
        per_channel = oracle_ms_ssim(x.double(), y.double(), data_range=255, size_average=False)
    torch.testing.assert_close(ms, per_channel, atol=TOL, rtol=0)


def test_layouts_and_dtypes_agree() -> None:
    a = smooth(170, 190, seed=5)
    b = jpeg(a, 15)
    x, y = as_batch(a), as_batch(b)
    expected = fast_pair(a, b)
    for xx, yy in [
        (x.contiguous(), y.contiguous()),
        (x.float(), y.float()),
        (x.double().contiguous(), y.double().contiguous()),
    ]:
        got = (float(fast_ssim.ms_ssim(xx, yy)[0]), float(fast_ssim.ssim(xx, yy)[0]))
        assert got == pytest.approx(expected, abs=1e-12)


def test_strips_and_whole_image_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    # One strip per image is what an accelerator runs; one block per strip forces partial last
    # strips and buffers reused across scales of different shapes.
    a = smooth(333, 250, seed=7)
    b = jpeg(a, 25)
    default = fast_pair(a, b)
    for budget in (1, 1 << 40):
        monkeypatch.setattr(fast_ssim, "_STRIP_BYTES", budget)
        assert fast_pair(a, b) == pytest.approx(default, abs=1e-12)


def test_kept_workspace_gives_the_same_values() -> None:
    # The thread keeps its workspace between 8-bit calls: sizes that grow and shrink it, and a
    # float call with NaN (which gets a workspace of its own), change nothing.
    small, large = smooth(170, 200, seed=8), smooth(300, 420, seed=9)
    first = [fast_pair(im, jpeg(im, 30)) for im in (small, large)]
    poisoned = as_batch(small).double()
    poisoned[0, 0, 50, 60] = float("nan")
    assert np.isnan(float(fast_ssim.ms_ssim(poisoned, poisoned)[0]))
    again = [fast_pair(im, jpeg(im, 30)) for im in (large, small)][::-1]
    assert again == first


def test_identical_images() -> None:
    a = smooth(180, 200, seed=3)
    ms, ss = fast_pair(a, a)
    assert ms == pytest.approx(1.0, abs=1e-12) and ss == pytest.approx(1.0, abs=1e-12)


def test_too_small_and_mismatched() -> None:
    a = as_batch(smooth(MIN_SIDE, MIN_SIDE, seed=1))
    fast_ssim.ms_ssim(a, a)
    with pytest.raises(ValueError, match="too small"):
        fast_ssim.ms_ssim(a[..., :-1, :], a[..., :-1, :])
    with pytest.raises(ValueError, match="too small"):
        fast_ssim.ssim(a[..., :10, :], a[..., :10, :])
    with pytest.raises(ValueError, match="shapes differ"):
        fast_ssim.ms_ssim(a, a[..., :-2])
    with pytest.raises(ValueError, match="N, C, H, W"):
        fast_ssim.ssim(a[0], a[0])


def test_windows_are_the_oracles() -> None:
    from pytorch_msssim.ssim import _fspecial_gauss_1d

    assert torch.equal(fast_ssim.msssim_window(), _fspecial_gauss_1d(11, 1.5).flatten().double())
    x = np.arange(-5, 6)
    expected = np.exp(-(x**2) / (2 * 1.5**2))
    np.testing.assert_allclose(fast_ssim.skimage_window().numpy(), expected / expected.sum(), rtol=1e-14)
