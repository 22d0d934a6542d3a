"""One writer per results folder: an OS-level lock on ``OUT/.gcbench.lock``.

The lock is ``fcntl.flock`` on an open file, so the kernel releases it when the process ends in
any way (a crash, SIGKILL, a lost shell): a dead run never leaves a stale lock. The file also
says who holds it (pid, host, start time, command), so a second run can name the other process.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gcbench.core.errors import FolderBusyError

LOCK_NAME = ".gcbench.lock"


def _holder_text(path: Path) -> str:
    """Who holds the lock, from what its holder wrote into the file."""
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, json.JSONDecodeError):
        info = {}
    if not info:
        return "another process (it has not written its name yet)"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info.get("started", 0))))
    command = f", command: {info['command']}" if info.get("command") else ""
    return f"pid {info.get('pid')} on {info.get('host')}, started {started}{command}"


def _acquire(fd: int, path: Path, folder: Path, wait: bool) -> None:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        holder = _holder_text(path)
    if not wait:
        raise FolderBusyError(f"{folder} is being written by another gcbench run ({holder}); wait for it to "
                              "finish, give another --out, or add --wait to start when it ends")
    print(f"gcbench: {folder} is being written by {holder}; waiting for it to finish", file=sys.stderr)
    fcntl.flock(fd, fcntl.LOCK_EX)


@contextmanager
def lock_folder(folder: str | Path, *, wait: bool = False) -> Iterator[Path]:
    """Hold the writer's lock of ``folder`` for the ``with`` block.

    Raises :class:`FolderBusyError` naming the holder (pid, host, start time) when another
    process holds it, or, with ``wait=True``, blocks until that process ends or releases it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    held = False
    try:
        _acquire(fd, path, folder, wait)
        held = True
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield path
    finally:
        if held:
            os.ftruncate(fd, 0)  # a free lock names nobody
        os.close(fd)  # closing the descriptor releases the lock
