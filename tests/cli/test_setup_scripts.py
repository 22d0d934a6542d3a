"""scripts/test.sh and scripts/env.sh on a copy of the checkout: a virtual environment by default,
reused, pip run only when pyproject.toml or constraints.txt changed, torch installed first.

The environments are real (``python -m venv --without-pip``); only pip, pytest and the Debian
tools are stand-ins that record their calls, so nothing is downloaded or installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REAL_PYTHON = shutil.which("python3") or sys.executable

PIP_SHIM = """\
import os, pathlib, sys, sysconfig
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write("pip " + " ".join(sys.argv[1:]) + "\\n")
if "-e" in sys.argv:  # the editable install makes gcbench importable
    pkg = pathlib.Path(sysconfig.get_paths()["purelib"]) / "gcbench"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
"""
PYTEST_SHIM = """\
import os, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write("pytest " + " ".join(sys.argv[1:]) + "\\n")
"""
FAKE_PYTHON3 = """#!/usr/bin/env bash
# python3 -m venv DIR makes a real environment without pip, with recording stand-ins
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then exec "$SHIMS/make-env" "$3"; fi
exec "$REAL_PYTHON" "$@"
"""
MAKE_ENV = """#!/usr/bin/env bash
set -e
"$REAL_PYTHON" -m venv --without-pip "$1"
site=$("$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$site/pip" "$site/pytest"
cp "$SHIMS/pip.py" "$site/pip/__main__.py"; touch "$site/pip/__init__.py"
cp "$SHIMS/pytest.py" "$site/pytest/__main__.py"; touch "$site/pytest/__init__.py"
echo "venv $1" >> "$FAKE_LOG"
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The files the scripts read, copied into a fresh folder."""
    root = tmp_path / "checkout"
    shutil.copytree(REPO / "scripts", root / "scripts")
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(REPO / name, root / name)
    return root


@pytest.fixture
def shims(tmp_path: Path) -> Path:
    folder = tmp_path / "shims"
    (folder / "bin").mkdir(parents=True)
    (folder / "pip.py").write_text(PIP_SHIM)
    (folder / "pytest.py").write_text(PYTEST_SHIM)
    for name, text in {"make-env": MAKE_ENV, "bin/python3": FAKE_PYTHON3,
                       "bin/apt-get": "#!/bin/sh\necho apt-get >> \"$FAKE_LOG\"\n", "bin/dpkg": "#!/bin/sh\nexit 0\n"}.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    return folder


def _run(script: str, checkout: Path, shims: Path, log: Path, path_first: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH")}
    env |= {"FAKE_LOG": str(log), "SHIMS": str(shims), "REAL_PYTHON": REAL_PYTHON,
            "PATH": os.pathsep.join(p for p in (path_first, str(shims / "bin"), "/usr/bin", "/bin") if p)}
    out = subprocess.run(["bash", str(checkout / "scripts" / script), "-q", "-k", "demo"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def _calls(log: Path) -> list[str]:
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def test_a_virtual_environment_is_made_once_and_reused(checkout: Path, shims: Path, tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    out = _run("test.sh", checkout, shims, log)
    assert "not inside a virtual environment; creating one in .venv" in out
    assert _calls(log) == ["venv .venv", "pip install -q -c constraints.txt torch torchvision",
                           "pip install -q -c constraints.txt -e .[test]", "pytest -q -k demo"]
    assert (checkout / ".venv" / "bin" / "python").exists()

    out = _run("test.sh", checkout, shims, log)
    assert "using the one in .venv" in out and "installation up to date" in out
    assert _calls(log) == ["pytest -q -k demo"]  # no pip at all

    with open(checkout / "constraints.txt", "a") as f:
        f.write("# changed\n")
    _run("test.sh", checkout, shims, log)
    assert _calls(log)[:2] == ["pip install -q -c constraints.txt torch torchvision",
                               "pip install -q -c constraints.txt -e .[test]"]


def test_an_active_environment_is_used_as_it_is(checkout: Path, shims: Path, tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    env_dir = tmp_path / "my-env"
    subprocess.run([str(shims / "make-env"), str(env_dir)], check=True, timeout=120,
                   env={**os.environ, "SHIMS": str(shims), "REAL_PYTHON": REAL_PYTHON, "FAKE_LOG": str(log)})
    _calls(log)
    out = _run("test.sh", checkout, shims, log, path_first=str(env_dir / "bin"))
    assert f"using the active environment {env_dir}" in out
    assert not (checkout / ".venv").exists()
    assert _calls(log)[:2] == ["pip install -q -c constraints.txt torch torchvision",
                               "pip install -q -c constraints.txt -e .[test]"]
    assert (env_dir / ".gcbench-install-stamp").read_text().endswith(" test\n")
