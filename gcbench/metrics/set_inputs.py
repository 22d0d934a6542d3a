"""What the run hands a set metric: its per-image arrays and its cached reference features.

Two interfaces, implemented by the run (``gcbench.execution``, ``gcbench.results``) and by plain
lists here, so that metrics never know where arrays are kept:

- :class:`FeatureSet`: the arrays of one (codec, setting), one per image, or of their
  originals. A metric reads them one at a time (``for array in features``) or asks for rows of
  their concatenation by index (``take``), so memory does not grow with the number of images:
  50,000 FID patches need no more than 5,000.
- :class:`ReferenceFeatures`: the reference features of originals already computed for this
  metric, by image content (``get(sha256)``), for workers that reuse them (the pseudo-label
  mIoU reads the original's segmentation; FID/KID batch the original only when it is missing).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class FeatureSet(Protocol):
    """Arrays, one per image, all with the same trailing shape and dtype."""

    def __len__(self) -> int:
        """Number of arrays (images)."""

    def __iter__(self) -> Iterator[np.ndarray]:
        """The arrays one at a time, in order."""

    def n_rows(self) -> int:
        """Rows of all arrays together (patches, for FID)."""

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Those rows of the arrays' concatenation, in the order given."""


class ArrayList:
    """A :class:`FeatureSet` over arrays already in memory (tests, benchmarks, small sets)."""

    def __init__(self, arrays: Sequence[np.ndarray]) -> None:
        self.arrays = [np.asarray(a) for a in arrays]
        self._stacked: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.arrays)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.arrays)

    def n_rows(self) -> int:
        return sum(len(a) for a in self.arrays)

    def take(self, rows: np.ndarray) -> np.ndarray:
        if self._stacked is None:
            self._stacked = np.concatenate(self.arrays, axis=0)
        return self._stacked[np.asarray(rows)]


def as_feature_set(features: FeatureSet | Sequence[np.ndarray] | np.ndarray) -> FeatureSet:
    """``features`` as a :class:`FeatureSet`: itself, or a list or one array wrapped in memory."""
    if isinstance(features, np.ndarray):
        return ArrayList([features])
    if isinstance(features, FeatureSet):
        return features
    return ArrayList(list(features))


@runtime_checkable
class ReferenceFeatures(Protocol):
    """Reference features of originals already computed for one set metric, by image content."""

    def get(self, image_sha256: str) -> np.ndarray | None:
        """The original's reference features, or None when they are not there (yet)."""

    def __contains__(self, image_sha256: object) -> bool:
        """Whether the original's reference features are there (without reading them)."""


class NoReferences:
    """No reference features known: what a metric sees until the run hands it its cache."""

    def get(self, image_sha256: str) -> np.ndarray | None:
        return None

    def __contains__(self, image_sha256: object) -> bool:
        return False


NO_REFERENCES = NoReferences()
