"""Full float precision for torch metrics on CUDA: one switch that every metric uses.

PyTorch lets cuDNN use TF32 (10-bit mantissa) by default on Ampere and later GPUs, which moves
network features by about 1e-3 and could touch any float32 product; metric values must agree
between CPU and GPU, so metrics run with TF32 off. The previous settings are restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def full_precision(device: Any) -> Iterator[None]:
    """TF32 off for CUDA convolutions and matmuls while the block runs, on CUDA devices only."""
    if not str(device).startswith("cuda"):
        yield
        return
    import torch

    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
