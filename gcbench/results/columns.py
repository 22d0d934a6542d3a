"""What each column of a results table is, for summaries, BD tables and plots.

Metric columns are declared by their metrics (:class:`gcbench.metrics.base.Column`); this module
adds the columns the results layer derives itself and the summary conventions:

- ``summary_of=(source, "db")``: the summary value is −10·log10(1 − mean of ``source``) per
  (codec, setting), CompressAI's convention for MS-SSIM in dB, so published curves line up;
  per-image rows keep their own dB.
- ``axis=False``: a value that is not a quality axis (KID's spread, NIQE of the original);
  never in BD tables or RD plots.
- ``psnr_capped``: PSNR with each image's value capped (``--psnr-cap 100``), so that a lossless
  image (infinite PSNR) does not make a setting's mean infinite and drop it from BD curves.
- Rate columns: ``bpp`` (the whole file) and ``bpp_payload`` (the entropy-coded strings only,
  CompressAI's count; equal to ``bpp`` for codecs whose file is all payload).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from gcbench.core import defaults
from gcbench.core.errors import ConfigError

RATE_COLUMNS = ("bpp", "bpp_payload")
DEFAULT_RATE = defaults.RATE
RATE_TITLES = {"bpp": "bits per pixel (bpp)", "bpp_payload": "payload bits per pixel (bpp_payload)"}
PSNR_CAPPED = "psnr_capped"


def check_rate(rate: str) -> str:
    """The rate column name, checked."""
    if rate not in RATE_COLUMNS:
        raise ConfigError(f"unknown rate column {rate!r}; choose one of {', '.join(RATE_COLUMNS)}")
    return rate


# declared here, not by a metric: the results layer derives it (with_capped_psnr)
_DERIVED = {PSNR_CAPPED: dict(higher_is_better=True, label="PSNR (capped)", unit="dB")}


def declared_columns() -> dict[str, Any]:
    """Every declared metric column plus those derived here (name → Column)."""
    from gcbench.metrics.base import Column, column_index

    out = dict(column_index())
    for name, fields in _DERIVED.items():
        out.setdefault(name, Column(name, **fields))
    return out


def axis_columns(columns: list[str]) -> list[str]:
    """The columns of ``columns`` that are declared quality axes (BD tables and RD plots use only these)."""
    decl = declared_columns()
    return [c for c in columns if c in decl and decl[c].axis]


def db_of_mean(mean: Any) -> Any:
    """−10·log10(1 − mean): infinite at 1 (a lossless setting), for scalars and arrays."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -10.0 * np.log10(1.0 - np.asarray(mean, dtype=float))


_TRANSFORMS: dict[str, Callable[[Any], Any]] = {"db": db_of_mean}


def summary_sources(columns: list[str]) -> dict[str, tuple[str, Callable[[Any], Any]]]:
    """column → (source column, transform) for the columns whose summary is a transform of
    another column's mean (``Column.summary_of``)."""
    decl = declared_columns()
    out = {}
    for c in columns:
        of = decl[c].summary_of if c in decl else None
        if of is not None:
            out[c] = (of[0], _TRANSFORMS[of[1]])
    return out


def summarise_column(rows: Any, column: str, sources: dict[str, tuple[str, Callable[[Any], Any]]]) -> float:
    """The summary value of ``column`` over ``rows`` (the images that succeeded): the mean, or the
    declared transform of the source column's mean (``sources`` from :func:`summary_sources`)."""
    if len(rows) == 0:
        return math.nan
    derived = sources.get(column)
    if derived is not None and derived[0] in rows.columns:
        return float(derived[1](rows[derived[0]].mean()))
    return float(rows[column].mean())


def with_capped_psnr(df: Any, cap: float | None) -> Any:
    """``df`` with ``psnr_capped`` = min(psnr, cap) per image (unchanged without a cap or a psnr column)."""
    if cap is None or "psnr" not in df.columns:
        return df
    if not (isinstance(cap, (int, float)) and math.isfinite(cap) and cap > 0):
        raise ConfigError(f"--psnr-cap must be a positive number of dB, got {cap!r}")
    import pandas as pd

    df = df.copy()
    df[PSNR_CAPPED] = pd.to_numeric(df["psnr"], errors="coerce").clip(upper=float(cap))
    return df


def infinite_flags(rows: Any, summary: dict[str, Any], columns: list[str]) -> list[str]:
    """Notes on the summary values that are infinite, with the number of images that made them so
    (a lossless reconstruction has infinite PSNR): such a point drops out of BD curves."""
    notes = []
    for c in columns:
        value = summary.get(c)
        if isinstance(value, float) and math.isinf(value):
            n_inf = int(np.isinf(np.asarray(rows[c], dtype=float)).sum())
            notes.append(f"{c} infinite: {n_inf} of {len(rows)} images lossless")
    return notes
