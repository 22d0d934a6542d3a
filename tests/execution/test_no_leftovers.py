"""Nothing outlives a run: after ``gcbench run`` exits (done, failed, refused, Ctrl-C or SIGTERM) no
process it started is left: no pool worker, no multiprocessing resource tracker, no Ray process.

Each run starts in its own session (``start_new_session=True``); every process it starts stays in
that session (Ray's daemons included), so once it has exited, any process whose session id is the
run's pid was left behind. A zombie has exited already and is not counted; so that a helper which
exits a moment after the run cannot pass unseen, the local pool's multiprocessing resource tracker
is also checked from inside a process that goes on after the run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import count_tasks
from processes import session_processes

TESTS = Path(__file__).resolve().parents[1]


def run_in_own_session(args: list[str], out: Path, stop: signal.Signals | None = None) -> tuple[int, int, str]:
    """(pid, exit code, stderr) of ``gcbench run ARGS --out OUT`` started in a session of its own;
    ``stop`` is sent once work is under way. Output goes to a file, not a pipe: waiting for a pipe
    to close would wait for every process that still holds it, and hide them."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    err_path = out.with_name("stderr.txt")
    with open(err_path, "w") as err:
        # Ctrl-C as at a terminal: a shell without job control starts background commands with
        # SIGINT ignored, which the run would inherit; a handled SIGINT is not inherited
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            proc = subprocess.Popen([sys.executable, "-m", "gcbench", "run", *args, "--out", str(out), "--no-progress",
                                     "--no-outputs"], stdout=subprocess.DEVNULL, stderr=err, env=env,
                                    start_new_session=True)
        finally:
            signal.signal(signal.SIGINT, previous)
        if stop is not None:
            deadline = time.time() + 240
            while count_tasks(out / "gcbench.sqlite") < 2 and proc.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            if stop == signal.SIGINT:
                os.killpg(proc.pid, stop)  # Ctrl-C in a terminal reaches the whole process group
            else:
                proc.send_signal(stop)  # a scheduler's kill reaches the run
        proc.wait(timeout=300)
    return proc.pid, proc.returncode, err_path.read_text()


EXECUTORS = {"local": ["--jobs", "2"], "ray": ["--executor", "ray", "--jobs", "2"]}


@pytest.fixture(scope="module")
def kodak3(kodak_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kodak3")
    for p in sorted(kodak_dir.glob("*.png"))[:3]:
        (folder / p.name).symlink_to(p)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("executor", sorted(EXECUTORS))
@pytest.mark.parametrize("ending", ["done", "failed", "sigint", "sigterm"])
def test_no_process_outlives_the_run(executor: str, ending: str, kodak3: Path, tmp_path: Path, specs: Path) -> None:
    (specs / "failing.toml").write_text(
        'adapter = "failing_codec:FailingCodec"\nrate_param = "mode"\nrate_increases_with_setting = true\n'
        'settings = ["ok", "encode-error", "boom"]\n')
    codecs = {"done": ["--codec", "jpeg@10,50"], "failed": ["--codec", "failing"],
              "sigint": ["--codec", "jpeg@10,20,30,40,50,60,70,80,90"],
              "sigterm": ["--codec", "jpeg@10,20,30,40,50,60,70,80,90"]}[ending]
    stop = {"sigint": signal.SIGINT, "sigterm": signal.SIGTERM}.get(ending)
    pid, code, err = run_in_own_session([*codecs, "--dataset", str(kodak3), "--metric", "psnr", "--metric", "ms-ssim",
                                         "--threads", "1", *EXECUTORS[executor]], tmp_path / "out", stop)
    left = session_processes(pid)
    assert code == {"done": 0, "failed": 1, "sigint": 130, "sigterm": 130}[ending], err[-3000:]
    assert not left, "left behind:\n" + "\n".join(left)
    if stop is not None:
        assert "run the same command again to resume" in err


@pytest.mark.slow
def test_no_ray_process_outlives_an_error_after_ray_started(tmp_path: Path, image_folder) -> None:
    # CUDA metrics on a local Ray instance without GPUs: refused once Ray is up, before any task
    pid, code, err = run_in_own_session(["--codec", "jpeg@50", "--dataset", str(image_folder(1, (64, 64))),
                                         "--metric", "ms-ssim", "--device", "cuda", "--executor", "ray"],
                                        tmp_path / "out")
    left = session_processes(pid)
    assert code == 2 and "the Ray cluster has 0 GPUs" in err, err[-3000:]
    assert not left, "left behind:\n" + "\n".join(left)


TRACKER_PROBE = """
import os, sys
from multiprocessing import resource_tracker
started = []
real = resource_tracker.ResourceTracker.ensure_running

def ensure_running(self):
    real(self)
    if self._pid is not None and self._pid not in started:
        started.append(self._pid)

resource_tracker.ResourceTracker.ensure_running = ensure_running
from gcbench import RunConfig, run
report = run(RunConfig(codecs=["jpeg@50"], dataset="sample", out=sys.argv[1], metrics=["psnr"], jobs=2,
                       progress=False, write_outputs=False))
alive = []
for pid in started:
    try:
        os.kill(pid, 0)
        alive.append(pid)
    except ProcessLookupError:
        pass
print(report.n_ok, len(started), alive)
"""


def test_the_pool_stops_the_resource_tracker_it_started(tmp_path: Path) -> None:
    # the process goes on after run() returns: a tracker still running now would outlive the run
    done = subprocess.run([sys.executable, "-c", TRACKER_PROBE, str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-3:] == ["3", "1", "[]"], done.stdout  # 3 tasks; one tracker, stopped
