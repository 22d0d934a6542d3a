"""Settings: one point on a codec's rate axis, stored exactly as given.

A setting is an int (JPEG quality, QP), a float (JPEG 2000 ratio, a gain or lambda) or a
string (a named preset). Its text form is canonical, so ``75`` and ``75`` hash alike, and
numeric settings sort numerically in tables and plots.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from gcbench.core.errors import ConfigError

Setting = int | float | str


def format_setting(value: Setting) -> str:
    """Canonical text of a setting (what the store keeps and the task key hashes)."""
    if isinstance(value, bool):
        raise ConfigError(f"a setting cannot be a boolean: {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"a setting must be finite, got {value!r}")
        return repr(value)
    if isinstance(value, str):
        return value
    raise ConfigError(f"a setting must be an int, float or string, got {type(value).__name__}")


def parse_setting(text: str) -> Setting:
    """``'75'`` → 75, ``'0.25'`` → 0.25, anything else stays a string."""
    text = text.strip()
    if not text:
        raise ConfigError("empty setting")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        raise ConfigError(f"a setting must be finite, got {text!r}")
    return value


def numeric_value(value: Setting) -> float | None:
    """The number used to sort settings, or None for named settings."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def expand_range(text: str) -> list[Setting]:
    """``'1.0:3.0:0.25'`` → [1.0, 1.25, …, 3.0], both ends included, exact in decimal."""
    parts = text.split(":")
    if len(parts) != 3:
        raise ConfigError(f"a range is START:STOP:STEP, got {text!r}")
    try:
        start, stop, step = (Decimal(p.strip()) for p in parts)
    except InvalidOperation as exc:
        raise ConfigError(f"range {text!r} must hold three numbers") from exc
    if step <= 0:
        raise ConfigError(f"range {text!r} needs a positive step")
    if stop < start:
        raise ConfigError(f"range {text!r} ends before it starts")
    count = int((stop - start) / step) + 1
    if count > 10_000:
        raise ConfigError(f"range {text!r} expands to {count} settings; is the step right?")
    is_int = all("." not in p and "e" not in p.lower() for p in parts)
    values = [start + i * step for i in range(count)]
    return [int(v) if is_int else float(v) for v in values]


def parse_settings(text: str) -> list[Setting]:
    """``'50,75'`` or ``'1.0:3.0:0.25'`` or a mix: ``'10,20:40:10'``."""
    out: list[Setting] = []
    for token in text.split(","):
        token = token.strip()
        if not token:
            continue
        if token.count(":") == 2:
            out.extend(expand_range(token))
        else:
            out.append(parse_setting(token))
    if not out:
        raise ConfigError(f"no settings in {text!r}")
    return out


def split_codec_arg(arg: str) -> tuple[str, list[Setting] | None]:
    """``'jpeg@50,75'`` → ('jpeg', [50, 75]); ``'jpeg'`` → ('jpeg', None)."""
    name, sep, rest = arg.partition("@")
    name = name.strip()
    if not name:
        raise ConfigError(f"no codec name in {arg!r}")
    return name, (parse_settings(rest) if sep else None)
