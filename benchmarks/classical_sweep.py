"""gcbench against CompressAI's ``bench`` and a plain loop on the same Kodak JPEG sweep, in one command.

Each route runs as a whole process, the way a user runs it (start-up, planning, store writes
and final tables/plots included), alternating route by route for ``--repeats`` rounds so load
from elsewhere falls on all of them alike, after one untimed warm-up run of each (file cache,
bytecode caches). The routes run with bytecode caching on, as on a user's machine, even where
the environment turns it off (PYTHONDONTWRITEBYTECODE would make each gcbench process compile
its sources again). Printed: every time and the CPU seconds it took, the median of each route,
the three ratios the project holds itself to, and the machine's load average.

Routes (Kodak, JPEG at qualities 10, 20, …, 90: 216 tasks, PSNR + MS-SSIM):
- ``plain``: what a researcher writes by hand: one process, Pillow encode and decode, PSNR in
  numpy, pytorch-msssim on a permuted float tensor (its fastest layout).
- ``compressai``: ``python -m compressai.utils.bench jpeg KODAK -q 10,…,90 -j 1``.
- ``gcbench1`` / ``gcbench2``: ``gcbench run --codec jpeg@10,…,90 --metric psnr --metric ms-ssim
  --jobs 1`` / ``--jobs 2`` into a fresh folder each time.

    python benchmarks/classical_sweep.py --kodak "$GCBENCH_DATA/kodak" [--repeats 3] [--images 24]
"""

from __future__ import annotations

import argparse
import io
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUALITIES = list(range(10, 100, 10))


def plain_loop(folder: Path) -> None:
    """The hand-written baseline (run in its own process by ``--plain-loop``)."""
    import numpy as np
    import torch
    from PIL import Image
    from pytorch_msssim import ms_ssim

    for path in sorted(folder.glob("*.png")):
        img = np.asarray(Image.open(path).convert("RGB"))
        for q in QUALITIES:
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, "JPEG", quality=q)
            rec = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
            mse = np.mean((img.astype(np.float64) - rec) ** 2)
            _ = 10 * math.log10(255**2 / mse)
            x = torch.from_numpy(img).float().unsqueeze(0).permute(0, 3, 1, 2)
            y = torch.from_numpy(rec).float().unsqueeze(0).permute(0, 3, 1, 2)
            with torch.no_grad():
                _ = float(ms_ssim(x, y, data_range=255))


def _commands(data: Path, work: Path) -> dict[str, list[str]]:
    py = sys.executable
    qs = ",".join(map(str, QUALITIES))
    run = [py, "-m", "gcbench", "run", "--codec", f"jpeg@{qs}", "--metric", "psnr", "--metric", "ms-ssim",
           "--dataset", str(data), "--no-progress"]
    return {
        "plain": [py, __file__, "--plain-loop", str(data)],
        "compressai": [py, "-m", "compressai.utils.bench", "jpeg", str(data), "-q", qs, "-j", "1"],
        "gcbench1": [*run, "--jobs", "1", "--out", str(work / "out")],
        "gcbench2": [*run, "--jobs", "2", "--out", str(work / "out")],
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(command: list[str], work: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and all its children) of one whole run."""
    shutil.rmtree(work / "out", ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cpu0, t0 = _children_cpu(), time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                          check=False)
    seconds, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kodak", type=Path, default=Path(os.environ.get("GCBENCH_DATA", ".")) / "kodak")
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--routes", default="plain,compressai,gcbench1,gcbench2")
    ap.add_argument("--plain-loop", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.plain_loop:
        plain_loop(args.plain_loop)
        return
    paths = sorted(args.kodak.glob("*.png"))[: args.images]
    if not paths:
        raise SystemExit(f"no Kodak images in {args.kodak}: give --kodak or set GCBENCH_DATA")
    work = Path(tempfile.mkdtemp(prefix="gcbench-sweep-"))
    try:
        data = work / "data"
        data.mkdir()
        for p in paths:
            os.symlink(p.resolve(), data / p.name)
        commands = _commands(data, work)
        routes = args.routes.split(",")
        times: dict[str, list[float]] = {r: [] for r in routes}
        for route in routes:
            _time(commands[route], work)  # warm-up, untimed
        load_before = os.getloadavg()
        for round_ in range(args.repeats):
            for route in routes if round_ % 2 == 0 else reversed(routes):
                wall, cpu = _time(commands[route], work)
                times[route].append(wall)
                print(f"round {round_ + 1} {route:<11}{wall:8.2f} s  ({cpu:6.2f} CPU-s)", flush=True)
        load_after = os.getloadavg()
        med = {r: statistics.median(v) for r, v in times.items()}
        print(f"\n{len(paths) * len(QUALITIES)} tasks (JPEG q {QUALITIES[0]}…{QUALITIES[-1]}, {len(paths)} Kodak images), "
              f"{len(os.sched_getaffinity(0))} cores, load average {load_before[0]:.2f} before / {load_after[0]:.2f} after")
        for route in routes:
            print(f"{route:<11} median {med[route]:7.2f} s   runs {', '.join(f'{t:.2f}' for t in times[route])}")
        ratios = (("gcbench --jobs 2 / compressai bench -j 1", "gcbench2", "compressai", "≤ 0.40"),
                  ("gcbench --jobs 1 / plain loop", "gcbench1", "plain", "≤ 0.80"),
                  ("gcbench --jobs 1 / gcbench --jobs 2", "gcbench1", "gcbench2", "≥ 1.70"))
        for label, a, b, goal in ratios:
            if a in med and b in med:
                print(f"{label:<44}{med[a] / med[b]:6.2f}   (goal {goal})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
