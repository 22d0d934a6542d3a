"""Does a run's cost stay flat per task as the dataset grows? 2K images, 20 → 200 of them.

A deterministic synthetic set of DIV2K-sized images (2040×1356, smooth gradients plus seeded
noise, written once as PNG) is benchmarked with JPEG at two qualities and PSNR + MS-SSIM, at
several dataset sizes. Each size runs as its own ``gcbench run`` process so that the driver's
peak memory is its own; a sampler reads the peak resident memory (VmHWM) of the driver and of
every worker process while the run lasts. Printed per size: tasks, seconds, ms per task, and
the peak MiB of the driver and of the largest worker.
Flat rows mean nothing grows with the dataset but the work itself.

    python benchmarks/scale.py [--sizes 20,50,100,200] [--jobs 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HEIGHT, WIDTH = 1356, 2040


def make_images(folder: Path, n: int) -> None:
    """Write images 0..n-1 (skipping those already there): the same pixels for the same index."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    for i in range(n):
        path = folder / f"img{i:04d}.png"
        if path.exists():
            continue
        rng = np.random.default_rng(i)
        phase = rng.uniform(0, 2 * np.pi, 3)
        base = [128 + 100 * np.sin(xx / (60 + 17 * c) + yy / (90 + 11 * c) + phase[c]) for c in range(3)]
        img = np.stack(base, axis=-1) + rng.normal(0, 6, (HEIGHT, WIDTH, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, compress_level=1)


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids + [g for k in kids for g in _children(k)]


def _peak_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_size(data: Path, out: Path, jobs: int) -> dict[str, float]:
    command = [sys.executable, "-m", "gcbench", "run", "--codec", "jpeg@40,80", "--metric", "psnr",
               "--metric", "ms-ssim", "--dataset", str(data), "--out", str(out), "--jobs", str(jobs),
               "--no-progress", "--no-outputs"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peaks: dict[int, int] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for pid in [proc.pid, *_children(proc.pid)]:
                peaks[pid] = max(peaks.get(pid, 0), _peak_kib(pid))
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    stop.set()
    sampler.join()
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"gcbench run failed ({proc.returncode}):\n{err[-2000:]}")
    workers = [kib for pid, kib in peaks.items() if pid != proc.pid]
    return {"seconds": seconds, "driver_mib": peaks.get(proc.pid, 0) / 1024,
            "worker_mib": max(workers, default=0) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="20,50,100,200")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="folder for the synthetic images (kept between calls)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="gcbench-scale-"))
    images = args.keep or work / "images"
    try:
        t0 = time.perf_counter()
        make_images(images, max(sizes))
        print(f"{max(sizes)} images of {WIDTH}×{HEIGHT} ready in {time.perf_counter() - t0:.1f} s ({images})")
        print(f"{'images':>7}{'tasks':>7}{'seconds':>9}{'ms/task':>9}{'driver MiB':>12}{'worker MiB':>12}")
        for n in sizes:
            subset = work / f"subset{n}"
            subset.mkdir()
            for p in sorted(images.glob("*.png"))[:n]:
                os.symlink(p.resolve(), subset / p.name)
            r = run_size(subset, work / f"out{n}", args.jobs)
            tasks = 2 * n
            print(f"{n:>7}{tasks:>7}{r['seconds']:>9.1f}{r['seconds'] / tasks * 1000:>9.0f}"
                  f"{r['driver_mib']:>12.0f}{r['worker_mib']:>12.0f}", flush=True)
        print(f"load average {os.getloadavg()[0]:.2f}, {len(os.sched_getaffinity(0))} cores, --jobs {args.jobs}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
