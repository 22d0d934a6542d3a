"""Piecewise cubic Hermite curves through RD points, many curves at once.

Bjøntegaard deltas integrate an interpolated curve; a bootstrap does so thousands of times,
so the slopes and integrals here work on a batch of curves (rows of a B × n array) with
plain numpy. The slopes are those of

- PCHIP (Fritsch–Carlson with Moler's one-sided end slopes; ``scipy.interpolate.PchipInterpolator``,
  the JCT-VC spreadsheet),
- Akima 1970 (``scipy.interpolate.Akima1DInterpolator(method="akima")``, including its
  end extension and its cut-off for flat stretches),

and with two points both are the straight line through them. Every row must have strictly
increasing, finite ``x``.
"""

from __future__ import annotations

import numpy as np

HERMITE_METHODS = ("pchip", "akima")
_AKIMA_BREAK = 1e-9  # scipy's cut-off: weights below this fraction of the largest count as zero


def _edge_slope(h0: np.ndarray, h1: np.ndarray, m0: np.ndarray, m1: np.ndarray) -> np.ndarray:
    """One-sided three-point end slope, clipped to keep the curve's shape."""
    d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    wrong_sign = np.sign(d) != np.sign(m0)
    too_steep = (np.sign(m0) != np.sign(m1)) & (np.abs(d) > 3.0 * np.abs(m0))
    return np.where(wrong_sign, 0.0, np.where(too_steep, 3.0 * m0, d))


def slopes(x: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    """Derivatives at the points, B × n."""
    if method not in HERMITE_METHODS:
        raise ValueError(f"unknown Hermite method {method!r}")
    h = np.diff(x, axis=1)
    m = np.diff(y, axis=1) / h
    n = x.shape[1]
    if n == 2:
        return np.repeat(m, 2, axis=1)
    if method == "pchip":
        d = np.zeros_like(y, dtype=float)
        s = np.sign(m)
        flat_or_turn = (s[:, 1:] != s[:, :-1]) | (m[:, 1:] == 0) | (m[:, :-1] == 0)
        w1 = 2.0 * h[:, 1:] + h[:, :-1]
        w2 = h[:, 1:] + 2.0 * h[:, :-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            harmonic = (w1 + w2) / (w1 / m[:, :-1] + w2 / m[:, 1:])
        d[:, 1:-1] = np.where(flat_or_turn, 0.0, harmonic)
        d[:, 0] = _edge_slope(h[:, 0], h[:, 1], m[:, 0], m[:, 1])
        d[:, -1] = _edge_slope(h[:, -1], h[:, -2], m[:, -1], m[:, -2])
        return d
    # Akima: two extra slopes at each end continue the first and last differences linearly
    b = x.shape[0]
    ext = np.empty((b, n + 3))
    ext[:, 2:-2] = m
    ext[:, 1] = 2.0 * ext[:, 2] - ext[:, 3]
    ext[:, 0] = 2.0 * ext[:, 1] - ext[:, 2]
    ext[:, -2] = 2.0 * ext[:, -3] - ext[:, -4]
    ext[:, -1] = 2.0 * ext[:, -2] - ext[:, -3]
    fallback = 0.5 * (ext[:, 3:] + ext[:, :-3])
    dm = np.abs(np.diff(ext, axis=1))
    f1, f2 = dm[:, 2:], dm[:, :-2]
    f12 = f1 + f2
    defined = f12 > _AKIMA_BREAK * f12.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        weighted = ext[:, 1:-2] + (f2 / f12) * (ext[:, 2:-1] - ext[:, 1:-2])
    return np.where(defined, weighted, fallback)


def _coefficients(x: np.ndarray, y: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per segment: y(x_k + t) = c0 + c1 t + c2 t² + c3 t³."""
    h = np.diff(x, axis=1)
    m = np.diff(y, axis=1) / h
    c0, c1 = y[:, :-1], d[:, :-1]
    c2 = (3.0 * m - 2.0 * d[:, :-1] - d[:, 1:]) / h
    c3 = (d[:, :-1] + d[:, 1:] - 2.0 * m) / (h * h)
    return h, c0, c1, c2, c3


def _segment(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Index of the segment holding q in each row (the end segments extend outwards)."""
    inner = x[:, 1:-1]
    return np.clip((inner <= q[:, None]).sum(axis=1), 0, x.shape[1] - 2)


def evaluate(x: np.ndarray, y: np.ndarray, q: np.ndarray, method: str) -> np.ndarray:
    """Each row's curve at its own query point q (B,)."""
    x, y = np.atleast_2d(x).astype(float), np.atleast_2d(y).astype(float)
    q = np.atleast_1d(np.asarray(q, dtype=float))
    _, c0, c1, c2, c3 = _coefficients(x, y, slopes(x, y, method))
    k = _segment(x, q)
    rows = np.arange(x.shape[0])
    t = q - x[rows, k]
    return c0[rows, k] + t * (c1[rows, k] + t * (c2[rows, k] + t * c3[rows, k]))


def integrate(x: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray, method: str) -> np.ndarray:
    """∫ from lo to hi of each row's curve (B,)."""
    h, c0, c1, c2, c3 = _coefficients(x, y, slopes(x, y, method))
    whole = h * (c0 + h * (c1 / 2.0 + h * (c2 / 3.0 + h * c3 / 4.0)))
    cumulative = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(whole, axis=1)], axis=1)
    rows = np.arange(x.shape[0])

    def antiderivative(q: np.ndarray) -> np.ndarray:
        k = _segment(x, q)
        t = q - x[rows, k]
        return cumulative[rows, k] + t * (c0[rows, k] + t * (c1[rows, k] / 2.0 + t * (
            c2[rows, k] / 3.0 + t * c3[rows, k] / 4.0)))

    return antiderivative(np.asarray(hi, dtype=float)) - antiderivative(np.asarray(lo, dtype=float))
