"""The pictures a command-line codec exchanges with its programs: the RGB image written as the
encoder's input (PNG, PPM, raw YUV or Y4M) and the decoder's output read back as RGB."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gcbench.codecs import colour
from gcbench.codecs.external.commands import Endpoint


def write_input(image: np.ndarray, path: Path, end: Endpoint) -> None:
    """Write an RGB uint8 image in the encoder's input format (Y'CbCr converted as ``end.yuv`` says)."""
    if end.fmt == "png":
        colour.write_png(path, image)
    elif end.fmt == "ppm":
        colour.write_ppm(path, image)
    else:
        assert end.yuv is not None  # checked when the spec was read
        planes = colour.rgb_to_yuv(image, end.yuv)
        if end.fmt == "yuv":
            colour.write_yuv(path, planes, end.yuv)
        else:
            colour.write_y4m(path, planes, end.yuv)


def read_output(path: Path, coded: tuple[int, int], end: Endpoint) -> np.ndarray:
    """The decoder's picture as RGB uint8; raw YUV needs the coded size, the other formats say theirs."""
    if end.fmt == "png":
        return colour.read_png(path)
    if end.fmt == "ppm":
        return colour.read_ppm(path)
    yuv = end.yuv
    assert yuv is not None  # checked when the spec was read
    if end.fmt == "yuv":
        planes = colour.read_yuv(path, coded[0], coded[1], yuv)
        return colour.yuv_to_rgb(planes, yuv)
    planes, _, fmt_y4m = colour.read_y4m(path, yuv.matrix, yuv.range)
    return colour.yuv_to_rgb(planes, fmt_y4m)
