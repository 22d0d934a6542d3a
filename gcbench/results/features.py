"""Arrays kept on disk for set metrics: per-task features in the results folder, reference
features of originals in gcbench's cache under a content key. Written atomically."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from gcbench.core.atomic import atomic_path
from gcbench.core.resources import cache_dir


def save_array(path: Path, array: np.ndarray) -> None:
    with atomic_path(path, suffix=".npy") as tmp, open(tmp, "wb") as f:
        np.save(f, np.asarray(array), allow_pickle=False)


def load_array(path: Path) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def task_feature_path(out: Path, metric_id: str, task_key: str) -> Path:
    return Path(out) / "features" / metric_id / f"{task_key}.npy"


def reference_key(reference_identity: str, image_sha256: str) -> str:
    return hashlib.sha256(f"{reference_identity}|{image_sha256}".encode()).hexdigest()[:40]


def reference_path(reference_identity: str, image_sha256: str) -> Path:
    return cache_dir("reference-features") / f"{reference_key(reference_identity, image_sha256)}.npy"
