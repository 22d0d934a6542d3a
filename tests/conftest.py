"""Shared fixtures. Tests never write into the repository and reach the network at most once, to
fetch the real data they need the way a user gets it.

Real data (the Kodak images, the NIQE reference image, the NIQE model) is resolved once per
session, before any test runs, through gcbench's own resolution with the user's environment:
``$GCBENCH_DATA`` (a folder holding ``kodak/``), gcbench's cache, then a download checked
against the manifest's SHA-256 (``datasets/*.toml``, ``gcbench/weights/weights_manifest.toml``).
Only what the selected tests use is resolved; when something is missing and cannot be fetched
the run stops at once with one message saying how to provide it. During each test gcbench's
cache is a temporary folder and downloads are off, so a test never sees the user's data by
accident; everything else is generated here.
"""

from __future__ import annotations

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

# fixture name -> (kind, name in gcbench's registry): the real files tests may ask for
TEST_DATA: dict[str, tuple[str, str]] = {
    "kodak_dir": ("dataset", "kodak"),
    "niqe_reference_dir": ("dataset", "niqe-reference"),
    "niqe_params_file": ("weights", "niqe-pristine"),
}
_RESOLVED = pytest.StashKey[dict]()

HOW_TO_PROVIDE = """\
The selected tests need real data that is not on this machine and could not be downloaded:
{problems}
Provide it in one of these ways, then run the tests again:
  - with network access: `gcbench datasets download kodak` (and `gcbench datasets download niqe-reference`),
    or simply run the tests online: they fetch each file once into gcbench's cache, checked against
    its SHA-256 in datasets/*.toml;
  - without: set GCBENCH_DATA to a folder holding kodak/ (the 24 kodimNN.png) and niqe-reference/
    (baboon.png), e.g. `GCBENCH_DATA=/data/images bash scripts/test.sh`."""


def resolve_test_data(kind: str, name: str) -> Path:
    """Where gcbench finds ``name`` for a user with this environment (downloading it if allowed)."""
    if kind == "dataset":
        from gcbench.data.datasets import load_dataset

        return load_dataset(name).root
    from gcbench import weights

    return weights.resolve(name)


@pytest.hookimpl(trylast=True)  # after -k / -m have deselected: resolve only what will run
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    from gcbench.core.errors import GcbenchError

    needed = sorted({f for item in items for f in getattr(item, "fixturenames", ()) if f in TEST_DATA})
    resolved: dict[str, Path] = {}
    problems: list[str] = []
    for fixture in needed:
        try:
            resolved[fixture] = resolve_test_data(*TEST_DATA[fixture])
        except GcbenchError as exc:
            problems.append(f"  - {exc}")
    if problems:
        pytest.exit(HOW_TO_PROVIDE.format(problems="\n".join(problems)), returncode=pytest.ExitCode.USAGE_ERROR)
    config.stash[_RESOLVED] = resolved


def _test_data(request: pytest.FixtureRequest) -> Path:
    return request.config.stash[_RESOLVED][request.fixturename]


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path_factory.getbasetemp() / "gcbench-cache"
    monkeypatch.setenv("GCBENCH_CACHE", str(cache))
    monkeypatch.setenv("GCBENCH_OFFLINE", "1")
    monkeypatch.delenv("GCBENCH_DATA", raising=False)
    monkeypatch.delenv("GCBENCH_WEIGHTS", raising=False)


@pytest.fixture(scope="session")
def kodak_dir(request: pytest.FixtureRequest) -> Path:
    """The folder of the 24 real Kodak images, every file checked against datasets/kodak.toml."""
    return _test_data(request)


@pytest.fixture(scope="session")
def niqe_reference_dir(request: pytest.FixtureRequest) -> Path:
    """The folder of baboon.png, the image with a published MATLAB NIQE value (datasets/niqe-reference.toml)."""
    return _test_data(request)


@pytest.fixture(scope="session")
def niqe_params_file(request: pytest.FixtureRequest) -> Path:
    """The NIQE pristine model (niqe_pris_params.npz), checked against the weights manifest."""
    return _test_data(request)


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
