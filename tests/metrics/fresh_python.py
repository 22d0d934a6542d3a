"""Run code in a fresh interpreter (to see what a command imports), with gcbench's cache in a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def fresh_python(code: str, cache: Path) -> str:
    """The standard output of ``code`` run by a new Python process (raises if it fails)."""
    env = {**os.environ, "GCBENCH_CACHE": str(cache)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
