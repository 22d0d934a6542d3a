"""The execution layer's shape: nothing below it imports it (function-local and type-checking
imports included), its functions stay short, and ``gcbench.run`` / ``gcbench.RunConfig`` are its
entry points."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BELOW = ("core", "data", "weights", "codecs", "metrics", "results", "analysis")
OWN = ["gcbench/execution/plan.py", "gcbench/execution/resolve.py", "gcbench/execution/config.py",
       "gcbench/execution/runner.py", "gcbench/execution/worker.py", "gcbench/execution/executors.py",
       "gcbench/execution/ray_executor.py", "gcbench/execution/equal_bitrate.py", "gcbench/data/masks.py",
       "gcbench/core/settings.py", "gcbench/timing/run.py", "gcbench/timing/measure.py", "gcbench/cli/run.py",
       "gcbench/cli/timing.py"]


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # every import, wherever it is
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


@pytest.mark.parametrize("layer", BELOW)
def test_no_lower_layer_imports_execution(layer: str) -> None:
    found = [f"{p.relative_to(ROOT)}:{line} imports {name}"
             for p in sorted((ROOT / "gcbench" / layer).rglob("*.py"))
             for line, name in _imports(p) if name == "gcbench.execution" or name.startswith("gcbench.execution.")]
    assert not found, "\n".join(found)


def test_functions_are_at_most_80_lines() -> None:
    long = []
    for rel in OWN:
        for node in ast.walk(ast.parse((ROOT / rel).read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                long.append(f"{rel}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, "\n".join(long)


def test_run_and_run_config_are_the_public_entry_points() -> None:
    import gcbench
    from gcbench.execution import runner

    assert gcbench.run is runner.run and gcbench.RunConfig is runner.RunConfig
    assert callable(gcbench.RunConfig.from_toml)
