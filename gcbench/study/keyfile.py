"""The study key: everything needed to decode answers, kept apart from what participants get.

It maps every opaque file id to (codec, setting, real bpp, image, crop), every trial id to what
was on each side, and holds each participant's token and checksum key. It is written next to
(never inside) the handed-out folder, readable by its owner only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gcbench.core.errors import ConfigError

KEY_FORMAT = "gcbench-study-key"
KEY_VERSION = 1
KEY_NAME = "study-key.json"


def write_key(path: Path, key: dict[str, Any]) -> Path:
    """Write the study key (what each opaque file shows) atomically, outside the hand-out folder."""
    from gcbench.core.atomic import atomic_path

    with atomic_path(path) as tmp:
        os.chmod(tmp, 0o600)  # only the study's owner may read the key
        tmp.write_text(json.dumps(key, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return path


def read_key(path: str | Path) -> dict[str, Any]:
    """Read and check a study key file."""
    path = Path(path)
    if path.is_dir():
        path = path / KEY_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no study key here; give the {KEY_NAME} that `gcbench study export` wrote") from exc
    try:
        key = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: the study key is not valid JSON ({exc}); restore it from a backup") from exc
    if not isinstance(key, dict) or key.get("format") != KEY_FORMAT:
        raise ConfigError(f"{path}: not a gcbench study key (format {key.get('format') if isinstance(key, dict) else None!r})")
    if key.get("version") != KEY_VERSION:
        raise ConfigError(f"{path}: study key version {key.get('version')!r}; this gcbench reads version {KEY_VERSION}")
    for field in ("study", "codecs", "files", "participants"):
        if field not in key:
            raise ConfigError(f"{path}: the study key lacks {field!r}; it was edited or truncated")
    key["_path"] = str(path)
    return key
