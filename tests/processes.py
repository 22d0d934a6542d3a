"""Live processes as Linux's /proc shows them: what the tests and ``benchmarks/interrupts.py`` look
at to say that nothing outlives a run. Standard library only, so that a benchmark can import it."""

from __future__ import annotations

import os
from pathlib import Path


def _state_and_session(pid: int | str) -> tuple[str, int] | None:
    """(state letter, session id) of a process; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the command name in parentheses may hold spaces
    return fields[0], int(fields[3])


def alive(pid: int) -> bool:
    """Running: not gone, and not a zombie waiting to be collected (it has exited already)."""
    found = _state_and_session(pid)
    return found is not None and found[0] != "Z"


def session_processes(sid: int) -> list[str]:
    """Live processes of session ``sid``: 'pid state command' for each."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _state_and_session(entry)
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        if stat is not None and stat[1] == sid and stat[0] != "Z":
            found.append(f"{entry} {stat[0]} {cmd[:160]}")
    return found
