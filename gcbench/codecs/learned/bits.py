"""Bits of a learned codec: estimated from its likelihoods (in all, or per pixel for region
metrics) and counted from its entropy-coded strings (the payload, without gcbench's container)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

# The bits map serves region metrics, whose callers expect MetricError for likelihoods that do
# not fit the image.
from gcbench.core.errors import MetricError


def bits_from_likelihoods(likelihoods: Any) -> float:
    """Σ −log2 p over a tensor or a (nested) dict/list of tensors: the estimated size in bits."""
    import torch

    if isinstance(likelihoods, Mapping):
        return sum(bits_from_likelihoods(v) for v in likelihoods.values())
    if isinstance(likelihoods, (list, tuple)):
        return sum(bits_from_likelihoods(v) for v in likelihoods)
    return float(-torch.log2(likelihoods.double()).sum().item())


def strings_payload_bytes(strings: list[list[bytes]]) -> int:
    """The entropy-coded payload in bytes: the summed length of a model's strings.

    This is CompressAI's own count, ``compressai.utils.eval_model`` (``inference``, CompressAI
    1.2.8)::

        bpp = sum(len(s[0]) for s in out_enc["strings"]) * 8.0 / num_pixels

    which for one image (one string per group) is the sum of every string's length. gcbench's
    file adds its container (model tag, sizes, shapes, string lengths) to it.
    """
    return sum(len(s) for group in strings for s in group)


def _stride(pixels: int, latents: int) -> int:
    # Learned codecs pad to a multiple of their total stride, a power of two: the smallest
    # power of two whose blocks cover the image is that stride (500 px, 8 latents → 64).
    need = -(-pixels // latents)
    return 1 << (need - 1).bit_length()


def _spread_axis(block_bits: np.ndarray, pixels: int, stride: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Fold latents that only code padding into the last block that holds image pixels."""
    n_blocks = -(-pixels // stride)
    head = np.take(block_bits, range(n_blocks), axis=axis)
    tail = np.take(block_bits, range(n_blocks, block_bits.shape[axis]), axis=axis)
    if tail.shape[axis]:
        last = [slice(None)] * head.ndim
        last[axis] = slice(n_blocks - 1, n_blocks)
        head = head.copy()
        head[tuple(last)] += tail.sum(axis=axis, keepdims=True)
    counts = np.full(n_blocks, stride, dtype=np.float64)
    counts[-1] = pixels - (n_blocks - 1) * stride
    return head, counts


def bits_map_from_likelihoods(likelihoods: Mapping[str, Any], size: tuple[int, int],
                              strides: Mapping[str, int] | None = None) -> np.ndarray:
    """Estimated bits at each pixel (H×W, float64) from a learned codec's likelihoods.

    Each latent element costs −log2(likelihood) bits; a latent of spatial size h×w codes
    blocks of ``stride``×``stride`` pixels (inferred as the smallest power of two whose blocks
    cover the image, or given in ``strides``), and its bits are spread evenly over the image
    pixels of its block. Latents that code only padding count towards the last block of
    their row/column. The map sums to the total estimated bits.
    """
    h_img, w_img = size
    total = np.zeros((h_img, w_img), dtype=np.float64)
    for name, lk in likelihoods.items():
        arr = lk.detach().cpu().double().numpy() if hasattr(lk, "detach") else np.asarray(lk, dtype=np.float64)
        if arr.ndim == 4:
            if arr.shape[0] != 1:
                raise MetricError(f"likelihoods {name!r} hold a batch of {arr.shape[0]}; expected one image")
            arr = arr[0]
        if arr.ndim != 3:
            raise MetricError(f"likelihoods {name!r} must be (1, C, h, w) or (C, h, w), got {arr.shape}")
        bits = -np.log2(arr).sum(axis=0)  # (h, w)
        h, w = bits.shape
        sy = int(strides[name]) if strides and name in strides else _stride(h_img, h)
        sx = int(strides[name]) if strides and name in strides else _stride(w_img, w)
        if h * sy < h_img or w * sx < w_img:
            raise MetricError(f"likelihoods {name!r} ({h}×{w}) with stride {sy}×{sx} do not cover a {h_img}×{w_img} image")
        bits, rows = _spread_axis(bits, h_img, sy, 0)
        bits, cols = _spread_axis(bits, w_img, sx, 1)
        per_pixel = bits / np.outer(rows, cols)
        total += np.repeat(np.repeat(per_pixel, sy, axis=0), sx, axis=1)[:h_img, :w_img]
    return total
