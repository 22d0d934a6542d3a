"""Peak memory of the set stage (FID + KID of one setting) against the number of patches.

The set stage reads each task's stored features from disk (``features/<metric>/<task>.npy``)
and the originals' cached reference features, and computes FID from streamed statistics and
KID from subsets read by index (gcbench.execution.set_metrics.compute_set_metric). This script
writes synthetic 2048-d float32 features (generated, not Inception: non-negative like pooled
ReLU outputs) in files of ``--rows-per-file`` rows, as a dataset of that many patches per image
would leave them, then measures FID + KID over them in a fresh process per size and prints its
peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) before and after the set
stage. ``--in-memory`` adds the same values computed from all features loaded into memory first
(what a set stage without streaming needs), for contrast.

    python benchmarks/set_metrics_memory.py [--sizes 5000,50000] [--dim 2048] [--rows-per-file 50] [--in-memory]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def generate(folder: Path, n: int, dim: int, rows_per_file: int, seed: int) -> None:
    """Features of the reconstructions (``recon/``) and of the originals (``ref/``), file by file."""
    from gcbench.core.arrays import save_array

    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.1, 0.6, dim).astype(np.float32)  # per-feature spread, as real features have
    for side, shift in (("recon", 0.05), ("ref", 0.0)):
        (folder / side).mkdir(parents=True)
        for i, start in enumerate(range(0, n, rows_per_file)):
            rows = min(rows_per_file, n - start)
            block = np.abs(rng.normal(0.3 + shift, 1.0, (rows, dim)).astype(np.float32)) * scale
            save_array(folder / side / f"{i:06d}.npy", block)


def measure(folder: Path, in_memory: bool) -> dict[str, float]:
    """FID + KID over the files in ``folder`` through the set stage; peak RSS before and after."""
    from gcbench.core.arrays import load_array
    from gcbench.execution.set_metrics import compute_set_metric
    from gcbench.metrics.distribution import FID, KID

    import torch_fidelity.metric_fid  # noqa: F401 - imported before the baseline: torch is not the set stage
    import torch_fidelity.metric_kid  # noqa: F401

    recon, ref = sorted((folder / "recon").glob("*.npy")), sorted((folder / "ref").glob("*.npy"))
    metrics = (FID(), KID())
    before = _rss_mb()
    t0 = time.perf_counter()
    if in_memory:
        features, references = [load_array(p) for p in recon], [load_array(p) for p in ref]
        results = [m.finalize(features, references) for m in metrics]
    else:
        results = [compute_set_metric(m, recon, ref, scratch=folder) for m in metrics]
    seconds = time.perf_counter() - t0
    values = {k: v for r in results for k, v in r.values.items()}
    return {"rss_before_mb": before, "rss_peak_mb": _rss_mb(), "seconds": seconds, "n": results[0].n_items,
            **values}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="5000,50000", help="patch counts to compare (comma-separated)")
    p.add_argument("--dim", type=int, default=2048)
    p.add_argument("--rows-per-file", type=int, default=50, help="patches per image (rows per feature file)")
    p.add_argument("--in-memory", action="store_true", help="also compute from all features loaded into memory")
    p.add_argument("--worker", nargs=2, metavar=("ROLE", "FOLDER"), help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.worker:  # one step in a fresh process, so that ru_maxrss is this step's own peak
        role, folder = args.worker
        if role.startswith("generate"):
            generate(Path(folder), int(role.split(":")[1]), args.dim, args.rows_per_file, seed=0)
        else:
            print(json.dumps(measure(Path(folder), in_memory=role == "in-memory")))
        return

    routes = ["streamed"] + (["in-memory"] if args.in_memory else [])
    print(f"FID + KID of one setting from synthetic {args.dim}-d float32 features, {args.rows_per_file} "
          f"patches per image file; peak RSS of a fresh process (MB)")
    print(f"{'patches':>8}  {'route':<10}{'RSS before':>11}{'peak':>9}{'set stage':>11}{'seconds':>9}  values")
    for n in (int(s) for s in args.sizes.split(",")):
        work = Path(tempfile.mkdtemp(prefix="gcbench-setmem-"))
        try:
            common = [sys.executable, __file__, "--dim", str(args.dim), "--rows-per-file", str(args.rows_per_file)]
            subprocess.run(common + ["--worker", f"generate:{n}", str(work)], check=True, cwd=REPO)
            for route in routes:
                out = subprocess.run(common + ["--worker", route, str(work)], check=True, cwd=REPO,
                                     capture_output=True, text=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{r['n']:>8}  {route:<10}{r['rss_before_mb']:>11.0f}{r['rss_peak_mb']:>9.0f}"
                      f"{r['rss_peak_mb'] - r['rss_before_mb']:>11.0f}{r['seconds']:>9.1f}  "
                      f"fid {r['fid']:.6g}, kid {r['kid']:.6g}", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
