"""The local pool's start: a fork server where the platform has one, spawned workers when it
cannot start one (for example a temporary folder too long for a UNIX socket); same records."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from processes import alive

from gcbench import RunConfig, run
from gcbench.execution.executors import LocalPoolExecutor, make_executor
from gcbench.results.views import per_image

needs_forkserver = pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(),
                                      reason="this platform has no fork server; the pool spawns")


def _values(out: Path) -> list[tuple[str, str, float]]:
    df = per_image(out).sort_values(["image", "setting"])
    return list(zip(df["image"], df["setting"], df["psnr"], strict=True))


@needs_forkserver
def test_pool_forks_from_a_fork_server_and_falls_back_to_spawn(image_folder, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from multiprocessing import forkserver

    # multiprocessing keeps the first temporary folder a process used for its sockets; another
    # test may have left a long one behind (TMPDIR of its own), so this test starts afresh
    monkeypatch.delitem(multiprocessing.process.current_process()._config, "tempdir", raising=False)
    images = image_folder(2, (64, 80))
    pool = make_executor("local", 2)
    assert isinstance(pool, LocalPoolExecutor)
    pool.start()
    described = pool.describe()
    pool.close()
    assert described["start_method"] == "forkserver" and "start_method_fallback" not in described
    config = {"codecs": ["jpeg@30,70"], "dataset": str(images), "metrics": ["psnr"], "jobs": 2, "progress": False,
              "write_outputs": False}
    assert run(RunConfig(out=tmp_path / "fork", **config)).n_ok == 4

    def refuse() -> None:
        raise OSError("AF_UNIX path too long")

    monkeypatch.setattr(forkserver, "ensure_running", refuse)
    fallback = make_executor("local", 2)
    fallback.start()
    described = fallback.describe()
    fallback.close()  # nothing of a fork server to stop
    assert described["start_method"] == "spawn" and "AF_UNIX path too long" in described["start_method_fallback"]
    assert run(RunConfig(out=tmp_path / "spawn", **config)).n_ok == 4
    assert _values(tmp_path / "spawn") == _values(tmp_path / "fork")


@needs_forkserver
def test_a_long_temporary_folder_still_runs(image_folder, tmp_path: Path) -> None:
    """Where multiprocessing puts its sockets is decided once per process, so this runs in its own."""
    import subprocess
    import sys

    long_tmp = tmp_path / ("t" * 120)
    long_tmp.mkdir()
    images = image_folder(1, (64, 80))
    code = ("import sys; from gcbench import RunConfig, run; "
            "r = run(RunConfig(codecs=['jpeg@50'], dataset=sys.argv[1], out=sys.argv[2], metrics=['psnr'], jobs=2, "
            "progress=False, write_outputs=False)); print(r.n_ok)")
    done = subprocess.run([sys.executable, "-c", code, str(images), str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "TMPDIR": str(long_tmp)}, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "1"


LINGERING_WORKER = '''
import multiprocessing, os, sys, time
from gcbench.execution.executors import LocalPoolExecutor
from gcbench.execution.worker import init_worker

def linger(threads, parent):
    init_worker(threads, parent)
    time.sleep(300)

if __name__ == "__main__":
    pool = LocalPoolExecutor(2, 1, preload=[])
    pool.start()
    # a worker forked by the fork server that the pool never learnt of, as an interrupt arriving
    # while the pool starts one leaves it: it holds the resource tracker's pipe
    worker = multiprocessing.get_context(pool.method).Process(target=linger, args=(1, pool._workers_parent()),
                                                              daemon=True)
    worker.start()
    time.sleep(1.0)  # its initialiser has run
    print(worker.pid, flush=True)
    pool.close()
    print("closed", flush=True)
'''


@needs_forkserver
def test_a_worker_the_pool_never_learnt_of_ends_with_it(tmp_path: Path) -> None:
    """Closing the pool once hung for ever in such a case (the tracker waited for the worker, the
    worker for work); now the worker ends with the fork server and the close returns."""
    import signal
    import subprocess
    import sys
    import time

    script, out_path, err_path = tmp_path / "linger.py", tmp_path / "out.txt", tmp_path / "err.txt"
    script.write_text(LINGERING_WORKER)
    # files, not pipes: reading a pipe to its end would wait for the lingering worker that holds it
    with open(out_path, "w") as out_file, open(err_path, "w") as err_file:
        proc = subprocess.Popen([sys.executable, str(script)], stdout=out_file, stderr=err_file, start_new_session=True)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"closing the pool did not return: {err_path.read_text()[-2000:]}")
    out, err = out_path.read_text(), err_path.read_text()
    lines = out.split()
    assert proc.returncode == 0 and lines[1:] == ["closed"], err[-2000:]
    worker = int(lines[0])
    deadline = time.monotonic() + 30
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(worker)

