"""Fixed-length coding of L-level symbols: the bitstream of a model without an entropy model.

Agustsson et al. 2019 bound their rate by ``dim(w)·log2(L)``; a real file needs whole bits, so
symbols are grouped k at a time, each group written as one base-L number in
``ceil(k·log2 L)`` bits, with the k ≤ 16 that wastes least (L = 5: 3 symbols in 7 bits,
2.333 bits a symbol against log2 5 = 2.322). The length is fixed by the symbol count, which the
decoder knows from the latent shape, so any damage that changes the length is detected.
"""

from __future__ import annotations

import math

import numpy as np

from gcbench.core.errors import CodecError


def group_size(levels: int) -> tuple[int, int]:
    """(symbols per group, bits per group) with the fewest bits per symbol; ties → smaller group."""
    if levels < 2:
        raise ValueError(f"need at least 2 levels, got {levels}")
    best = (1, math.ceil(math.log2(levels)))
    for k in range(1, 17):
        if levels ** k >= 2 ** 62:
            break
        bits = math.ceil(k * math.log2(levels) - 1e-12)
        if bits * best[0] < best[1] * k:
            best = (k, bits)
    return best


def packed_size(n_symbols: int, levels: int) -> int:
    """Bytes that ``n_symbols`` symbols of ``levels`` levels take once packed."""
    k, bits = group_size(levels)
    return (-(-n_symbols // k) * bits + 7) // 8


def pack(symbols: np.ndarray, levels: int) -> bytes:
    """Integers in [0, levels) → bytes."""
    flat = np.asarray(symbols, dtype=np.int64).ravel()
    if flat.size and (flat.min() < 0 or flat.max() >= levels):
        raise CodecError(f"symbols must lie in [0, {levels}), got [{flat.min()}, {flat.max()}]")
    k, bits = group_size(levels)
    groups = -(-flat.size // k)
    padded = np.zeros(groups * k, dtype=np.int64)
    padded[:flat.size] = flat
    powers = levels ** np.arange(k, dtype=np.int64)
    values = padded.reshape(groups, k) @ powers
    bitplanes = ((values[:, None] >> np.arange(bits, dtype=np.int64)) & 1).astype(np.uint8)
    return np.packbits(bitplanes.ravel(), bitorder="little").tobytes()


def unpack(data: bytes, n_symbols: int, levels: int) -> np.ndarray:
    """bytes → ``n_symbols`` integers in [0, levels); a wrong length or value is a CodecError."""
    expected = packed_size(n_symbols, levels)
    if len(data) != expected:
        raise CodecError(f"corrupted bitstream: {len(data)} bytes of symbols, {expected} expected for {n_symbols}")
    k, bits = group_size(levels)
    groups = -(-n_symbols // k)
    flat_bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")[:groups * bits]
    values = flat_bits.reshape(groups, bits).astype(np.int64) @ (np.int64(1) << np.arange(bits, dtype=np.int64))
    if groups and values.max() >= levels ** k:
        raise CodecError("corrupted bitstream: a symbol group is out of range")
    digits = (values[:, None] // levels ** np.arange(k, dtype=np.int64)) % levels
    return digits.ravel()[:n_symbols]
