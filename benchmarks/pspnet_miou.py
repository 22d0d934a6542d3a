"""Time of PSPNet (the ``miou`` metrics' model) per 1024×512 image, against mmsegmentation's own call.

The image is a Kodak photo resized to 1024×512 (Cityscapes at half resolution); the config's
test pipeline scales it to 2048×1024 for inference, as mmsegmentation does. Routes, on one
model (the offline stand-in with random weights unless ``--checkpoint`` is given: same cost):

- ``mmseg inference_model``: mmsegmentation's own call, one image — the baseline;
- ``gcbench segment, batch 1``: what a ``miou`` task runs per reconstruction;
- ``gcbench segment, batch 2``: the original and a reconstruction together (``miou-pseudo``).

One warm-up, then ``--repeats`` timed runs each; medians, in seconds per image, and the ratio
to the baseline. On CUDA the clock is read after ``torch.cuda.synchronize()``.

    python benchmarks/pspnet_miou.py [--device cuda] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)


def timed(fn, device: str, repeats: int) -> float:
    fn()  # warm-up: kernels chosen, memory allocated
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own)")
    ap.add_argument("--checkpoint", type=Path, help="the real PSPNet weights (default: the random stand-in)")
    ap.add_argument("--kodak", type=Path, default=None, help="default: gcbench's kodak dataset")
    args = ap.parse_args()
    from gcbench.data.datasets import load_dataset  # $GCBENCH_DATA/kodak, the cache, or a verified download

    args.kodak = args.kodak or load_dataset("kodak").root
    import torch
    from PIL import Image

    from gcbench.metrics.pspnet import PSPNetSegmenter

    if args.threads:
        torch.set_num_threads(args.threads)
    photo = Image.open(sorted(args.kodak.glob("*.png"))[0]).convert("RGB")
    image = np.asarray(photo.resize((1024, 512), Image.LANCZOS))
    other = np.ascontiguousarray(image[:, ::-1])  # a second image of the same size
    t0 = time.perf_counter()
    seg = PSPNetSegmenter(args.device, checkpoint=args.checkpoint, random_seed=None if args.checkpoint else 0,
                          batch_size=2)
    build = time.perf_counter() - t0
    bgr = np.ascontiguousarray(image[..., ::-1])

    def baseline() -> None:
        seg._inference(seg.model, bgr).pred_sem_seg.data.cpu()

    seg1 = lambda: seg.segment([image])  # noqa: E731
    seg2 = lambda: seg.segment([image, other])  # noqa: E731
    base = timed(baseline, args.device, args.repeats)
    one = timed(seg1, args.device, args.repeats)
    two = timed(seg2, args.device, args.repeats) / 2
    same = np.array_equal(seg1()[0], seg.segment([image, other])[0])
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    print(f"PSPNet R50-D8 ({'weights ' + args.checkpoint.name if args.checkpoint else 'random stand-in'}) on {name}; "
          f"1024×512 input, inference at 2048×1024; import + build {build:.1f} s; {args.repeats} repeats, medians")
    print(f"{'route':<34}{'s/image':>9}{'vs mmseg':>10}")
    for label, sec in (("mmseg inference_model (baseline)", base), ("gcbench segment, batch 1", one),
                       ("gcbench segment, batch 2", two)):
        print(f"{label:<34}{sec:>9.3f}{base / sec:>9.2f}×")
    print(f"batch 2 gives the same map as batch 1: {same}")


if __name__ == "__main__":
    main()
