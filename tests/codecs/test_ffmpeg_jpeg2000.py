"""JPEG 2000 as CompressAI ran it (codecs/ffmpeg-jpeg2000.toml): gcbench's spec gives the bytes and
pixels of CompressAI's own ``JPEG2000`` benchmark class, and reproduces CompressAI's published Kodak
curve (references/compressai/kodak/jpeg2000.json, measured with ffmpeg 3.4.6) with Debian's ffmpeg."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gcbench.codecs.registry import get_codec

REPO = Path(__file__).resolve().parents[2]
KODAK = "kodim20.png"


@pytest.fixture(scope="module")
def one_kodak(kodak_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kodak-j2k")
    shutil.copy(kodak_dir / KODAK, folder / KODAK)
    return folder


def test_spec_is_compressais_command() -> None:
    codec = get_codec("ffmpeg-jpeg2000")
    lines = codec.command_lines(50, 512, 768, tmp="T")
    ffmpeg = lines["encode"][0]
    # compressai/utils/bench/codecs.py, class JPEG2000: _get_encode_cmd and _get_decode_cmd
    assert lines["encode"] == [ffmpeg, "-loglevel", "panic", "-y", "-i", "T/input.png", "-vcodec", "jpeg2000",
                               "-pix_fmt", "yuv444p", "-c:v", "libopenjpeg", "-compression_level", "50", "T/bitstream.jp2"]
    assert lines["decode"] == [ffmpeg, "-loglevel", "panic", "-y", "-i", "T/bitstream.jp2", "T/decoded.png"]


@pytest.mark.slow  # imports torch and CompressAI's benchmark: 20 s on a shared machine
@pytest.mark.parametrize("quality", [5, 50, 95])
def test_gcbench_equals_compressais_jpeg2000_class(quality: int, one_kodak: Path, tmp_path: Path) -> None:
    from compressai.utils.bench.codecs import JPEG2000

    from gcbench.execution.runner import RunConfig, run
    from gcbench.results.views import per_image

    path = one_kodak / KODAK
    info, rec = JPEG2000(None).run(str(path), quality, metrics=["psnr-rgb"], return_rec=True)
    out = tmp_path / "out"
    report = run(RunConfig(codecs=[f"ffmpeg-jpeg2000@{quality}"], dataset=str(one_kodak), out=out, metrics=["psnr"],
                           progress=False, write_outputs=False))
    assert report.n_ok == 1
    row = per_image(out).iloc[0]
    assert row.bpp == info["bpp"]  # the same file length: the same formula gives the same float
    assert row.psnr == pytest.approx(info["psnr-rgb"], abs=1e-4)  # CompressAI's MSE is float32

    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    codec = get_codec("ffmpeg-jpeg2000")
    decoded = codec.decode(codec.encode(rgb, quality).data, rgb.shape[:2])
    np.testing.assert_array_equal(decoded, np.asarray(rec.convert("RGB")))  # pixel for pixel


@pytest.mark.slow
def test_compressais_published_kodak_curve_is_reproduced(kodak_dir: Path) -> None:
    """Mean bpp and PSNR over the 24 Kodak images at q 5, 50, 95 equal CompressAI's published
    points (bpp to the last bit, PSNR to float32 rounding)."""
    published = json.loads((REPO / "references" / "compressai" / "kodak" / "jpeg2000.json").read_text())["results"]
    codec = get_codec("ffmpeg-jpeg2000")
    files = sorted(kodak_dir.glob("kodim*.png"))
    assert len(files) == 24
    for index, quality in ((0, 5), (9, 50), (18, 95)):  # the published sweep is q = 5, 10, …, 95
        bpps, psnrs = [], []
        for f in files:
            with Image.open(f) as im:
                rgb = np.asarray(im.convert("RGB"))
            data = codec.encode(rgb, quality).data
            rec = codec.decode(data, rgb.shape[:2])
            mse = np.mean((rgb.astype(np.float64) - rec.astype(np.float64)) ** 2)
            bpps.append(8 * len(data) / (rgb.shape[0] * rgb.shape[1]))
            psnrs.append(10 * np.log10(255.0**2 / mse))
        assert np.mean(bpps) == pytest.approx(published["bpp"][index], rel=1e-12)
        assert np.mean(psnrs) == pytest.approx(published["psnr"][index], abs=1e-6)
