"""Running a codec's program: in a private temporary folder, in its own session with a deadline
after which its whole process group is killed, with what it printed kept for error messages."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gcbench.core.errors import CodecError

TMP_MARK = "$TMP"  # how the private folder appears in recorded command lines
TAIL_LINES = 15


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """Kill the program and everything it started (it leads its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = path.read_bytes()[-16384:].decode("utf-8", "replace")
    except OSError:
        return ""
    # progress bars redraw with carriage returns; keep what was last on each line
    rows = [row.rsplit("\r", 1)[-1].rstrip() for row in text.splitlines()]
    rows = [r for r in rows if r]
    return "\n".join("  " + r for r in rows[-lines:])


@dataclass
class Outcome:
    argv: list[str]
    tmp: Path
    stdout: Path
    stderr: Path
    seconds: float

    def context(self) -> str:
        """Command line and the tail of what the program printed, for error messages."""
        parts = [f"command: {display(self.argv, self.tmp)}"]
        err, out = _tail(self.stderr), _tail(self.stdout)
        if err:
            parts.append(f"stderr (last lines):\n{err}")
        if out and not err:
            parts.append(f"stdout (last lines):\n{out}")
        if not err and not out:
            parts.append("(it printed nothing)")
        return "\n".join(parts)


def display(argv: list[str], tmp: Path | None) -> str:
    """A command line as the user could paste it, the private folder written as ``$TMP``."""
    text = shlex.join(argv)
    if tmp is not None:
        text = text.replace(str(tmp), TMP_MARK)
    return text


def _wait(proc: subprocess.Popen[Any], timeout: float) -> bool:
    """Wait for the program without reaping it; True when it had to be killed at the deadline.

    ``Popen.wait(timeout)`` polls with sleeps of up to 50 ms, which would land in the measured
    time; here the wait blocks and a timer kills the group. The program stays a zombie until
    its whole group has been killed, so its process-group id cannot have been reused by then.
    """
    fired = threading.Event()

    def expire() -> None:
        fired.set()
        kill_group(proc)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        while True:
            try:
                os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
                break
            except InterruptedError:  # pragma: no cover - retried by Python since PEP 475
                continue
            except ChildProcessError:  # already reaped elsewhere
                break
    finally:
        timer.cancel()
        timer.join()
        kill_group(proc)  # what it started must not outlive the task
        proc.wait()
    return fired.is_set()


def run(argv: list[str], tmp: Path, role: str, program: str, timeout: float) -> Outcome:
    """Run one program in ``tmp`` with a deadline; CodecError on a timeout or a non-zero exit."""
    outcome = Outcome(argv, tmp, tmp / f".{role}.stdout", tmp / f".{role}.stderr", 0.0)
    with open(outcome.stdout, "wb") as out, open(outcome.stderr, "wb") as err:
        t0 = time.perf_counter()
        try:
            # Files, not pipes: a program that fills a pipe nobody reads would hang.
            proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=tmp,
                                    start_new_session=True)
        except OSError as exc:
            raise CodecError(f"{program} could not be started: {exc}\ncommand: {display(argv, tmp)}") from exc
        timed_out = _wait(proc, timeout)
        outcome.seconds = time.perf_counter() - t0
    if timed_out:
        raise CodecError(f"{program} ({role}) timed out after {timeout:g} s; its process group was killed "
                         f"(raise option timeout if it needs longer)\n{outcome.context()}")
    code = proc.returncode
    if code != 0:
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        raise CodecError(f"{program} ({role}) {how}\n{outcome.context()}")
    return outcome


@contextmanager
def private_dir(codec: str) -> Iterator[Path]:
    """A temporary folder for one call, removed afterwards (also on error or timeout)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", codec)
    path = Path(tempfile.mkdtemp(prefix=f"gcbench-{safe}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
