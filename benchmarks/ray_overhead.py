"""Per-task overhead of the Ray executor against the local process pool, same sweep, one command.

Both run the same tasks with two workers of one thread each: the local pool (``--jobs 2``) and
Ray (a local instance with 2 CPUs, ``--executor ray``). Ray's start-up is timed apart (a cluster
is started once and serves many runs). Whole-run times include fixed costs that differ by route
(the local pool spawns and imports its workers on every run; Ray keeps warm workers), so the
per-task figure is the marginal cost: each route runs the sweep on N and on 3N images and
(t(3N) - t(N)) / (2N × tasks per image) is what one more task costs. Two sweeps: a light one
(JPEG/WebP + PSNR, a few ms of work per task, where overhead shows) and a heavier one (+ MS-SSIM).
Printed: whole-run seconds, marginal ms per task, and the Ray/local ratio (>1: Ray is slower).

    python benchmarks/ray_overhead.py --kodak ../shared/datasets/kodak [--images 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

CODECS = ["jpeg@10,30,50,75,90", "webp@10,50,90"]
SWEEPS = {"light (psnr)": ["psnr"], "heavy (psnr + ms-ssim)": ["psnr", "ms-ssim"]}


def timed_run(dataset: Path, out: Path, metrics: list[str], **kw: object) -> tuple[float, int]:
    from gcbench.runner import RunConfig, run

    t0 = time.perf_counter()
    report = run(RunConfig(codecs=CODECS, dataset=str(dataset), out=out, metrics=metrics, threads=1,
                           progress=False, write_outputs=False, **kw))
    seconds = time.perf_counter() - t0
    if report.failed or report.n_ok != report.n_tasks:
        raise SystemExit(f"run failed: {report.text()}")
    return seconds, report.n_tasks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kodak", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kodak")
    ap.add_argument("--images", type=int, default=4, help="N: the small run's images (the large one uses 3N)")
    args = ap.parse_args()
    import ray

    work = Path(tempfile.mkdtemp(prefix="gcbench-ray-bench-"))
    try:
        paths = sorted(args.kodak.glob("*.png"))
        if len(paths) < 3 * args.images:
            raise SystemExit(f"need {3 * args.images} images in {args.kodak}, found {len(paths)}")
        sets = {}
        for n in (args.images, 3 * args.images):
            sets[n] = work / f"data{n}"
            sets[n].mkdir()
            for p in paths[:n]:
                os.symlink(p.resolve(), sets[n] / p.name)
        t0 = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        startup = time.perf_counter() - t0
        routes = {"local": {"jobs": 2}, "ray": {"executor": "ray"}}
        rows = []
        for label, metrics in SWEEPS.items():
            tag = label.split()[0]
            for name, kw in routes.items():  # warm-up: Ray's workers start, files get cached
                timed_run(sets[args.images], work / f"warm-{name}-{tag}", metrics, **kw)
            times: dict[tuple[str, int], tuple[float, int]] = {}
            for n, data in sets.items():
                for name, kw in routes.items():
                    times[(name, n)] = timed_run(data, work / f"{name}-{tag}-{n}", metrics, **kw)
            small, large = args.images, 3 * args.images
            extra = times[("local", large)][1] - times[("local", small)][1]
            marginal = {name: (times[(name, large)][0] - times[(name, small)][0]) / extra for name in routes}
            rows.append((label, times[("local", large)][1], times[("local", large)][0], times[("ray", large)][0],
                         marginal["local"], marginal["ray"]))
        ray.shutdown()
        print(f"codecs {' '.join(CODECS)}; runs on {args.images} and {3 * args.images} Kodak images; "
              f"2 workers × 1 thread; {len(os.sched_getaffinity(0))} cores")
        print(f"Ray local instance start-up (once per cluster, not per run): {startup:.2f} s")
        print(f"{'sweep':<26}{'tasks':>6}{'local s':>9}{'ray s':>8}{'local ms/task':>15}{'ray ms/task':>13}"
              f"{'ray/local':>11}{'overhead ms/task':>18}")
        for label, n, local, remote, m_local, m_ray in rows:
            print(f"{label:<26}{n:>6}{local:>9.2f}{remote:>8.2f}{m_local * 1e3:>15.1f}{m_ray * 1e3:>13.1f}"
                  f"{m_ray / m_local:>10.2f}×{(m_ray - m_local) * 1e3:>+18.1f}")
        print("(seconds: whole runs on the large set; ms/task: marginal cost of one more task)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
