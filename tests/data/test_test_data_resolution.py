"""The test suite gets its real data as a user does (tests/conftest.py): through GCBENCH_DATA, or a
download checked against the manifest; without either it stops at once with one message.

Each case runs a real pytest session in a subprocess with its own environment."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from range_server import range_server

REPO = Path(__file__).resolve().parents[2]
ONE_KODAK_TEST = "tests/data/test_datasets.py::test_kodak_with_an_explicit_root"


def _pytest(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GCBENCH_")}
    environ |= {"GCBENCH_CACHE": str(tmp_path / "user-cache"), "PYTHONDONTWRITEBYTECODE": "1", **env}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", *args], cwd=REPO, env=environ,
                          capture_output=True, text=True, timeout=300)


def test_offline_without_data_the_run_stops_with_one_message(tmp_path: Path) -> None:
    out = _pytest(tmp_path, ONE_KODAK_TEST, "tests/data/test_datasets.py::test_unknown_dataset_and_empty_folder",
                  GCBENCH_OFFLINE="1")
    text = out.stdout + out.stderr
    assert out.returncode == 4, text[-3000:]
    assert text.count("The selected tests need real data") == 1
    assert "dataset 'kodak' not found" in text and "gcbench datasets download kodak" in text
    assert "GCBENCH_DATA" in text and "passed" not in text and "Traceback" not in text


def test_tests_that_need_no_data_run_without_it(tmp_path: Path) -> None:
    out = _pytest(tmp_path, "tests/data/test_datasets.py", "-k", "unknown_dataset", GCBENCH_OFFLINE="1")
    assert out.returncode == 0 and "1 passed" in out.stdout, out.stdout[-3000:]


def test_gcbench_data_is_where_the_tests_find_kodak(tmp_path: Path, kodak_dir: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "kodak").symlink_to(kodak_dir)
    out = _pytest(tmp_path, ONE_KODAK_TEST, GCBENCH_OFFLINE="1", GCBENCH_DATA=str(data))
    assert out.returncode == 0 and "1 passed" in out.stdout, out.stdout[-3000:] + out.stderr[-3000:]


@pytest.mark.slow  # two pytest sessions in subprocesses
def test_online_the_tests_download_kodak_once_checked_against_the_manifest(tmp_path: Path, kodak_dir: Path) -> None:
    """The kodak manifest's own hashes, its download URL pointed at a local copy of the files."""
    from gcbench.core.tomlio import read_toml

    manifest = read_toml(REPO / "datasets" / "kodak.toml")
    folder = tmp_path / "manifests"
    folder.mkdir()
    with range_server() as srv:
        srv.files |= {f"/kodak/{name}": (kodak_dir / name).read_bytes() for name in manifest["files"]}
        (folder / "kodak.toml").write_text(
            f'name = "kodak"\ndownload_url = "{srv.url("/kodak/{file}")}"\n[files]\n'
            + "".join(f'"{k}" = "{v}"\n' for k, v in manifest["files"].items()))
        out = _pytest(tmp_path, ONE_KODAK_TEST, GCBENCH_DATASET_PATH=str(folder))
        assert out.returncode == 0 and "1 passed" in out.stdout, out.stdout[-3000:] + out.stderr[-3000:]
        assert len(srv.log) == 24
        cached = tmp_path / "user-cache" / "datasets" / "kodak"
        assert all(hashlib.sha256((cached / k).read_bytes()).hexdigest() == v for k, v in manifest["files"].items())
        out = _pytest(tmp_path, ONE_KODAK_TEST, GCBENCH_DATASET_PATH=str(folder))  # the cache is used next time
        assert out.returncode == 0 and len(srv.log) == 24
