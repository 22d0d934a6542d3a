"""The package's shape: layers import only downwards, few flat modules, short functions, every
package says what it is for."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "gcbench"
MAX_FLAT_MODULES = 8
MAX_FUNCTION_LINES = 80


def _python_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_layers_import_only_downwards() -> None:
    """The contracts in pyproject.toml hold, function-local imports included (import-linter)."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_at_most_eight_modules_directly_under_the_package() -> None:
    flat = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert len(flat) <= MAX_FLAT_MODULES, flat


def test_no_function_is_longer_than_80_lines() -> None:
    long = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "\n".join(long)


@pytest.mark.parametrize("init", sorted(PACKAGE.rglob("__init__.py")), ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_every_package_opens_with_its_role(init: Path) -> None:
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
    assert doc and len(doc) > 40, f"{init.relative_to(ROOT)} has no docstring saying what the package is for"


def test_tests_mirror_the_package() -> None:
    """Every top-level package has a test folder of the same name."""
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")} - {"_data"}
    missing = sorted(name for name in packages if not (ROOT / "tests" / name).is_dir())
    assert not missing, f"no tests/<name>/ for: {missing}"
