"""gcbench against a plain loop on the same JPEG + WebP Kodak sweep, in one command.

The plain loop is what a researcher writes by hand: one process, Pillow encode and decode,
PSNR in numpy, MS-SSIM with pytorch-msssim. gcbench runs the same tasks with --jobs 1 and
--jobs 2 (store, provenance, per-task rows included). Printed: seconds, tasks/s, and the ratio
of each to the plain loop (>1 means gcbench is faster).

    python benchmarks/classical_sweep.py --kodak ../shared/datasets/kodak [--images 24]
"""

from __future__ import annotations

import argparse
import io
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

JPEG_Q = [10, 30, 50, 75, 90]
WEBP_Q = [10, 30, 50, 75, 90]


def plain_loop(paths: list[Path], threads: int) -> float:
    import torch
    from PIL import Image
    from pytorch_msssim import ms_ssim

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    for path in paths:
        img = np.asarray(Image.open(path).convert("RGB"))
        for fmt, qs in (("JPEG", JPEG_Q), ("WEBP", WEBP_Q)):
            for q in qs:
                buf = io.BytesIO()
                Image.fromarray(img).save(buf, fmt, quality=q)
                rec = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
                mse = np.mean((img.astype(np.float64) - rec) ** 2)
                _ = 10 * math.log10(255**2 / mse)
                x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float()
                y = torch.from_numpy(rec.copy()).permute(2, 0, 1)[None].float()
                with torch.no_grad():
                    _ = float(ms_ssim(x, y, data_range=255))
    return time.perf_counter() - t0


def gcbench_run(dataset: Path, jobs: int, out: Path) -> float:
    from gcbench.execution.runner import RunConfig, run

    t0 = time.perf_counter()
    report = run(RunConfig(
        codecs=["jpeg@" + ",".join(map(str, JPEG_Q)), "webp@" + ",".join(map(str, WEBP_Q))],
        dataset=str(dataset), out=out, metrics=["psnr", "ms-ssim"], jobs=jobs, progress=False, write_outputs=False,
    ))
    if report.failed:
        raise SystemExit(f"gcbench run failed: {report.text()}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kodak", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kodak")
    ap.add_argument("--images", type=int, default=24)
    args = ap.parse_args()
    paths = sorted(args.kodak.glob("*.png"))[: args.images]
    work = Path(tempfile.mkdtemp(prefix="gcbench-bench-"))
    try:
        data = work / "data"
        data.mkdir()
        for p in paths:
            os.symlink(p.resolve(), data / p.name)
        n_tasks = len(paths) * (len(JPEG_Q) + len(WEBP_Q))
        cores = len(os.sched_getaffinity(0))
        plain = plain_loop(paths, threads=cores)
        g1 = gcbench_run(data, 1, work / "j1")
        g2 = gcbench_run(data, 2, work / "j2")
        print(f"{n_tasks} tasks (JPEG + WebP at {len(JPEG_Q)} qualities, {len(paths)} Kodak images), {cores} cores")
        print(f"{'route':<28}{'seconds':>9}{'tasks/s':>9}{'vs plain':>10}")
        for label, sec in (("plain loop (1 process)", plain), ("gcbench --jobs 1", g1), ("gcbench --jobs 2", g2)):
            print(f"{label:<28}{sec:>9.2f}{n_tasks / sec:>9.1f}{plain / sec:>9.2f}×")
        print(f"per-task harness overhead at --jobs 1: {(g1 - plain) / n_tasks * 1000:+.1f} ms "
              f"({(g1 / plain - 1) * 100:+.1f} %)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
