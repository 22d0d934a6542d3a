"""Loading converts every common image kind to 8-bit RGB and records how."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gcbench.core.errors import ImageLoadError
from gcbench.data.images import load_image, pixel_hash


def test_rgb_png_is_loaded_unchanged(tmp_path: Path, rng: np.random.Generator) -> None:
    a = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    assert np.array_equal(img.array, a) and img.conversions == ()
    assert img.array.flags.writeable and img.array.flags.c_contiguous
    assert img.sha256 == pixel_hash(a)


def test_grey_is_replicated(tmp_path: Path) -> None:
    g = np.arange(60, dtype=np.uint8).reshape(6, 10)
    Image.fromarray(g, "L").save(tmp_path / "g.png")
    img = load_image(tmp_path / "g.png")
    assert np.array_equal(img.array, np.repeat(g[:, :, None], 3, axis=2))
    assert "grey replicated" in img.conversions[0]


def test_grey_alpha_and_rgba_drop_alpha(tmp_path: Path) -> None:
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] = 10, 20, 30, 7
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    assert (img.array == [10, 20, 30]).all()
    assert "alpha channel dropped" in img.conversions[0]
    Image.fromarray(rgba[..., [0, 3]], "LA").save(tmp_path / "la.png")
    assert (load_image(tmp_path / "la.png").array == 10).all()


def test_sixteen_bit_grey_is_rounded_not_truncated(tmp_path: Path) -> None:
    values = np.array([[0, 128, 257 * 100 + 200, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    img = load_image(tmp_path / "g16.png")
    assert img.array[0, :, 0].tolist() == [0, 0, 101, 255]  # 25900/257 = 100.78 → 101 (truncation gives 100)
    assert "scaled to 8-bit" in img.conversions[0]


def test_palette_gif_and_cmyk_jpeg(tmp_path: Path) -> None:
    a = np.zeros((8, 8, 3), np.uint8)
    a[:4] = [255, 0, 0]
    a[4:] = [0, 0, 255]
    Image.fromarray(a).convert("P").save(tmp_path / "p.gif")
    img = load_image(tmp_path / "p.gif")
    assert np.array_equal(img.array, a) and "palette" in img.conversions[0]
    Image.new("CMYK", (16, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=95)
    img = load_image(tmp_path / "c.jpg")
    assert img.array.shape == (8, 16, 3) and "CMYK" in img.conversions[0]
    assert img.array[..., 0].mean() > 200 and img.array[..., 1:].mean() < 40  # red


def test_exif_rotation_is_applied(tmp_path: Path) -> None:
    a = np.zeros((4, 6, 3), np.uint8)
    a[0, 0] = 255  # top-left marker
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.fromarray(a).save(tmp_path / "r.jpg", exif=exif, quality=100, subsampling=0)
    img = load_image(tmp_path / "r.jpg")
    assert img.array.shape == (6, 4, 3)
    assert img.array[0, -1].mean() > 150  # the marker moved to the top-right
    assert "EXIF orientation 6" in img.conversions[0]


def test_bad_files_raise_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "text.png").write_text("this is not an image")
    with pytest.raises(ImageLoadError, match="text.png: not a recognised image format"):
        load_image(tmp_path / "text.png")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 9).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match="trunc.png: cannot decode"):
        load_image(tmp_path / "trunc.png")
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "missing.png")
