"""Reference features of originals for set metrics: the one owner of their cache.

A set metric's reference features (FID/KID: the original's Inception features; pseudo-label
mIoU: PSPNet's segmentation of the original) depend only on the original's content and on
the metric's ``reference_identity()`` (extractor, weights, protocol, versions), so they are
computed once per image and kept in gcbench's cache under a content key, shared by every
setting, codec and run (and by FID and KID, whose identities agree). Whoever needs them asks
here:

- the runner marks the first pending task of each image to compute them (``is_cached``) and
  saves what workers return (:func:`save_references`);
- workers and the set stage hand each set metric a :class:`ReferenceCache`
  (:func:`bind_references`), which the metric reads through the
  :class:`~gcbench.metrics.set_inputs.ReferenceFeatures` interface;
- the set stage lists the cached files of a (codec, setting), computing any still missing
  (:func:`reference_files`), and hands them to ``finalize`` as a feature set.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from gcbench.core.arrays import load_array, save_array
from gcbench.core.resources import cache_dir
from gcbench.execution.plan import MetricRef, Task


def reference_key(reference_identity: str, image_sha256: str) -> str:
    """The cache key of one original's reference features under one metric protocol."""
    return hashlib.sha256(f"{reference_identity}|{image_sha256}".encode()).hexdigest()[:40]


def reference_path(reference_identity: str, image_sha256: str) -> Path:
    """Where one original's reference features are cached."""
    return cache_dir("reference-features") / f"{reference_key(reference_identity, image_sha256)}.npy"


class ReferenceCache:
    """The cached reference features of one metric protocol, by image content."""

    def __init__(self, reference_identity: str) -> None:
        self.reference_identity = reference_identity

    def path(self, image_sha256: str) -> Path:
        return reference_path(self.reference_identity, image_sha256)

    def __contains__(self, image_sha256: object) -> bool:
        return isinstance(image_sha256, str) and self.path(image_sha256).is_file()

    def get(self, image_sha256: str) -> np.ndarray | None:
        path = self.path(image_sha256)
        return load_array(path) if path.is_file() else None

    def put(self, image_sha256: str, array: np.ndarray) -> Path:
        path = self.path(image_sha256)
        save_array(path, array)
        return path


def is_cached(ref: MetricRef, image_sha256: str) -> bool:
    """Whether the reference features of this original are cached for this metric."""
    return image_sha256 in ReferenceCache(ref.reference_id)


def bind_references(metric: Any, ref: MetricRef) -> Any:
    """Hand a set metric its reference cache (other metrics are returned as they are)."""
    if ref.is_set and hasattr(metric, "use_references"):
        metric.use_references(ReferenceCache(ref.reference_id))
    return metric


def save_references(record: Any) -> None:
    """Cache the reference features a worker computed (``record.references``)."""
    for (reference_id, sha256), array in record.references.items():
        ReferenceCache(reference_id).put(sha256, array)


def has_references(metric: Any) -> bool:
    """Whether the metric overrides ``reference_features`` (else there is nothing to cache)."""
    from gcbench.metrics.base import SetMetric

    return type(metric).reference_features is not SetMetric.reference_features


def reference_files(metric: Any, ref: MetricRef, tasks: list[Task]) -> list[Path]:
    """The cached reference files of the tasks' originals, each computed here when missing
    (its first task failed); originals without reference features are left out."""
    from gcbench.data.images import load_image
    from gcbench.execution.worker import image_context

    if not has_references(metric):
        return []
    cache = ReferenceCache(ref.reference_id)
    paths = []
    for task in tasks:
        assert task.image is not None
        path = cache.path(task.image.sha256)
        if not path.is_file():
            array = metric.reference_features(load_image(task.image.path).array, image_context(task))
            if array is None:
                continue
            cache.put(task.image.sha256, array)
        paths.append(path)
    return paths
