"""Shared fixtures. Tests never write into the repository and never reach the network:
gcbench's cache goes to a temporary folder, downloads are off, and real data comes from the
``shared/`` folder beside the checkout (Kodak, NIQE model) or is generated here."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis.database import DirectoryBasedExampleDatabase

# Hypothesis keeps its examples in the temporary folder, never in the checkout.
hypothesis_settings.register_profile(
    "gcbench", database=DirectoryBasedExampleDatabase(Path(tempfile.gettempdir()) / "gcbench-hypothesis")
)
hypothesis_settings.load_profile("gcbench")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GCBENCH_SHARED", REPO.parent / "shared"))


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path_factory.getbasetemp() / "gcbench-cache"
    monkeypatch.setenv("GCBENCH_CACHE", str(cache))
    monkeypatch.setenv("GCBENCH_OFFLINE", "1")
    monkeypatch.delenv("GCBENCH_DATA", raising=False)
    monkeypatch.delenv("GCBENCH_WEIGHTS", raising=False)


def _shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests need the shared data folder beside the checkout (or $GCBENCH_SHARED)")
    return path


@pytest.fixture(scope="session")
def kodak_dir() -> Path:
    """The 24 real Kodak images."""
    return _shared("datasets", "kodak")


@pytest.fixture(scope="session")
def shared_weights() -> Path:
    return _shared("weights")


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return REPO / "datasets" / "sample"


@pytest.fixture
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of codec specs on GCBENCH_CODEC_PATH, with a fresh codec registry that reads it."""
    from gcbench.codecs import registry

    folder = tmp_path / "specs"
    folder.mkdir()
    monkeypatch.setenv("GCBENCH_CODEC_PATH", str(folder))
    monkeypatch.setattr(registry, "codecs", registry.new_codec_registry())
    return folder


def count_tasks(db: Path) -> int:
    """Rows in a results database's task table (0 while it does not exist yet)."""
    import sqlite3

    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A natural-ish test image: smooth gradients plus mild noise (compresses like a photo)."""
    r = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([
        128 + 100 * np.sin(x / (w / 3.0) + seed),
        128 + 100 * np.cos(y / (h / 2.5)),
        128 + 80 * np.sin((x + y) / ((h + w) / 4.0)),
    ], axis=-1)
    img += r.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


@pytest.fixture
def image_folder(tmp_path: Path):
    """Write a folder of smooth PNG images: image_folder(n, (h, w)) → Path."""
    from PIL import Image

    def make(n: int = 3, size: tuple[int, int] = (192, 256), name: str = "imgs") -> Path:
        folder = tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(smooth_image(*size, seed=i)).save(folder / f"img{i:02d}.png")
        return folder

    return make
