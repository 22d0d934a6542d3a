"""psnr-yuv against an independent numpy computation from the BT.709 / BT.601 matrices, per image."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gcbench.core.errors import ConfigError
from gcbench.metrics.registry import get_metric, metrics
from gcbench.metrics.yuv import YUVPSNR, weighted_psnr

IMAGES = ("kodim01.png", "kodim08.png", "kodim15.png", "kodim23.png")


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def _pairs(kodak_dir: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for i, name in enumerate(IMAGES):
        original = np.asarray(Image.open(kodak_dir / name).convert("RGB"))
        out.append((original, _jpeg(original, 20 + 20 * i)))
    return out


def _exact_codes(rgb: np.ndarray, kr: int, kb: int, limited: bool, half_offset: bool = False) -> list:
    """Y'CbCr codes in exact integer arithmetic (no gcbench code): Kr, Kb in units of 1e-4, and
    Round(x) = floor(x + 1/2) of each rational value. Returns (codes, ties) per plane, ties being
    where the exact value lies on .5 (where any floating-point conversion may go either way)."""
    r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
    ysum = kr * r + (10000 - kr - kb) * g + kb * b  # 10000 · 255 · E'Y
    if limited:  # Y = 219·E'Y + 16, C = 224·E'C + 128
        values = [(219 * ysum + 16 * 2550000, 2550000)]
        values += [(224 * (10000 * x - ysum) + 128 * 510 * (10000 - k), 510 * (10000 - k))
                   for x, k in ((b, kb), (r, kr))]
    else:  # Y = 255·E'Y, C = 255·E'C + 128 (or + 127.5: jpeg-ai-qaf)
        values = [(ysum, 10000)]
        values += [(2 * (10000 * x - ysum) + (255 if half_offset else 256) * 2 * (10000 - k), 4 * (10000 - k))
                   for x, k in ((b, kb), (r, kr))]
    out = []
    for num, den in values:
        codes = np.clip((2 * num + den) // (2 * den), 0, 255).astype(np.float64)
        out.append((codes, (2 * num + den) % (2 * den) == 0))
    return out


def _reference_psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a - b) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _check_against_exact(metric: YUVPSNR, original: np.ndarray, recon: np.ndarray, kr: int, kb: int,
                         limited: bool, half_offset: bool = False) -> list[float]:
    """Codes equal the exact ones except on exact .5 ties (one step either way there); the PSNRs
    equal those of the exact codes with gcbench's tie decisions to 1e-9, and of the purely exact
    codes to 0.02 dB."""
    from gcbench.metrics.yuv import to_ycbcr

    planes: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for label, image in (("original", original), ("recon", recon)):
        codes = to_ycbcr(image, metric.matrix, metric.range, metric.chroma_offset)
        planes[label] = []
        for k, (want, ties) in enumerate(_exact_codes(image, kr, kb, limited, half_offset)):
            off = codes[..., k] != want
            # exact ties are common: with R = G, Cb = 128 + (B - R) / 2 (3.7 % of kodim01's Cb samples)
            assert np.all(ties[off]) and np.all(np.abs(codes[..., k] - want) <= 1)
            planes[label].append((want, np.where(ties, codes[..., k], want)))
    exact = [_reference_psnr(a[0], b[0]) for a, b in zip(planes["original"], planes["recon"], strict=True)]
    ref = [_reference_psnr(a[1], b[1]) for a, b in zip(planes["original"], planes["recon"], strict=True)]
    got = metric.compute(original, recon)
    assert [got["psnr_y"], got["psnr_u"], got["psnr_v"]] == pytest.approx(ref, abs=1e-9)
    assert got["psnr_yuv"] == pytest.approx((6 * ref[0] + ref[1] + ref[2]) / 8, abs=1e-9)
    assert ref == pytest.approx(exact, abs=0.02)  # float tie-breaking in gcbench.codecs.colour (README)
    return exact


@pytest.mark.parametrize(("matrix", "kr", "kb", "range_"), [
    ("bt709", 2126, 722, "full"), ("bt601", 2990, 1140, "full"), ("bt709", 2126, 722, "limited")])
def test_equals_independent_computation_per_image(kodak_dir: Path, matrix: str, kr: int, kb: int,
                                                  range_: str) -> None:
    metric = get_metric("psnr-yuv", matrix=matrix, range=range_)
    for original, recon in _pairs(kodak_dir):
        ref = _check_against_exact(metric, original, recon, kr, kb, range_ == "limited")
        assert 15 < ref[0] < 60 and ref[1] != ref[2]  # a real, lossy, colour comparison


def test_jpeg_ai_chroma_offset(kodak_dir: Path) -> None:
    """jpeg-ai-qaf's chroma codes are round(255·(C + 0.5)): half a code below H.273's."""
    metric = YUVPSNR(chroma_offset="jpeg-ai")
    for original, recon in _pairs(kodak_dir)[:2]:
        got = metric.compute(original, recon)
        _check_against_exact(metric, original, recon, 2126, 722, False, half_offset=True)
        other = YUVPSNR().compute(original, recon)
        assert got["psnr_y"] == other["psnr_y"] and got["psnr_u"] != other["psnr_u"]
    assert YUVPSNR(chroma_offset="jpeg-ai").identity() != YUVPSNR().identity()


def test_summary_is_the_6_1_1_mean(kodak_dir: Path, tmp_path: Path) -> None:
    """Through a real run: the summary's psnr_yuv is (6·Y + U + V) / 8 of the summary's plane means."""
    from gcbench.execution.runner import RunConfig, run
    from gcbench.results.views import per_image, summary

    images = tmp_path / "images"
    images.mkdir()
    for name in IMAGES[:2]:
        Image.open(kodak_dir / name).convert("RGB").crop((0, 0, 256, 192)).save(images / name)
    run(RunConfig(codecs=["jpeg@30,70"], dataset=str(images), metrics=["psnr-yuv"], out=tmp_path / "out",
                  progress=False, write_outputs=False))
    table = summary(per_image(tmp_path / "out"))
    assert len(table) == 2
    for row in table.itertuples():
        assert row.psnr_yuv == pytest.approx((6 * row.psnr_y + row.psnr_u + row.psnr_v) / 8, abs=1e-9)


def test_declarations_identity_and_errors() -> None:
    cols = {c.name: c for c in metrics.get("psnr-yuv").columns}
    assert list(cols) == ["psnr_y", "psnr_u", "psnr_v", "psnr_yuv"]
    assert all(c.higher_is_better and c.unit == "dB" for c in cols.values())
    image = np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    assert all(math.isinf(v) for v in YUVPSNR().compute(image, image).values())
    assert weighted_psnr(40.0, math.inf, 30.0) == math.inf
    assert YUVPSNR().identity() != YUVPSNR(matrix="bt601").identity() != YUVPSNR(range="limited").identity()
    for bad in ({"matrix": "bt2020"}, {"range": "studio"}, {"chroma_offset": "x"},
                {"chroma_offset": "jpeg-ai", "range": "limited"}):
        with pytest.raises(ConfigError):
            YUVPSNR(**bad)
