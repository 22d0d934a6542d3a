"""CompressAI's model convention: checking the strings and shape ``compress`` returns, and giving
``decompress`` its shapes back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gcbench.core.errors import CodecError


def strings_of(strings: Any, who: str) -> list[list[bytes]]:
    """What ``compress`` returned as strings, checked and normalised to a list of lists of bytes."""
    if not isinstance(strings, (list, tuple)):
        raise CodecError(f"{who}.compress returned strings of type {type(strings).__name__}; expected a list of lists of bytes")
    groups = []
    for group in strings:
        if isinstance(group, (bytes, bytearray)):
            group = [group]  # a model that returns one string per latent for batch size one
        if not isinstance(group, (list, tuple)) or not all(isinstance(s, (bytes, bytearray)) for s in group):
            raise CodecError(f"{who}.compress returned strings that are not lists of bytes")
        groups.append([bytes(s) for s in group])
    return groups


def shape_of(shape: Any) -> Any:
    """The latent shape ``compress`` returned, as plain ints and lists (what the container stores)."""
    if isinstance(shape, Mapping):
        return {str(k): shape_of(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)):  # torch.Size is a tuple
        return [shape_of(v) for v in shape]
    return int(shape)


def shape_for_model(shape: Any) -> Any:
    """A stored shape as ``decompress`` expects it (``torch.Size`` for a list of ints)."""
    import torch

    if isinstance(shape, list) and all(isinstance(v, int) for v in shape):
        return torch.Size(shape)
    if isinstance(shape, list):
        return [shape_for_model(v) for v in shape]
    if isinstance(shape, dict):
        return {k: shape_for_model(v) for k, v in shape.items()}
    return shape
