"""Where to cut the crops shown in a study, and the degraded images of catch trials.

Every crop of an image is cut at the same place from the original and from each codec's
reconstruction. Rules:

- ``random``: uniform positions from a seeded generator;
- ``variance``: the windows whose luma varies most (texture and edges, where codecs differ
  most visibly), greedily, each overlapping earlier picks by at most a quarter of its area.

A box is ``(top, left, height, width)``; an image smaller than the crop size is used whole
along that side.
"""

from __future__ import annotations

import numpy as np

from gcbench.core.errors import ConfigError

RULES = ("random", "variance")
Box = tuple[int, int, int, int]


def crop_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """Height and width of the study crops for an image of the given size (at most ``size``)."""
    if size < 16:
        raise ConfigError(f"--crop-size must be at least 16 pixels, got {size}")
    return min(size, height), min(size, width)


def cut(image: np.ndarray, box: Box) -> np.ndarray:
    """The pixels of ``image`` inside ``box`` (top, left, height, width)."""
    top, left, h, w = box
    return np.ascontiguousarray(image[top : top + h, left : left + w])


def _positions(extent: int, window: int, stride: int) -> np.ndarray:
    last = extent - window
    pos = np.arange(0, last + 1, stride)
    if pos[-1] != last:
        pos = np.append(pos, last)
    return pos


def _window_std(luma: np.ndarray, h: int, w: int, tops: np.ndarray, lefts: np.ndarray) -> np.ndarray:
    # Summed-area tables give every window's mean and mean square in O(1).
    s1 = np.pad(luma, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    s2 = np.pad(luma * luma, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    t, lft = np.meshgrid(tops, lefts, indexing="ij")

    def window_sum(s: np.ndarray) -> np.ndarray:
        return s[t + h, lft + w] - s[t, lft + w] - s[t + h, lft] + s[t, lft]

    n = float(h * w)
    mean = window_sum(s1) / n
    var = np.maximum(window_sum(s2) / n - mean * mean, 0.0)
    return np.sqrt(var)


def _overlap(a: Box, b: Box) -> int:
    dy = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    dx = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(dy, 0) * max(dx, 0)


def choose_boxes(original: np.ndarray, n: int, size: int, rule: str, rng: np.random.Generator) -> list[Box]:
    """``n`` crop boxes for one image by ``rule``."""
    if rule not in RULES:
        raise ConfigError(f"unknown crop rule {rule!r}; choose one of {', '.join(RULES)}")
    if n < 1:
        raise ConfigError(f"--crops must be at least 1, got {n}")
    height, width = original.shape[:2]
    h, w = crop_shape(height, width, size)
    if rule == "random":
        tops = rng.integers(0, height - h + 1, size=n)
        lefts = rng.integers(0, width - w + 1, size=n)
        return [(int(t), int(lf), h, w) for t, lf in zip(tops, lefts, strict=True)]
    luma = original.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    stride = max(1, min(h, w) // 8)
    tops, lefts = _positions(height, h, stride), _positions(width, w, stride)
    scores = _window_std(luma, h, w, tops, lefts)
    order = np.argsort(-scores, axis=None, kind="stable")
    picked: list[Box] = []
    for flat in order:
        i, j = np.unravel_index(flat, scores.shape)
        box = (int(tops[i]), int(lefts[j]), h, w)
        if all(_overlap(box, p) <= h * w // 4 for p in picked):
            picked.append(box)
            if len(picked) == n:
                return picked
    # A small image has fewer well-separated windows than asked for: take the next best
    # distinct windows, and only when there are none left, repeat.
    for flat in order:
        if len(picked) == n:
            break
        i, j = np.unravel_index(flat, scores.shape)
        box = (int(tops[i]), int(lefts[j]), h, w)
        if box not in picked:
            picked.append(box)
    distinct = len(picked)
    while len(picked) < n:
        picked.append(picked[len(picked) % distinct])
    return picked


def degrade(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A version of ``crop`` that no attentive viewer prefers: 8× down- and upsampled, plus noise."""
    from PIL import Image

    h, w = crop.shape[:2]
    small = Image.fromarray(crop).resize((max(1, w // 8), max(1, h // 8)), Image.Resampling.BOX)
    blurred = np.asarray(small.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float64)
    noisy = blurred + rng.normal(0.0, 12.0, blurred.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
