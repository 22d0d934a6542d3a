"""Every in-process codec (Pillow, pillow-heif, imagecodecs), tested from the registry."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from conftest import smooth_image
from PIL import Image

from gcbench.codecs.base import Codec
from gcbench.core.errors import CodecError
from gcbench.data.images import load_image
from gcbench.metrics.pixel import psnr
from gcbench.codecs.registry import codecs, get_codec

IN_PROCESS = [n for n in codecs.names() if codecs.get(n).adapter in ("pillow", "heif", "jxl")]


def test_in_process_codecs_are_all_here() -> None:
    assert set(IN_PROCESS) >= {"jpeg", "jpeg444", "webp", "jpeg2000", "avif", "heic", "heic444", "jpegxl"}


@pytest.mark.parametrize("name", IN_PROCESS)
def test_round_trip_contract(name: str) -> None:
    codec: Codec = get_codec(name)
    assert codec.available(), codec.available().describe()
    versions = codec.versions()
    assert versions and all(versions.values())
    img = smooth_image(48, 72, seed=3)
    settings = codec.settings()
    low, high = (settings[0], settings[-1])
    sizes = {}
    for s in (low, high):
        data = codec.encode(img, s)
        assert isinstance(data, bytes) and len(data) > 0
        rec = codec.decode(data, (48, 72))
        assert rec.shape == img.shape and rec.dtype == np.uint8
        sizes[s] = len(data)
    # The spec's declared rate direction holds: the last setting of the sweep spends more bits
    # (a one-setting spec, such as lossless PNG, has no rate axis to check).
    if low != high:
        assert sizes[high] > sizes[low]
    assert psnr(img, codec.decode(codec.encode(img, high))) > 30


@pytest.mark.parametrize("name", IN_PROCESS)
def test_corrupt_bitstream_is_a_codec_error(name: str) -> None:
    codec = get_codec(name)
    with pytest.raises(CodecError):
        codec.decode(b"\x00garbage\xff" * 4, (16, 16))


@pytest.mark.parametrize("name", ["jpeg", "webp", "jpeg2000", "avif", "heic", "jpegxl"])
def test_default_sweep_covers_low_to_high_rates_on_kodak(name: str, kodak_dir: Path) -> None:
    """About 0.05–2 bpp: the ends of each sweep on a Kodak image (JPEG cannot go as low)."""
    img = load_image(kodak_dir / "kodim23.png").array
    codec = get_codec(name)
    bpps = [8 * len(codec.encode(img, s)) / (img.shape[0] * img.shape[1]) for s in (codec.settings()[0], codec.settings()[-1])]
    lo, hi = min(bpps), max(bpps)
    assert lo < (0.25 if name == "jpeg" else 0.1), (name, bpps)
    assert hi > 1.5, (name, bpps)


def test_jpeg_444_differs_from_420() -> None:
    img = smooth_image(64, 64, seed=1)
    a, b = get_codec("jpeg").encode(img, 80), get_codec("jpeg444").encode(img, 80)
    assert len(b) > len(a)
    assert Image.open(io.BytesIO(a)).layer == [(1, 2, 2, 0), (2, 1, 1, 1), (3, 1, 1, 1)]
    assert Image.open(io.BytesIO(b)).layer == [(1, 1, 1, 0), (2, 1, 1, 1), (3, 1, 1, 1)]


def test_jpeg2000_settings_beat_pillow_defaults(kodak_dir: Path) -> None:
    """Irreversible 9/7 with the colour transform, against Pillow's defaults at the same ratio."""
    img = load_image(kodak_dir / "kodim05.png").array
    ours = get_codec("jpeg2000")
    data = ours.encode(img, 48)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG2000", quality_mode="rates", quality_layers=[48], no_jp2=True)
    default_rec = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    gain = psnr(img, ours.decode(data)) - psnr(img, default_rec)
    assert abs(len(data) - len(buf.getvalue())) / len(data) < 0.1  # same rate (ratio-driven)
    assert gain > 2.0, gain
    assert abs(8 * len(data) / img[..., 0].size - 24 / 48) < 0.05  # the ratio sets the rate


def test_heic_chroma_option() -> None:
    img = smooth_image(64, 64, seed=2)
    assert len(get_codec("heic444").encode(img, 60)) != len(get_codec("heic").encode(img, 60))


def test_jpegxl_matches_imagecodecs_directly() -> None:
    import imagecodecs

    img = smooth_image(40, 56, seed=5)
    ours = get_codec("jpegxl").encode(img, 1.0)
    direct = imagecodecs.jpegxl_encode(img, distance=1.0, effort=7, numthreads=1)
    assert ours == bytes(direct)
