"""Arrays kept in ``.npy`` files: written atomically, read without pickles, headers read alone.

Set-metric features, reference features of originals and cached per-image values all use
these, so every cached array has one format whatever layer owns the cache.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gcbench.core.atomic import atomic_path


def save_array(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` (``.npy``), whole or not at all."""
    with atomic_path(path, suffix=".npy") as tmp, open(tmp, "wb") as f:
        np.save(f, np.asarray(array), allow_pickle=False)


def load_array(path: str | Path) -> np.ndarray:
    """The array in a ``.npy`` file (no pickled objects)."""
    return np.load(path, allow_pickle=False)


def array_header(path: str | Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of the array in a ``.npy`` file, read from its header alone."""
    from numpy.lib import format as npy

    with open(path, "rb") as f:
        major, _minor = npy.read_magic(f)
        read = npy.read_array_header_1_0 if major == 1 else npy.read_array_header_2_0
        shape, _fortran, dtype = read(f)
    return tuple(int(n) for n in shape), np.dtype(dtype)
