"""Whether a component can run here, and if not, how to make it run."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str = ""
    hint: str = ""

    def __bool__(self) -> bool:
        return self.ok

    def describe(self) -> str:
        if self.ok:
            return "available"
        return f"unavailable: {self.reason}" + (f" ({self.hint})" if self.hint else "")


OK = Availability(True)


def require_modules(*modules: str, extra: str | None = None, package: str | None = None) -> Availability:
    """Available when every module can be imported; the hint names the pip extra to install."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return OK
    if extra:
        hint = f"pip install 'gcbench[{extra}]'"
    else:
        hint = f"pip install {package or missing[0]}"
    return Availability(False, f"Python module {', '.join(missing)} is not installed", hint)
