"""RGB ↔ Y'CbCr: against the published equations, scikit-image, CompressAI's matrix and ffmpeg's
swscale; round trips for every matrix, range and bit depth; rounding against truncation; the
YUV, Y4M, PPM and PNG files the command-line codecs exchange."""

from __future__ import annotations

import math
import subprocess

import numpy as np
import pytest
from PIL import Image

from gcbench.codecs import colour as C
from gcbench.core.errors import CodecError, ConfigError

COMBOS = [(m, r, d) for m in ("bt601", "bt709") for r in ("full", "limited") for d in (8, 10)]


@pytest.fixture(scope="module")
def kodim(kodak_dir):
    return np.asarray(Image.open(kodak_dir / "kodim23.png").convert("RGB"))


@pytest.fixture(scope="module")
def colours() -> np.ndarray:
    """2^20 random colours plus the cube's corners and every grey, as a 1032×1024 image."""
    rng = np.random.default_rng(7)
    random = rng.integers(0, 256, size=(1 << 20, 3), dtype=np.uint8)
    corners = np.array([[r, g, b] for r in (0, 255) for g in (0, 255) for b in (0, 255)], dtype=np.uint8)
    greys = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    filler = np.zeros((1032 * 1024 - (1 << 20) - 8 - 256, 3), dtype=np.uint8)
    return np.concatenate([random, corners, greys, filler]).reshape(1032, 1024, 3)


def published(rgb: np.ndarray, matrix: str, range_: str, depth: int) -> np.ndarray:
    """The equations as ITU-R BT.601-7 / BT.709-6 print them (denominators 1.772/1.402 and
    1.8556/1.5748), quantised per H.273 with Round(x) = Sign(x)·Floor(Abs(x) + 0.5)."""
    x = rgb.astype(np.float64) / 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    if matrix == "bt601":
        y = 0.299 * r + 0.587 * g + 0.114 * b
        cb, cr = (b - y) / 1.772, (r - y) / 1.402
    else:
        y = 0.2126 * r + 0.7152 * g + 0.0722 * b
        cb, cr = (b - y) / 1.8556, (r - y) / 1.5748
    if range_ == "full":
        vals = [(2**depth - 1) * y, (2**depth - 1) * cb + 2 ** (depth - 1), (2**depth - 1) * cr + 2 ** (depth - 1)]
    else:
        s = 2 ** (depth - 8)
        vals = [(219 * y + 16) * s, (224 * cb + 128) * s, (224 * cr + 128) * s]
    return np.stack(vals, axis=-1)


def h273_round(v: np.ndarray, depth: int) -> np.ndarray:
    return np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5), 0, 2**depth - 1)


@pytest.mark.parametrize("matrix,range_,depth", COMBOS)
def test_codes_equal_the_published_equations_rounded(kodim, matrix, range_, depth):
    ref = published(kodim, matrix, range_, depth)
    ours = C.rgb_to_ycbcr(kodim, matrix, range_, depth).astype(np.float64)
    # where the reference sits within 1e-9 of a .5 boundary, float noise may pick either side
    decided = np.abs(ref - np.floor(ref) - 0.5) > 1e-9
    assert decided.mean() > 0.99  # BT.601 luma ties at 8 bits: 299R + 587G + 114B ≡ 500 (mod 1000)
    np.testing.assert_array_equal(ours[decided], h273_round(ref, depth)[decided])
    assert np.abs(ours - ref).max() <= 0.5 + 1e-9  # rounded: never more than half a step off


def test_bt601_limited_floats_match_scikit_image(kodim):
    from skimage.color import rgb2ycbcr, ycbcr2rgb

    y, cb, cr = C.rgb_to_ycbcr_float(kodim, "bt601")
    ours = np.stack([219 * y + 16, 224 * cb + 128, 224 * cr + 128], axis=-1)
    # scikit-image prints the BT.601 matrix to three decimals (65.481, 128.553, ...)
    np.testing.assert_allclose(ours, rgb2ycbcr(kodim), atol=2e-3)
    codes = C.rgb_to_ycbcr(kodim, "bt601", "limited", 8)
    back = C.ycbcr_to_rgb(codes, "bt601", "limited", 8)
    ref_back = np.floor(np.clip(ycbcr2rgb(codes.astype(np.float64)), 0, 1) * 255 + 0.5)
    assert np.abs(back.astype(int) - ref_back).max() <= 1
    assert (back == ref_back).mean() > 0.999


def test_bt709_full_is_compressais_matrix(kodim):
    """Same matrix as CompressAI's rgb2ycbcr/ycbcr2rgb; only its truncation differs."""
    import torch
    from compressai.transforms.functional import rgb2ycbcr, ycbcr2rgb

    t = torch.from_numpy(kodim.transpose(2, 0, 1).astype(np.float32) / 255.0)
    theirs = rgb2ycbcr(t).numpy().transpose(1, 2, 0).astype(np.float64)
    y, cb, cr = C.rgb_to_ycbcr_float(kodim, "bt709")
    np.testing.assert_allclose(np.stack([y, cb + 0.5, cr + 0.5], axis=-1), theirs, atol=1e-6)
    back = ycbcr2rgb(torch.from_numpy(theirs.transpose(2, 0, 1).astype(np.float32))).numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(C.ycbcr_float_to_rgb(y, cb, cr, "bt709"), back, atol=1e-5)


# swscale scales full-range samples above 8 bits by 2^(N-8) (0…1020 at 10 bits), not by
# 2^N − 1 as H.273 does, so it is a reference for 8 bits and for limited range only.
@pytest.mark.parametrize("matrix,range_,depth", [c for c in COMBOS if not (c[1] == "full" and c[2] == 10)])
def test_agrees_with_ffmpeg_swscale(kodim, tmp_path, matrix, range_, depth):
    png = tmp_path / "in.png"
    Image.fromarray(kodim).save(png)
    pix_fmt = "yuv444p" if depth == 8 else "yuv444p10le"
    out = tmp_path / "sw.yuv"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(png), "-sws_flags", "accurate_rnd+full_chroma_int+bitexact",
         "-vf", f"scale=out_color_matrix={matrix}:out_range={'pc' if range_ == 'full' else 'tv'}",
         "-pix_fmt", pix_fmt, "-f", "rawvideo", str(out)],
        check=True,
    )
    fmt = C.YuvFormat("444", depth, matrix, range_)
    theirs = C.read_yuv(out, kodim.shape[0], kodim.shape[1], fmt)
    ours = C.rgb_to_yuv(kodim, fmt)
    for a, b in zip(ours, theirs):
        diff = np.abs(a.astype(int) - b.astype(int))
        assert diff.max() <= 1  # swscale works in 15-bit fixed point
        assert (diff == 0).mean() > 0.95


@pytest.mark.parametrize("matrix,range_", [(m, r) for m in ("bt601", "bt709") for r in ("full", "limited")])
def test_ten_bit_round_trip_is_lossless(colours, matrix, range_):
    # half a 10-bit step through the inverse matrix stays below half an 8-bit step
    codes = C.rgb_to_ycbcr(colours, matrix, range_, 10)
    np.testing.assert_array_equal(C.ycbcr_to_rgb(codes, matrix, range_, 10), colours)


@pytest.mark.parametrize("matrix,range_", [(m, r) for m in ("bt601", "bt709") for r in ("full", "limited")])
def test_eight_bit_round_trip_is_unbiased_and_within_bounds(colours, matrix, range_):
    codes = C.rgb_to_ycbcr(colours, matrix, range_, 8)
    err = C.ycbcr_to_rgb(codes, matrix, range_, 8).astype(np.int16) - colours
    # three 8-bit numbers cannot hold every 8-bit colour; limited range has fewer codes still
    assert np.abs(err).max() <= (1 if range_ == "full" else 2)
    assert abs(err.mean()) < 0.01
    assert (err == 0).mean() > (0.65 if range_ == "full" else 0.58)  # measured: 0.67 and 0.60


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255**2 / mse)


def compressai_truncated_round_trip(rgb: np.ndarray) -> np.ndarray:
    """What CompressAI's VTM/HM/AV1 wrappers do around the codec: astype(uint8) both ways."""
    import torch
    from compressai.transforms.functional import rgb2ycbcr, ycbcr2rgb

    t = torch.from_numpy(rgb.transpose(2, 0, 1).copy()).float() / 255
    ycc = (np.clip(rgb2ycbcr(t).numpy(), 0, 1) * 255).astype(np.uint8)
    back = ycbcr2rgb(torch.from_numpy(ycc.astype(np.float32) / 255)).numpy()
    return (back.clip(0, 1).transpose(1, 2, 0) * 255.0).astype(np.uint8)


def test_truncation_costs_what_rounding_does_not(kodim, colours):
    ours = C.ycbcr_to_rgb(C.rgb_to_ycbcr(kodim, "bt709", "full", 8), "bt709", "full", 8)
    theirs = compressai_truncated_round_trip(kodim)
    p_ours, p_theirs = _psnr(kodim, ours), _psnr(kodim, theirs)
    # measured: 53.0 dB against 43.7 dB on kodim23; the codec has not run yet
    assert p_ours > 50.0
    assert p_ours - p_theirs > 6.0
    # truncation is biased (every sample lands low), rounding is not
    bias = compressai_truncated_round_trip(colours[:256]).astype(float).mean() - colours[:256].astype(float).mean()
    assert bias < -0.5
    own_bias = C.ycbcr_to_rgb(C.rgb_to_ycbcr(colours[:256], "bt709", "full", 8), "bt709", "full", 8).astype(float).mean() \
        - colours[:256].astype(float).mean()
    assert abs(own_bias) < 0.01


def test_420_keeps_constant_and_linear_chroma(rng):
    fmt = C.YuvFormat("420", 10, "bt709", "full")
    flat = np.full((8, 12, 3), (200, 40, 90), dtype=np.uint8)
    np.testing.assert_array_equal(C.yuv_to_rgb(C.rgb_to_yuv(flat, fmt), fmt), flat)
    # centre-sited bilinear upsampling reproduces a linear ramp away from the edges
    ramp = np.add.outer(np.arange(8.0), 2 * np.arange(12.0))
    up = C.upsample_420(C.downsample_420(ramp))
    np.testing.assert_allclose(up[1:-1, 1:-1], ramp[1:-1, 1:-1], atol=1e-12)


def test_420_round_trip_of_a_photo_is_close(kodim):
    fmt = C.YuvFormat("420", 8, "bt709", "full")
    back = C.yuv_to_rgb(C.rgb_to_yuv(kodim, fmt), fmt)
    assert back.shape == kodim.shape
    assert _psnr(kodim, back) > 35.0  # chroma resolution is what 4:2:0 loses
    with pytest.raises(ConfigError, match="even"):
        C.rgb_to_yuv(kodim[:-1], fmt)


def test_format_checks():
    with pytest.raises(ConfigError, match="matrix"):
        C.YuvFormat(matrix="bt2020")
    with pytest.raises(ConfigError, match="range"):
        C.YuvFormat(range="tv")
    with pytest.raises(ConfigError, match="bit_depth"):
        C.YuvFormat(bit_depth=7)
    assert C.YuvFormat("420", 10).frame_bytes(4, 6) == (24 + 6 + 6) * 2
    assert C.YuvFormat("420", 10, "bt601", "limited").describe() == "YUV 4:2:0 10-bit BT.601 limited range"


@pytest.mark.parametrize("chroma,depth", [("444", 8), ("420", 10)])
def test_yuv_files_round_trip_and_say_what_was_expected(tmp_path, kodim, chroma, depth):
    fmt = C.YuvFormat(chroma, depth)
    planes = C.rgb_to_yuv(kodim, fmt)
    path = tmp_path / "x.yuv"
    C.write_yuv(path, planes, fmt)
    assert path.stat().st_size == fmt.frame_bytes(*kodim.shape[:2])
    for a, b in zip(planes, C.read_yuv(path, *kodim.shape[:2], fmt)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(CodecError, match=r"holds \d+ bytes; one 766×512 .* frame is \d+ bytes"):
        C.read_yuv(path, 512, 766, fmt)


def test_y4m_written_here_and_by_ffmpeg(tmp_path, kodim):
    fmt = C.YuvFormat("420", 10, "bt709", "full")
    planes = C.rgb_to_yuv(kodim, fmt)
    C.write_y4m(tmp_path / "a.y4m", planes, fmt)
    back, header, got = C.read_y4m(tmp_path / "a.y4m", "bt709", "full")
    assert (header.width, header.height, header.chroma, header.bit_depth) == (768, 512, "420", 10)
    assert got == fmt
    for a, b in zip(planes, back):
        np.testing.assert_array_equal(a, b)
    # an independent writer: ffmpeg's Y4M of a raw 4:4:4 8-bit file holds the same samples
    fmt8 = C.YuvFormat("444", 8)
    C.write_yuv(tmp_path / "b.yuv", C.rgb_to_yuv(kodim, fmt8), fmt8)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv444p", "-s", "768x512",
                    "-i", str(tmp_path / "b.yuv"), "-f", "yuv4mpegpipe", "-strict", "-1", str(tmp_path / "b.y4m")],
                   check=True)
    back8, header8, _ = C.read_y4m(tmp_path / "b.y4m", "bt709", "full")
    assert header8.chroma == "444" and header8.bit_depth == 8
    for a, b in zip(C.read_yuv(tmp_path / "b.yuv", 512, 768, fmt8), back8):
        np.testing.assert_array_equal(a, b)
    (tmp_path / "bad.y4m").write_bytes(b"P6 not y4m")
    with pytest.raises(CodecError, match="not a Y4M"):
        C.read_y4m(tmp_path / "bad.y4m", "bt709", "full")


def test_ppm_any_maxval_and_pgm(tmp_path, rng):
    rgb = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    C.write_ppm(tmp_path / "a.ppm", rgb)
    np.testing.assert_array_equal(C.read_ppm(tmp_path / "a.ppm"), rgb)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.ppm")), rgb)  # Pillow reads ours
    wide = (rgb.astype(np.uint16) * 257).astype(">u2")  # 16-bit, maxval 65535: v·257/65535·255 = v
    (tmp_path / "b.ppm").write_bytes(b"P6\n# comment\n7 5\n65535\n" + wide.tobytes())
    np.testing.assert_array_equal(C.read_ppm(tmp_path / "b.ppm"), rgb)
    grey = rgb[:, :, 0]
    (tmp_path / "c.pgm").write_bytes(b"P5 7 5 255\n" + grey.tobytes())
    np.testing.assert_array_equal(C.read_ppm(tmp_path / "c.pgm"), np.repeat(grey[:, :, None], 3, axis=2))


def test_sixteen_bit_png_is_scaled_not_cut(tmp_path):
    import imagecodecs

    values = np.array([[[0, 200, 128], [255, 32767, 65535]]], dtype=np.uint16)  # 1×2×3
    (tmp_path / "w.png").write_bytes(imagecodecs.png_encode(values))
    got = C.read_png(tmp_path / "w.png")
    np.testing.assert_array_equal(got, np.floor(values.astype(np.float64) / 257 + 0.5).astype(np.uint8))
    # Pillow alone keeps the high byte: 200 → 0, where 200/257 = 0.78 rounds to 1
    assert np.asarray(Image.open(tmp_path / "w.png"))[0, 0, 1] == 0 and got[0, 0, 1] == 1


def test_sixteen_bit_png_without_imagecodecs_is_a_clear_error(tmp_path, monkeypatch):
    import builtins

    import imagecodecs

    (tmp_path / "w.png").write_bytes(imagecodecs.png_encode(np.zeros((2, 2, 3), dtype=np.uint16)))
    real_import = builtins.__import__

    def no_imagecodecs(name, *args, **kwargs):
        if name == "imagecodecs":
            raise ImportError("no imagecodecs")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_imagecodecs)
    with pytest.raises(CodecError, match="16-bit PNG.*imagecodecs"):
        C.read_png(tmp_path / "w.png")
