"""Padding an image tensor to the multiple a learned model needs, and where the image sits in it."""

from __future__ import annotations

from typing import Any

PAD_MODES = ("constant", "reflect", "replicate")
ALIGNS = ("center", "bottom-right")


def pad_amounts(height: int, width: int, multiple: int, align: str) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) to reach the next multiple; centred as CompressAI's evaluation."""
    ph = (-height) % multiple
    pw = (-width) % multiple
    if align == "center":
        return ph // 2, ph - ph // 2, pw // 2, pw - pw // 2
    return 0, ph, 0, pw


def pad_tensor(x: Any, amounts: tuple[int, int, int, int], mode: str) -> Any:
    """Pad a 1×C×H×W tensor by (top, bottom, left, right) with zeros, edge copies or reflections."""
    import torch.nn.functional as F

    top, bottom, left, right = amounts
    if not any(amounts):
        return x
    if mode == "constant":
        return F.pad(x, (left, right, top, bottom), mode="constant", value=0.0)
    if mode == "replicate":
        return F.pad(x, (left, right, top, bottom), mode="replicate")
    # reflect: torch needs each pad < the side, so pad in steps (a tiny image needs several);
    # a side of one pixel cannot be reflected and is replicated
    while any((top, bottom, left, right)):
        h, w = x.shape[-2:]
        step_t, step_b = min(top, h - 1), min(bottom, h - 1)
        step_l, step_r = min(left, w - 1), min(right, w - 1)
        if not any((step_t, step_b, step_l, step_r)):
            return F.pad(x, (left, right, top, bottom), mode="replicate")
        x = F.pad(x, (step_l, step_r, step_t, step_b), mode="reflect")
        top, bottom, left, right = top - step_t, bottom - step_b, left - step_l, right - step_r
    return x
