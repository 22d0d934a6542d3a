"""RGB ↔ Y'CbCr for command-line codecs that read or write raw YUV, and the files involved.

The equations are those of ITU-R BT.601 / BT.709 and ITU-T H.273, with R, G, B in [0, 1]::

    E'Y  = Kr·R + (1 − Kr − Kb)·G + Kb·B
    E'Cb = (B − E'Y) / (2·(1 − Kb))          E'Cr = (R − E'Y) / (2·(1 − Kr))

    BT.601: Kr = 0.299,  Kb = 0.114          BT.709: Kr = 0.2126, Kb = 0.0722

quantised to N bits (H.273, VideoFullRangeFlag 1 and 0)::

    full:     Y = Round((2^N − 1)·E'Y)              C = Round((2^N − 1)·E'C + 2^(N−1))
    limited:  Y = Round((219·E'Y + 16)·2^(N−8))     C = Round((224·E'C + 128)·2^(N−8))

Every quantisation rounds to nearest, never truncates: truncating (``astype(np.uint8)`` on a
scaled float, as CompressAI's VTM/HM/AV1 wrappers do) biases every sample by half a step on the
way in and again on the way out, which costs PSNR that the codec never lost.

4:2:0: the float chroma of each 2×2 block is averaged before it is quantised (chroma centred
between the four luma samples, as in JPEG); on the way back it is upsampled with the bilinear
3/4–1/4 filter of that siting, edges replicated. Both ends of a round trip use this module, so
the siting only has to agree with itself.

Raw YUV files are planar (Y, then Cb, then Cr), one byte per sample up to 8 bits, two bytes
little-endian above. Y4M and PPM are read and written here too; PNG through Pillow (16-bit PNG
through imagecodecs, since Pillow keeps only the high byte of 16-bit RGB).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gcbench.core.errors import CodecError, ConfigError

# (Kr, Kb) of each matrix; Kg = 1 − Kr − Kb.
MATRICES: dict[str, tuple[float, float]] = {
    "bt601": (0.299, 0.114),
    "bt709": (0.2126, 0.0722),
}
RANGES = ("full", "limited")
CHROMAS = ("444", "420")


@dataclass(frozen=True)
class YuvFormat:
    """How a raw Y'CbCr picture is laid out and what its numbers mean."""

    chroma: str = "444"
    bit_depth: int = 8
    matrix: str = "bt709"
    range: str = "full"

    def __post_init__(self) -> None:
        object.__setattr__(self, "chroma", str(self.chroma))
        if self.chroma not in CHROMAS:
            raise ConfigError(f"chroma must be one of {', '.join(CHROMAS)}, got {self.chroma!r}")
        if not isinstance(self.bit_depth, int) or not 8 <= self.bit_depth <= 16:
            raise ConfigError(f"bit_depth must be an integer from 8 to 16, got {self.bit_depth!r}")
        if self.matrix not in MATRICES:
            raise ConfigError(f"matrix must be one of {', '.join(MATRICES)}, got {self.matrix!r}")
        if self.range not in RANGES:
            raise ConfigError(f"range must be 'full' or 'limited', got {self.range!r}")

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8) if self.bit_depth <= 8 else np.dtype("<u2")

    @property
    def subsampled(self) -> bool:
        return self.chroma == "420"

    def plane_shapes(self, height: int, width: int) -> list[tuple[int, int]]:
        if self.subsampled:
            if height % 2 or width % 2:
                raise ConfigError(f"4:2:0 needs even sizes, got {width}×{height} (pad the image first)")
            c = (height // 2, width // 2)
        else:
            c = (height, width)
        return [(height, width), c, c]

    def frame_bytes(self, height: int, width: int) -> int:
        return sum(h * w for h, w in self.plane_shapes(height, width)) * self.dtype.itemsize

    def describe(self) -> str:
        chroma = {"444": "4:4:4", "420": "4:2:0"}[self.chroma]
        return f"YUV {chroma} {self.bit_depth}-bit {self.matrix.upper().replace('BT', 'BT.')} {self.range} range"


# ---------------------------------------------------------------------------------------------
# Colour matrices (floating point, unquantised)
# ---------------------------------------------------------------------------------------------

def rgb_to_ycbcr_float(rgb: np.ndarray, matrix: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """E'Y in [0, 1] and E'Cb, E'Cr in [−0.5, 0.5] from 8-bit RGB."""
    kr, kb = MATRICES[matrix]
    kg = 1.0 - kr - kb
    x = np.asarray(rgb, dtype=np.float64) / 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = kr * r + kg * g + kb * b
    cb = (b - y) / (2.0 * (1.0 - kb))
    cr = (r - y) / (2.0 * (1.0 - kr))
    return y, cb, cr


def ycbcr_float_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, matrix: str) -> np.ndarray:
    """R, G, B in [0, 1] (not clipped) from E'Y, E'Cb, E'Cr: the exact inverse of the above."""
    kr, kb = MATRICES[matrix]
    kg = 1.0 - kr - kb
    r = y + 2.0 * (1.0 - kr) * cr
    b = y + 2.0 * (1.0 - kb) * cb
    g = (y - kr * r - kb * b) / kg
    return np.stack([r, g, b], axis=-1)


def _round(x: np.ndarray, maximum: int) -> np.ndarray:
    """H.273 Round() of values clipped to [0, maximum] (all non-negative, so floor(x + 0.5))."""
    return np.floor(np.clip(x, 0.0, float(maximum)) + 0.5).astype(np.uint16)


def quantize_luma(e: np.ndarray, bit_depth: int, range_: str) -> np.ndarray:
    """Luma E'Y in [0, 1] to integer codes of ``bit_depth`` bits, full or limited (16–235) range."""
    top = (1 << bit_depth) - 1
    if range_ == "full":
        return _round(top * e, top)
    return _round((219.0 * e + 16.0) * (1 << (bit_depth - 8)), top)


def quantize_chroma(e: np.ndarray, bit_depth: int, range_: str) -> np.ndarray:
    """Chroma E'Cb/E'Cr in [-0.5, 0.5] to integer codes, full or limited (16–240) range."""
    top = (1 << bit_depth) - 1
    if range_ == "full":
        return _round(top * e + (1 << (bit_depth - 1)), top)
    return _round((224.0 * e + 128.0) * (1 << (bit_depth - 8)), top)


def dequantize_luma(codes: np.ndarray, bit_depth: int, range_: str) -> np.ndarray:
    """Luma codes back to E'Y (float64; the inverse of :func:`quantize_luma` before rounding)."""
    c = np.asarray(codes, dtype=np.float64)
    if range_ == "full":
        return c / ((1 << bit_depth) - 1)
    return (c / (1 << (bit_depth - 8)) - 16.0) / 219.0


def dequantize_chroma(codes: np.ndarray, bit_depth: int, range_: str) -> np.ndarray:
    """Chroma codes back to E'Cb/E'Cr (float64; the inverse of :func:`quantize_chroma` before rounding)."""
    c = np.asarray(codes, dtype=np.float64)
    if range_ == "full":
        return (c - (1 << (bit_depth - 1))) / ((1 << bit_depth) - 1)
    return (c / (1 << (bit_depth - 8)) - 128.0) / 224.0


def rgb_float_to_uint8(rgb: np.ndarray) -> np.ndarray:
    """[0, 1] floats → uint8, rounded to nearest."""
    return np.floor(np.clip(rgb * 255.0, 0.0, 255.0) + 0.5).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Chroma subsampling
# ---------------------------------------------------------------------------------------------

def downsample_420(c: np.ndarray) -> np.ndarray:
    """Mean of each 2×2 block (float in, float out)."""
    h, w = c.shape
    return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def _up2(c: np.ndarray, axis: int) -> np.ndarray:
    # output sample 2i sits a quarter step before input i, 2i+1 a quarter step after it
    n = c.shape[axis]
    prev = np.take(c, np.r_[0, np.arange(n - 1)], axis=axis)
    nxt = np.take(c, np.r_[np.arange(1, n), n - 1], axis=axis)
    even = 0.75 * c + 0.25 * prev
    odd = 0.75 * c + 0.25 * nxt
    out = np.stack([even, odd], axis=axis + 1)
    shape = list(c.shape)
    shape[axis] *= 2
    return out.reshape(shape)


def upsample_420(c: np.ndarray) -> np.ndarray:
    """A 4:2:0 chroma plane back to full size, both directions."""
    return _up2(_up2(c, 0), 1)


# ---------------------------------------------------------------------------------------------
# Whole pictures
# ---------------------------------------------------------------------------------------------

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


def rgb_to_yuv(rgb: np.ndarray, fmt: YuvFormat) -> Planes:
    """8-bit RGB H×W×3 → integer Y, Cb, Cr planes (uint16) in ``fmt``."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ConfigError(f"expected an H×W×3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
    fmt.plane_shapes(rgb.shape[0], rgb.shape[1])  # checks even sizes for 4:2:0
    y, cb, cr = rgb_to_ycbcr_float(rgb, fmt.matrix)
    if fmt.subsampled:
        cb, cr = downsample_420(cb), downsample_420(cr)
    return (
        quantize_luma(y, fmt.bit_depth, fmt.range),
        quantize_chroma(cb, fmt.bit_depth, fmt.range),
        quantize_chroma(cr, fmt.bit_depth, fmt.range),
    )


def yuv_to_rgb(planes: Planes, fmt: YuvFormat) -> np.ndarray:
    """Integer Y, Cb, Cr planes in ``fmt`` → 8-bit RGB, rounded."""
    yq, cbq, crq = planes
    top = (1 << fmt.bit_depth) - 1
    # a decoder may write codes above the declared depth; they mean the top of the range
    y = dequantize_luma(np.minimum(yq, top), fmt.bit_depth, fmt.range)
    cb = dequantize_chroma(np.minimum(cbq, top), fmt.bit_depth, fmt.range)
    cr = dequantize_chroma(np.minimum(crq, top), fmt.bit_depth, fmt.range)
    if fmt.subsampled:
        cb, cr = upsample_420(cb), upsample_420(cr)
    if cb.shape != y.shape:
        raise CodecError(f"chroma planes are {cb.shape}, luma is {y.shape}")
    return rgb_float_to_uint8(ycbcr_float_to_rgb(y, cb, cr, fmt.matrix))


def rgb_to_ycbcr(rgb: np.ndarray, matrix: str = "bt709", range_: str = "full", bit_depth: int = 8) -> np.ndarray:
    """4:4:4 convenience: H×W×3 integer codes (uint16)."""
    return np.stack(rgb_to_yuv(rgb, YuvFormat("444", bit_depth, matrix, range_)), axis=-1)


def ycbcr_to_rgb(codes: np.ndarray, matrix: str = "bt709", range_: str = "full", bit_depth: int = 8) -> np.ndarray:
    """H×W×3 Y'CbCr 4:4:4 codes to RGB uint8 (the inverse of :func:`rgb_to_ycbcr`)."""
    codes = np.asarray(codes)
    planes = (codes[..., 0], codes[..., 1], codes[..., 2])
    return yuv_to_rgb(planes, YuvFormat("444", bit_depth, matrix, range_))


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------

def _plane_bytes(planes: Planes, fmt: YuvFormat) -> bytes:
    return b"".join(np.ascontiguousarray(p, dtype=fmt.dtype).tobytes() for p in planes)


def write_yuv(path: str | Path, planes: Planes, fmt: YuvFormat) -> None:
    """Planar raw YUV (Y, then Cb, then Cr; little-endian 16-bit words above 8 bits)."""
    Path(path).write_bytes(_plane_bytes(planes, fmt))


def _split_planes(data: bytes | memoryview, height: int, width: int, fmt: YuvFormat, what: str) -> Planes:
    expected = fmt.frame_bytes(height, width)
    if len(data) != expected:
        raise CodecError(
            f"{what} holds {len(data)} bytes; one {width}×{height} {fmt.describe()} frame is {expected} bytes "
            "(wrong size, bit depth or chroma format?)"
        )
    flat = np.frombuffer(data, dtype=fmt.dtype)
    out, start = [], 0
    for h, w in fmt.plane_shapes(height, width):
        out.append(flat[start:start + h * w].reshape(h, w).astype(np.uint16))
        start += h * w
    return out[0], out[1], out[2]


def read_yuv(path: str | Path, height: int, width: int, fmt: YuvFormat) -> Planes:
    """One planar frame; a file of any other length is an error that says what was expected."""
    return _split_planes(Path(path).read_bytes(), height, width, fmt, f"raw YUV file {Path(path).name}")


_Y4M_CHROMA = {"444": "444", "420": "420jpeg"}


def write_y4m(path: str | Path, planes: Planes, fmt: YuvFormat) -> None:
    """One YUV4MPEG2 frame whose header says size, chroma format, bit depth and range."""
    h, w = planes[0].shape
    tag = _Y4M_CHROMA[fmt.chroma] if fmt.bit_depth == 8 else f"{fmt.chroma}p{fmt.bit_depth}"
    colour_range = "FULL" if fmt.range == "full" else "LIMITED"
    header = f"YUV4MPEG2 W{w} H{h} F1:1 Ip A1:1 C{tag} XCOLORRANGE={colour_range}\n"
    Path(path).write_bytes(header.encode("ascii") + b"FRAME\n" + _plane_bytes(planes, fmt))


@dataclass(frozen=True)
class Y4mHeader:
    width: int
    height: int
    chroma: str
    bit_depth: int
    colour_range: str | None  # from XCOLORRANGE, when the writer gave it


def _parse_y4m_chroma(tag: str) -> tuple[str, int]:
    m = re.fullmatch(r"(420|422|444|mono)(jpeg|paldv|mpeg2)?(?:p(\d+))?", tag)
    if m is None:
        raise CodecError(f"Y4M colour space C{tag} is not understood")
    return m.group(1), int(m.group(3) or 8)


def read_y4m(path: str | Path, matrix: str, range_: str) -> tuple[Planes, Y4mHeader, YuvFormat]:
    """The first frame of a Y4M file, its header, and the format that interprets it.

    Size, chroma format and bit depth come from the header; matrix and range from the caller,
    who knows what went into the encoder: decoders write XCOLORRANGE from what the bitstream
    signals, and encoders fed headerless YUV often signal a default that is not what they got.
    """
    data = Path(path).read_bytes()
    name = Path(path).name
    if not data.startswith(b"YUV4MPEG2 "):
        raise CodecError(f"{name} is not a Y4M file (no YUV4MPEG2 signature)")
    end = data.find(b"\n")
    fields = data[10:end].decode("ascii", "replace").split()
    width = height = 0
    chroma, depth, colour_range = "420", 8, None
    for f in fields:
        key, value = f[0], f[1:]
        if key == "W":
            width = int(value)
        elif key == "H":
            height = int(value)
        elif key == "C":
            chroma, depth = _parse_y4m_chroma(value)
        elif key == "X" and value.upper().startswith("COLORRANGE="):
            colour_range = value.split("=", 1)[1].lower()
    if chroma not in CHROMAS:
        raise CodecError(f"{name}: Y4M chroma {chroma} is not supported (only 4:4:4 and 4:2:0)")
    if width <= 0 or height <= 0:
        raise CodecError(f"{name}: Y4M header has no size")
    frame = data.find(b"\n", end + 1)
    if not data[end + 1:end + 6] == b"FRAME" or frame < 0:
        raise CodecError(f"{name}: Y4M file has no frame")
    fmt = YuvFormat(chroma, depth, matrix, range_)
    body = memoryview(data)[frame + 1:frame + 1 + fmt.frame_bytes(height, width)]
    planes = _split_planes(body, height, width, fmt, f"the first frame of {name}")
    return planes, Y4mHeader(width, height, chroma, depth, colour_range), fmt


def write_ppm(path: str | Path, rgb: np.ndarray) -> None:
    """A binary 8-bit PPM (P6)."""
    h, w = rgb.shape[:2]
    Path(path).write_bytes(f"P6\n{w} {h}\n255\n".encode("ascii") + np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())


_PNM_TOKEN = re.compile(rb"(?:\s|#[^\n]*\n)*(\S+)")


def read_ppm(path: str | Path) -> np.ndarray:
    """Binary PPM (P6) or PGM (P5), any maxval, as 8-bit RGB (rounded when maxval ≠ 255)."""
    data = Path(path).read_bytes()
    name = Path(path).name
    pos, tokens = 0, []
    for _ in range(4):
        m = _PNM_TOKEN.match(data, pos)
        if m is None:
            raise CodecError(f"{name}: truncated PNM header")
        tokens.append(m.group(1))
        pos = m.end()
    magic = tokens[0]
    if magic not in (b"P6", b"P5"):
        raise CodecError(f"{name}: not a binary PPM/PGM file (magic {magic!r})")
    width, height, maxval = (int(t) for t in tokens[1:])
    channels = 3 if magic == b"P6" else 1
    dtype = np.dtype(np.uint8) if maxval < 256 else np.dtype(">u2")
    body = data[pos + 1:]  # one whitespace byte ends the header
    count = width * height * channels
    if len(body) < count * dtype.itemsize:
        raise CodecError(f"{name}: {len(body)} bytes of pixels, {width}×{height} needs {count * dtype.itemsize}")
    arr = np.frombuffer(body, dtype=dtype, count=count).reshape(height, width, channels)
    if channels == 1:
        arr = np.repeat(arr, 3, axis=2)
    if maxval != 255:
        arr = np.floor(arr.astype(np.float64) * (255.0 / maxval) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(arr, dtype=np.uint8)


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """An RGB PNG, written quickly (zlib level 1)."""
    from PIL import Image

    # compress_level 1: the file is read once by the encoder; its size does not matter
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(path, format="PNG", compress_level=1)


def read_png(path: str | Path) -> np.ndarray:
    """A PNG as 8-bit RGB; 16-bit samples are scaled with rounding, not cut to their high byte."""
    from PIL import Image

    path = Path(path)
    head = path.read_bytes()[:33]
    if not head.startswith(b"\x89PNG\r\n\x1a\n"):
        raise CodecError(f"{path.name} is not a PNG file")
    if head[24] == 16:
        try:
            import imagecodecs
        except ImportError as exc:
            raise CodecError(
                f"{path.name} is a 16-bit PNG and reading it exactly needs imagecodecs "
                "(pip install 'gcbench[jxl]'), or make the decoder write 8 bits"
            ) from exc
        arr = np.asarray(imagecodecs.png_decode(path.read_bytes()))
        if arr.ndim == 2:
            arr = arr[:, :, None]
        arr = arr[:, :, :3] if arr.shape[2] >= 3 else np.repeat(arr[:, :, :1], 3, axis=2)
        return np.floor(arr.astype(np.float64) * (255.0 / 65535.0) + 0.5).astype(np.uint8)
    try:
        with Image.open(path) as im:
            im.load()
            rgb = im if im.mode == "RGB" else im.convert("RGB")
            return np.array(rgb, dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise CodecError(f"{path.name} could not be read as PNG: {exc}") from exc
