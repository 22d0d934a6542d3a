"""One writer per results folder: a second run is refused naming the first, or waits for it with
--wait; a run killed with SIGKILL leaves no stale lock."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gcbench.cli import main as cli
from gcbench.core.errors import FolderBusyError
from gcbench.results.lock import lock_folder

HOLDER = """
import sys, time
from gcbench.results.lock import lock_folder
with lock_folder(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()  # hold until told (or killed)
"""


def _holder(folder: Path) -> subprocess.Popen[str]:
    """Another process holding the folder's lock until its stdin closes."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _run_argv(out: Path, *extra: str) -> list[str]:
    return ["run", "--codec", "jpeg@40", "--dataset", "sample", "--out", str(out), "--metric", "psnr",
            "--no-progress", "--no-outputs", *extra]


def test_a_second_run_is_refused_while_the_first_holds_the_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "busy"
    holder = _holder(out)
    try:
        capsys.readouterr()
        assert cli(_run_argv(out)) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(out) in err
        assert f"pid {holder.pid} on {socket.gethostname()}, started " in err and "--wait" in err
        assert not (out / "gcbench.sqlite").exists()  # refused before the store was opened
    finally:
        holder.communicate("\n")
    assert cli(_run_argv(out)) == 0  # released: the next run proceeds


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    out = tmp_path / "killed"
    holder = _holder(out)
    with pytest.raises(FolderBusyError):
        with lock_folder(out):
            pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (out / ".gcbench.lock").exists()  # the file stays; the kernel released the lock with the process
    with lock_folder(out):
        pass
    assert cli(_run_argv(out)) == 0


def test_wait_starts_when_the_other_run_ends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "queued"
    holder = _holder(out)
    releaser = subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(1.5)"])
    try:
        # the holder ends as soon as the releaser does; the waiting run then takes the folder
        import threading

        threading.Thread(target=lambda: (releaser.wait(), holder.communicate("\n")), daemon=True).start()
        capsys.readouterr()
        assert cli(_run_argv(out, "--wait")) == 0
        # it found the folder busy, said so, and ran once the holder had let go
        assert f"is being written by pid {holder.pid}" in capsys.readouterr().err
    finally:
        if holder.poll() is None:
            holder.kill()
