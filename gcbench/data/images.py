"""Loading images as 8-bit RGB, recording every conversion, and hashing their content."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gcbench.core.errors import ImageLoadError

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm", ".pbm", ".tga"}
)


@dataclass(frozen=True)
class LoadedImage:
    array: np.ndarray  # H×W×3 uint8 RGB, C-contiguous
    sha256: str  # hash of the pixels and shape (not of the file), the image's identity in task keys
    conversions: tuple[str, ...] = field(default=())

    @property
    def height(self) -> int:
        return int(self.array.shape[0])

    @property
    def width(self) -> int:
        return int(self.array.shape[1])


def pixel_hash(array: np.ndarray) -> str:
    """SHA-256 of an array's shape, dtype and pixels: the content key of a decoded image."""
    h = hashlib.sha256()
    h.update(f"{array.shape}|{array.dtype}".encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def _to_rgb8(im: object, conversions: list[str]) -> np.ndarray:
    from PIL import Image

    assert isinstance(im, Image.Image)
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit grey: scale to 8 bits with rounding (v / 257), never by dropping the low byte.
        a = np.asarray(im, dtype=np.float64)
        maxval = 65535.0 if mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
        a = np.clip(np.rint(a * (255.0 / maxval)), 0, 255).astype(np.uint8)
        conversions.append(f"{mode} grey scaled to 8-bit (round(v*255/{int(maxval)}))")
        return np.repeat(a[:, :, None], 3, axis=2)
    if mode == "F":
        a = np.asarray(im, dtype=np.float64)
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        conversions.append("float grey rounded and clipped to 8-bit")
        return np.repeat(a[:, :, None], 3, axis=2)
    if mode == "RGB":
        return np.asarray(im)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        conversions.append(f"{mode}: alpha channel dropped")
    elif mode == "P":
        conversions.append("palette expanded to RGB")
        if "transparency" in im.info:
            conversions.append("palette transparency dropped")
    elif mode in ("L", "1"):
        conversions.append(f"{mode} grey replicated to RGB")
    elif mode == "CMYK":
        conversions.append("CMYK converted to RGB (Pillow, no ICC profile)")
    else:
        conversions.append(f"{mode} converted to RGB")
    if mode == "P":
        im = im.convert("RGBA")
    return np.asarray(im.convert("RGB"))


def load_image(path: str | Path) -> LoadedImage:
    """Decode a file fully into RGB uint8. A file that is not a decodable image raises ImageLoadError."""
    from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, never half an image
    path = Path(path)
    conversions: list[str] = []
    try:
        with Image.open(path) as im:
            im.load()
            orientation = im.getexif().get(0x0112, 1)
            if orientation not in (1, None):
                im = ImageOps.exif_transpose(im)
                conversions.append(f"EXIF orientation {orientation} applied")
            if getattr(im, "n_frames", 1) > 1:
                conversions.append(f"first of {im.n_frames} frames used")
            array = _to_rgb8(im, conversions)
    except FileNotFoundError as exc:
        raise ImageLoadError(f"{path}: no such file") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{path}: not a recognised image format") from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"{path}: cannot decode image: {exc}") from exc
    array = np.array(array, dtype=np.uint8, order="C")  # writable, owns its memory
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ImageLoadError(f"{path}: decoded to an unusable shape {array.shape}")
    return LoadedImage(array=array, sha256=pixel_hash(array), conversions=tuple(conversions))


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
