"""How does a run end when Ctrl-C or SIGTERM arrives at a random moment? Not a timing: a soak check.

Starts ``gcbench run --jobs 2`` on the bundled sample images (JPEG at nine qualities, PSNR and
MS-SSIM) again and again, each in a session of its own, and sends SIGINT or SIGTERM after a
random delay, so that the signal lands during start-up, work and teardown alike. Each run must
end with exit code 130 and the run marked ``interrupted`` (or 0 and ``ok`` when the signal came
after its end), print no traceback, and leave no process of its session behind.

Printed: a count of each ending; then every run that ended otherwise, with its stderr's tail.

    python benchmarks/interrupts.py [--runs 40] [--min-delay 0.3] [--max-delay 2.0] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "datasets" / "sample"
sys.path.insert(0, str(ROOT / "tests"))
from processes import session_processes  # noqa: E402 - the tests' own reading of /proc


def one_run(out: Path, delay: float, signum: int) -> tuple[str, str]:
    """(ending, stderr) of one interrupted run."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # not inherited as ignored
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gcbench", "run", "--codec", "jpeg@10,20,30,40,50,60,70,80,90", "--dataset",
             str(SAMPLE), "--metric", "psnr", "--metric", "ms-ssim", "--jobs", "2", "--threads", "1", "--out", str(out),
             "--no-progress", "--no-outputs"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    time.sleep(delay)
    proc.send_signal(signum)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        return "hung", err.decode(errors="replace")
    time.sleep(0.5)  # a helper that exits a moment after the run is not left behind
    left = session_processes(proc.pid)
    db = out / "gcbench.sqlite"
    status = sqlite3.connect(db).execute("SELECT status FROM runs").fetchone()[0] if db.exists() else "no run"
    text = err.decode(errors="replace")
    ending = f"exit {proc.returncode}, {status}"
    if "Traceback" in text:
        ending += ", traceback"
    if left:
        ending += f", {len(left)} process(es) left"
    return ending, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--min-delay", type=float, default=0.3)
    parser.add_argument("--max-delay", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    endings: collections.Counter[str] = collections.Counter()
    odd: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            signum = rng.choice([signal.SIGINT, signal.SIGTERM])
            ending, err = one_run(Path(tmp) / f"run{i}", rng.uniform(args.min_delay, args.max_delay), signum)
            endings[ending] += 1
            if ending not in ("exit 130, interrupted", "exit 0, ok"):
                odd.append((f"run {i} ({signal.Signals(signum).name}): {ending}", err[-1500:]))
    print(f"load average {os.getloadavg()[0]:.1f}")
    for ending, count in endings.most_common():
        print(f"{count:4d}  {ending}")
    for title, err in odd:
        print(f"\n{title}\n{err}")


if __name__ == "__main__":
    main()
