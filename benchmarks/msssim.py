"""MS-SSIM per image: pytorch-msssim against gcbench.metrics.fast_ssim, on Kodak.

pytorch-msssim gets its fastest input: a float32 tensor that is a permuted (channels-last)
view of the H×W×3 image, as gcbench used to call it. gcbench gets the 8-bit image as the same
permuted view. Both include their conversion from the numpy array. The two are called
alternately (which goes first alternates too) on each image in turn, so that load from other
processes hits both alike; printed are medians over all calls, their ratio and the load average
before and after.

    python benchmarks/msssim.py [--kodak DIR] [--images 24] [--repeat 5] [--quality 50] [--threads N]

Kodak: --kodak, else $GCBENCH_DATA/kodak, else gcbench's own dataset resolution (the user cache,
or a verified download: ``gcbench datasets download kodak``).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from pathlib import Path

import numpy as np


def default_kodak() -> Path:
    data = os.environ.get("GCBENCH_DATA")
    if data:
        return Path(data) / "kodak"
    from gcbench.data.datasets import load_dataset

    return Path(load_dataset("kodak").root)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kodak", type=Path, default=default_kodak())
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=5, help="calls per image and implementation")
    ap.add_argument("--quality", type=int, default=50, help="JPEG quality of the reconstructions")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    args = ap.parse_args()

    import torch
    from PIL import Image
    from pytorch_msssim import ms_ssim as reference

    from gcbench.metrics import fast_ssim

    if args.threads:
        torch.set_num_threads(args.threads)
    paths = sorted(args.kodak.glob("*.png"))[: args.images]
    if not paths:
        raise SystemExit(f"no PNG images in {args.kodak}")
    pairs = []
    for path in paths:
        original = np.array(Image.open(path).convert("RGB"))
        pairs.append((original, np.array(jpeg(original, args.quality))))

    def run_reference(a: np.ndarray, b: np.ndarray) -> float:
        x = torch.from_numpy(a).permute(2, 0, 1)[None].to(torch.float32)
        y = torch.from_numpy(b).permute(2, 0, 1)[None].to(torch.float32)
        return float(reference(x, y, data_range=255, size_average=True))

    def run_gcbench(a: np.ndarray, b: np.ndarray) -> float:
        x = torch.from_numpy(a).permute(2, 0, 1)[None]
        y = torch.from_numpy(b).permute(2, 0, 1)[None]
        return float(fast_ssim.ms_ssim(x, y)[0])

    runners = {"pytorch-msssim": run_reference, "gcbench": run_gcbench}
    times: dict[str, list[float]] = {name: [] for name in runners}
    load_before = os.getloadavg()
    worst = 0.0
    with torch.no_grad():
        for name, fn in runners.items():  # warm-up: first-call costs are not per-image costs
            fn(*pairs[0])
        calls = 0
        for _ in range(args.repeat):
            for a, b in pairs:
                order = list(runners.items())
                if calls % 2:
                    order.reverse()
                calls += 1
                values = {}
                for name, fn in order:
                    t0 = time.perf_counter()
                    values[name] = fn(a, b)
                    times[name].append(time.perf_counter() - t0)
                worst = max(worst, abs(values["gcbench"] - values["pytorch-msssim"]))
    load_after = os.getloadavg()

    h, w = pairs[0][0].shape[:2]
    med = {name: statistics.median(ts) * 1e3 for name, ts in times.items()}
    print(f"MS-SSIM, {len(pairs)} Kodak images ({h}×{w} first), JPEG q{args.quality}, {args.repeat} calls each, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    for name, ts in times.items():
        q = np.percentile(np.array(ts) * 1e3, [10, 90])
        print(f"  {name:15s} median {med[name]:7.2f} ms/image   (10%-90%: {q[0]:.2f}-{q[1]:.2f} ms)")
    ratio = med["pytorch-msssim"] / med["gcbench"]
    print(f"  ratio           {ratio:.2f}× faster (median pytorch-msssim / median gcbench)")
    print(f"  load average    before {' '.join(f'{v:.2f}' for v in load_before)}, "
          f"after {' '.join(f'{v:.2f}' for v in load_after)}")
    print(f"  max |gcbench - pytorch-msssim float32| {worst:.1e} (float32 rounding of pytorch-msssim; "
          "gcbench equals it evaluated in float64)")


if __name__ == "__main__":
    main()
