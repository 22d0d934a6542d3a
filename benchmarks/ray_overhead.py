"""Per-task overhead of the Ray executor against the local process pool, same sweep, one command.

Both run the same tasks with two workers of one thread each: the local pool (``--jobs 2``) and
Ray (a local instance with 2 CPUs, ``--executor ray``). Ray's start-up is timed apart (a cluster
is started once and serves many runs). Whole-run times include fixed costs that differ by route
(the local pool spawns and imports its workers on every run; Ray keeps warm workers), so the
per-task figure is the marginal cost: each route runs the sweep on N and on 3N images and
(t(3N) - t(N)) / (2N × tasks per image) is what one more task costs. Two sweeps: a light one
(JPEG/WebP + PSNR, a few ms of work per task, where overhead shows) and a heavier one (+ MS-SSIM).
Each (route, size) runs ``--repeats`` times, alternating routes; medians are used. Printed:
whole-run seconds, marginal ms per task, and the Ray/local ratio (>1: Ray is slower).

    python benchmarks/ray_overhead.py [--kodak DIR] [--images 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

CODECS = ["jpeg@10,30,50,75,90", "webp@10,50,90"]
SWEEPS = {"light (psnr)": ["psnr"], "heavy (psnr + ms-ssim)": ["psnr", "ms-ssim"]}


def timed_run(dataset: Path, out: Path, metrics: list[str], **kw: object) -> tuple[float, int]:
    from gcbench.execution.runner import RunConfig, run

    t0 = time.perf_counter()
    report = run(RunConfig(codecs=CODECS, dataset=str(dataset), out=out, metrics=metrics, threads=1,
                           progress=False, write_outputs=False, **kw))
    seconds = time.perf_counter() - t0
    if report.failed or report.n_ok != report.n_tasks:
        raise SystemExit(f"run failed: {report.text()}")
    return seconds, report.n_tasks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kodak", type=Path, default=None, help="default: gcbench's kodak dataset")
    ap.add_argument("--images", type=int, default=4, help="N: the small run's images (the large one uses 3N)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each (route, size); medians are used")
    args = ap.parse_args()
    from gcbench.data.datasets import load_dataset  # $GCBENCH_DATA/kodak, the cache, or a verified download

    args.kodak = args.kodak or load_dataset("kodak").root
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
            # routes alternate within each repeat, so a burst of load elsewhere hits both alike
            times: dict[tuple[str, int], list[float]] = {}
            counts: dict[int, int] = {}
            for rep in range(args.repeats):
                for n, data in sets.items():
                    for name, kw in routes.items():
                        sec, counts[n] = timed_run(data, work / f"{name}-{tag}-{n}-{rep}", metrics, **kw)
                        times.setdefault((name, n), []).append(sec)
            small, large = args.images, 3 * args.images
            extra = counts[large] - counts[small]
            med = {key: statistics.median(v) for key, v in times.items()}
            marginal = {name: (med[(name, large)] - med[(name, small)]) / extra for name in routes}
            rows.append((label, counts[large], med[("local", large)], med[("ray", large)],
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
        print(f"(seconds: median whole runs on the large set; ms/task: marginal cost of one more task; "
              f"{args.repeats} repeats)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
