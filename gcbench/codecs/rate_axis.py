"""The rate axis a codec spec declares: the type and valid range of its setting.

A spec says what its setting is, so that a typo (``jpeg@500``, ``bpg@abc``) stops a run before
any work instead of failing in the middle of it (or, worse, being clamped by the library)::

    setting_type = "int"        # "int", "float" or "str"
    setting_min = 0             # optional bounds, both inclusive …
    setting_max = 100
    setting_min_exclusive = true   # … unless the minimum is excluded (a ratio > 0)
    setting_choices = ["low", "high"]   # or an enumerated axis instead of a range

A spec that declares nothing accepts any setting (a user's spec written before axes existed);
every shipped spec declares one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gcbench.core.errors import ConfigError
from gcbench.core.settings import Setting, format_setting

AXIS_KEYS = ("setting_type", "setting_min", "setting_max", "setting_min_exclusive", "setting_choices")
SETTING_TYPES = ("int", "float", "str")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def show_setting(value: Any) -> str:
    """A setting as a user typed it: numbers bare, text quoted."""
    return repr(value) if isinstance(value, str) else format_setting(value) if _is_number(value) else repr(value)


@dataclass(frozen=True)
class RateAxis:
    """The declared type and range of a codec's setting (``kind == ""``: undeclared)."""

    kind: str = ""
    minimum: int | float | None = None
    maximum: int | float | None = None
    min_exclusive: bool = False
    choices: tuple[Setting, ...] = ()

    @property
    def declared(self) -> bool:
        return bool(self.kind)

    def range_text(self) -> str:
        """The valid values in words: ``0–100``, ``> 0``, ``≥ 1``, ``one of 'a', 'b'``."""
        if self.choices:
            return "one of " + ", ".join(show_setting(c) for c in self.choices)
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            if self.min_exclusive:
                return f"({format_setting(lo)}, {format_setting(hi)}]"
            return f"{format_setting(lo)}–{format_setting(hi)}"
        if lo is not None:
            return f"{'>' if self.min_exclusive else '≥'} {format_setting(lo)}"
        if hi is not None:
            return f"≤ {format_setting(hi)}"
        return "any value"

    def describe(self) -> str:
        """``int 0–100``, ``float > 0``, ``str one of 'a', 'b'`` or ``undeclared``."""
        return f"{self.kind} {self.range_text()}" if self.declared else "undeclared"

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not on this axis (a phrase after the value), or None when it is."""
        if not self.declared:
            return None
        wrong_type = self._type_problem(value)
        if wrong_type:
            return wrong_type
        if self.choices:
            if format_setting(value) not in {format_setting(c) for c in self.choices}:
                return f"is not {self.range_text()}"
            return None
        if self.kind == "str":
            return None
        return self._range_problem(value)

    def _type_problem(self, value: Any) -> str | None:
        if self.kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
            return "is not an integer"
        if self.kind == "float" and not _is_number(value):
            return "is not a number"
        if self.kind == "str" and (isinstance(value, bool) or not isinstance(value, (str, int, float))):
            return "is not a setting (an int, float or string)"
        return None

    def _range_problem(self, value: int | float) -> str | None:
        lo, hi = self.minimum, self.maximum
        below = lo is not None and (value <= lo if self.min_exclusive else value < lo)
        above = hi is not None and value > hi
        if not (below or above):
            return None
        if lo is not None and hi is not None:
            return f"is outside {self.range_text()}"
        return f"is not {self.range_text()}"


def axis_from_fields(kind: Any, minimum: Any, maximum: Any, min_exclusive: Any, choices: Any,
                     where: str) -> RateAxis:
    """Check a declaration (as read from a spec) and return it; ConfigError names what is wrong."""
    if kind in ("", None):
        given = [k for k, v in zip(AXIS_KEYS[1:], (minimum, maximum, min_exclusive, choices), strict=True)
                 if v is not None and v is not False and v != () and v != []]
        if given:
            raise ConfigError(f"{where}: {', '.join(given)} given without setting_type "
                              f"(one of {', '.join(SETTING_TYPES)})")
        return RateAxis()
    if kind not in SETTING_TYPES:
        raise ConfigError(f"{where}: setting_type must be one of {', '.join(SETTING_TYPES)}, got {kind!r}")
    if not isinstance(min_exclusive, bool):
        raise ConfigError(f"{where}: setting_min_exclusive must be true or false, got {min_exclusive!r}")
    choices = _checked_choices(choices, where)
    if choices and (minimum is not None or maximum is not None):
        raise ConfigError(f"{where}: give either setting_choices or setting_min/setting_max, not both")
    for key, bound in (("setting_min", minimum), ("setting_max", maximum)):
        if bound is None:
            continue
        if kind == "str":
            raise ConfigError(f"{where}: a str rate axis has no {key}; list setting_choices instead")
        if not _is_number(bound) or (kind == "int" and not isinstance(bound, int)):
            raise ConfigError(f"{where}: {key} must be {'an integer' if kind == 'int' else 'a number'}, got {bound!r}")
    if min_exclusive and minimum is None:
        raise ConfigError(f"{where}: setting_min_exclusive needs a setting_min")
    if minimum is not None and maximum is not None and (maximum < minimum or (min_exclusive and maximum == minimum)):
        raise ConfigError(f"{where}: setting_min {minimum!r} is not below setting_max {maximum!r}")
    axis = RateAxis(kind, minimum, maximum, min_exclusive, choices)
    for choice in choices:
        wrong = axis._type_problem(choice)
        if wrong:
            raise ConfigError(f"{where}: setting_choices entry {show_setting(choice)} {wrong}")
    return axis


def _checked_choices(choices: Any, where: str) -> tuple[Setting, ...]:
    if choices in (None, (), []):
        return ()
    if not isinstance(choices, Sequence) or isinstance(choices, str):
        raise ConfigError(f"{where}: setting_choices must be a list, got {choices!r}")
    for c in choices:
        format_setting(c)  # type check: int, float or str
    return tuple(choices)


def setting_problem(axis: RateAxis, codec: str, rate_param: str, setting: Any) -> str | None:
    """The full message for a setting off the axis (``jpeg: quality 500 is outside 0–100``), or None."""
    why = axis.problem(setting)
    return None if why is None else f"{codec}: {rate_param} {show_setting(setting)} {why}"
