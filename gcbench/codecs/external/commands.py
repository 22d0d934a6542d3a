"""Command templates and picture formats of a command-line codec: the ``[options.encode]`` and
``[options.decode]`` tables checked, and placeholders filled into an argv."""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass
from typing import Any

from gcbench.codecs import colour
from gcbench.core.errors import ConfigError

INPUT_FORMATS = ("png", "ppm", "yuv", "y4m")
OUTPUT_FORMATS = ("png", "ppm", "yuv", "y4m")
RESERVED = ("input", "output", "width", "height", "image_width", "image_height", "setting")
ENCODE_KEYS = {"command", "input", "suffix", "chroma", "bit_depth", "matrix", "range"}
DECODE_KEYS = {"command", "output", "chroma", "bit_depth", "matrix", "range"}


@dataclass(frozen=True)
class Endpoint:
    """One side (encode or decode): its command and the picture format it exchanges."""

    command: tuple[str, ...]
    fmt: str  # png | ppm | yuv | y4m
    yuv: colour.YuvFormat | None
    suffix: str = ""


class _Formatter(string.Formatter):
    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        if isinstance(key, int) or key not in kwargs:
            valid = ", ".join("{" + k + "}" for k in sorted(kwargs))
            raise ConfigError(f"{self.where}: unknown placeholder {{{key}}}; valid here: {valid}")
        value = kwargs[key]
        if isinstance(value, (list, tuple)):
            raise ConfigError(f"{self.where}: list value {{{key}}} must be a whole argument of its own")
        return value


WHOLE = re.compile(r"\{([^{}:!]+)\}")


def render(template: tuple[str, ...] | list[str], values: dict[str, Any], where: str) -> list[str]:
    """Fill a command template; a whole-argument placeholder holding a list expands in place."""
    fmt = _Formatter(where)
    argv: list[str] = []
    for part in template:
        m = WHOLE.fullmatch(part)
        if m and isinstance(values.get(m.group(1)), (list, tuple)):
            argv.extend(str(v) for v in values[m.group(1)])
            continue
        argv.append(fmt.vformat(part, (), values))
    return argv


def table_of(raw: Any, where: str) -> dict[str, Any]:
    """A spec table (empty when absent); ConfigError when it is something else."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    return raw


def check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    """ConfigError naming unknown keys (typos) and the valid ones."""
    extra = set(table) - allowed
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {sorted(extra)}; valid: {sorted(allowed)}")


def padded_size(size: int, multiple: int) -> int:
    """``size`` rounded up to a multiple."""
    return -(-size // multiple) * multiple


def endpoint_from_table(raw: dict[str, Any], key: str, formats: tuple[str, ...], where: str,
                        inherit: dict[str, Any] | None, pad_to: int) -> Endpoint:
    """The ``[options.encode]`` or ``[options.decode]`` table, checked (``inherit``: encode's, for decode)."""
    command = raw.get("command")
    if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
        raise ConfigError(f"{where}: 'command' must be a non-empty list of strings")
    fmt = str(raw.get(key, "png")).lower()
    if fmt not in formats:
        raise ConfigError(f"{where}: {key} must be one of {', '.join(formats)}, got {fmt!r}")
    yuv = None
    if fmt in ("yuv", "y4m"):
        base = {k: v for k, v in (inherit or {}).items() if k in ("chroma", "bit_depth", "matrix", "range")}
        fields = base | {k: raw[k] for k in ("chroma", "bit_depth", "matrix", "range") if k in raw}
        try:
            yuv = colour.YuvFormat(chroma=str(fields.get("chroma", "444")), bit_depth=int(fields.get("bit_depth", 8)),
                                   matrix=str(fields.get("matrix", "bt709")), range=str(fields.get("range", "full")))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        if yuv.subsampled and pad_to % 2:
            raise ConfigError(f"{where}: 4:2:0 needs even sizes; set option pad_to to 2 (or 8, …)")
    suffix = str(raw.get("suffix", ".bin"))
    if "/" in suffix or os.sep in suffix:
        raise ConfigError(f"{where}: suffix must be a file-name ending, got {suffix!r}")
    return Endpoint(tuple(command), fmt, yuv, suffix)
