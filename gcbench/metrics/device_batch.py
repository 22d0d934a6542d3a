"""Image pairs to batched tensors on a metric's device: what torch metrics share for compute_many.

One host copy per batch (stacking also copies decoded arrays that may be read-only), pinned on
CUDA so the transfer is asynchronous, and one synchronisation per batch when the values come
back, never one per image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gcbench.core.errors import MetricError
from gcbench.metrics.base import same_size_groups


def check_pair(original: np.ndarray, reconstruction: np.ndarray) -> None:
    """Both images of a pair must have one shape."""
    if original.shape != reconstruction.shape:
        raise MetricError(f"shapes differ: original {original.shape}, reconstruction {reconstruction.shape}")


def device_batch(arrays: Sequence[np.ndarray], device: Any) -> Any:
    """(N, C, H, W) tensor on ``device``, same dtype, from N arrays of one shape (H×W×C or H×W)."""
    import torch

    host = torch.from_numpy(np.stack([np.asarray(a) for a in arrays]))
    if host.dim() == 3:
        host = host[:, None]
    else:
        host = host.permute(0, 3, 1, 2)
    if str(device).startswith("cuda"):
        host = host.pin_memory()
    return host.to(device, non_blocking=True)


def batched_values(pairs: Sequence[tuple[np.ndarray, np.ndarray]], device: Any,
                   scores: Callable[[Any, Any], Any], column: str) -> list[dict[str, float]]:
    """``{column: value}`` per pair, in order: ``scores(x, y)`` (one value per image of an
    (N, C, H, W) batch) called once per group of same-sized pairs."""
    import torch

    for original, reconstruction in pairs:
        check_pair(original, reconstruction)
    out: list[dict[str, float]] = [{} for _ in pairs]
    for group in same_size_groups(pairs):
        x = device_batch([pairs[i][0] for i in group], device)
        y = device_batch([pairs[i][1] for i in group], device)
        with torch.no_grad():
            values = scores(x, y).reshape(-1).cpu().tolist()  # the batch's one synchronisation
        for i, value in zip(group, values, strict=True):
            out[i] = {column: float(value)}
    return out
