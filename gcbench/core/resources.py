"""Where gcbench's shipped data folders (codec specs, dataset manifests) live.

In a source checkout they are the top-level ``codecs/`` and ``datasets/`` folders; an
installed wheel carries them as ``gcbench/_data/…``.
"""

from __future__ import annotations

import os
from pathlib import Path

from gcbench.core.defaults import env

_PACKAGE = Path(__file__).resolve().parent.parent  # the gcbench package


def data_dir(name: str) -> Path | None:
    """The shipped data folder ``name`` (codecs, datasets, references, recipes): in the wheel or the checkout."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    return None


def search_path(name: str, env_var: str) -> list[Path]:
    """Folders to search: those in ``$env_var`` (os.pathsep-separated) first, then the shipped one."""
    folders = [Path(p).expanduser() for p in env(env_var).split(os.pathsep) if p]
    shipped = data_dir(name)
    if shipped is not None:
        folders.append(shipped)
    return folders


def cache_dir(*parts: str) -> Path:
    """gcbench's cache: ``$GCBENCH_CACHE`` or ``$XDG_CACHE_HOME/gcbench`` or ``~/.cache/gcbench``."""
    root = env("GCBENCH_CACHE")
    if not root:
        root = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "gcbench")
    return Path(root, *parts)
