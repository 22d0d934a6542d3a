"""The GPU check: gcbench's torch metrics and timer on a CUDA card, against the bare libraries.

One script, under five minutes on one H100, run whenever a GPU is at hand; it prints:

1. throughput (images or patches per second) through gcbench and through the bare library, and
   their ratio (goal ≥ 0.9×), for LPIPS-alex and DISTS at 768×512, the FID Inception on 256×256
   patches (torch-fidelity at batch 256) and MS-SSIM at 768×512;
2. CPU/GPU agreement of every metric (largest absolute difference over the same pairs);
3. decode times of a learned codec and a GAN codec from gcbench's timer against CUDA events
   (goal: within 2 %), and a HiFiC-sized decode at 768×512.

Pretrained files cannot always be had on the machine, so the trunks and the Inception are
stand-ins of the right shapes (random weights, generated here): throughput and agreement do
not depend on the values of the weights. Anchors measured on an H100 with torch 2.11: torch-fidelity
Inception 4,180 patches/s at batch 256, LPIPS-alex 2,635 images/s at 768×512 batched.

    python benchmarks/gpu_check.py [--device cuda] [--images 64] [--repeats 3]
    python benchmarks/gpu_check.py --device cpu --images 4 --repeats 1   # a dry run of the script
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

H, W = 512, 768
TRUNK_FILES = {"alexnet": "alexnet-owt-7be5be79.pth", "vgg16": "vgg16-397923af.pth"}


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _rate(fn, n_items: int, device: str, repeats: int) -> float:
    """Items per second, median over repeats, after one warm-up call; the device is synchronised."""
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return n_items / statistics.median(times)


def _pairs(n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    out = []
    for i in range(n):
        base = (128 + 90 * np.sin(xx / (40 + i) + yy / 57.0))[..., None] + rng.normal(0, 8, (H, W, 3))
        a = np.clip(base, 0, 255).astype(np.uint8)
        b = np.clip(base + rng.normal(0, 6, (H, W, 3)), 0, 255).astype(np.uint8)
        out.append((a, b))
    return out


def _stack(images: list[np.ndarray], device: str, scale: str):
    import torch

    x = torch.from_numpy(np.stack(images)).to(device).permute(0, 3, 1, 2).float() / 255.0
    return x * 2 - 1 if scale == "pm1" else x


def _through_gcbench(metric, pairs) -> list:
    from gcbench.core.defaults import DEVICE_BATCH

    return [v for i in range(0, len(pairs), DEVICE_BATCH) for v in metric.compute_many(pairs[i : i + DEVICE_BATCH])]


def check_lpips_dists(pairs, device: str, repeats: int, work: Path) -> list[tuple[str, float, float]]:
    import lpips
    import torch
    from DISTS_pytorch import DISTS as BareDISTS

    from gcbench.metrics.perceptual import DISTS, LPIPS
    from metrics.standin_weights import torchvision_standin

    # The libraries load their trunks from torchvision's cache: the stand-ins go there under the
    # published file names, and gcbench is given the same files explicitly.
    alex = torchvision_standin("alexnet", work / "hub" / "checkpoints" / TRUNK_FILES["alexnet"], seed=1)
    vgg = torchvision_standin("vgg16", work / "hub" / "checkpoints" / TRUNK_FILES["vgg16"], seed=2)
    os.environ["TORCH_HOME"] = str(work)
    rows = []
    g_lpips = LPIPS(device=device, trunk_weights=str(alex))
    g_dists = DISTS(device=device, trunk_weights=str(vgg))
    bare_lpips = lpips.LPIPS(net="alex", version="0.1", verbose=False).to(device).eval()
    bare_dists = BareDISTS().to(device).eval()
    x = _stack([a for a, _ in pairs], device, "pm1")
    y = _stack([b for _, b in pairs], device, "pm1")
    with torch.no_grad():
        bare = _rate(lambda: bare_lpips(x, y), len(pairs), device, repeats)
        x01, y01 = (x + 1) / 2, (y + 1) / 2
        bare_d = _rate(lambda: bare_dists(x01, y01, batch_average=False), len(pairs), device, repeats)
    # gcbench as a run computes them: decoded uint8 arrays, DEVICE_BATCH pairs per call (pinned
    # host copy, one transfer, one synchronisation per batch)
    ours = _rate(lambda: _through_gcbench(g_lpips, pairs), len(pairs), device, repeats)
    ours_d = _rate(lambda: _through_gcbench(g_dists, pairs), len(pairs), device, repeats)
    rows.append(("LPIPS-alex 768×512 (img/s)", ours, bare))
    rows.append(("DISTS 768×512 (img/s)", ours_d, bare_d))
    return rows


def check_inception(pairs, device: str, repeats: int, work: Path) -> tuple[str, float, float]:
    import torch
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    from gcbench.metrics import distribution
    from gcbench.metrics.base import ImageContext
    from gcbench.metrics.distribution import FID
    from metrics.standin_weights import inception_standin

    weights = inception_standin(work / "inception.pth", seed=3)
    fid = FID(device=device, inception_weights=str(weights))
    calls = iter(range(10**9))

    def context():  # a new image identity per call, so no cached feature is reused
        return ImageContext(name="x.png", path="", dataset="gpu-check", dataset_root="", sha256=f"{next(calls):064x}")

    # each pair's reconstruction and original go through the network (a run's first task per image)
    n_patches = 2 * len(fid.item_features(*pairs[0], context())) * len(pairs)

    def through_gcbench() -> list:
        distribution._RECENT.clear()  # features are cached by image content: every pass computes them again
        return [fid.item_features(a, b, context()) for a, b in pairs]

    ours = _rate(through_gcbench, n_patches, device, repeats)
    bare_model = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                             feature_extractor_weights_path=str(weights)).to(device).eval()
    batch = torch.randint(0, 256, (256, 3, 256, 256), dtype=torch.uint8, device=device)
    with torch.no_grad():
        bare = _rate(lambda: bare_model(batch), 256, device, repeats)
    return ("FID Inception 256×256 patches (patches/s)", ours, bare)


def check_msssim(pairs, device: str, repeats: int) -> tuple[str, float, float]:
    import torch
    from pytorch_msssim import ms_ssim as bare_ms_ssim

    from gcbench.metrics.pixel import MSSSIM

    x = torch.from_numpy(np.stack([a for a, _ in pairs])).to(device).permute(0, 3, 1, 2).float()
    y = torch.from_numpy(np.stack([b for _, b in pairs])).to(device).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        bare = _rate(lambda: bare_ms_ssim(x, y, data_range=255, size_average=False), len(pairs), device, repeats)
    ours = _rate(lambda: _through_gcbench(MSSSIM(device=device), pairs), len(pairs), device, repeats)
    return ("MS-SSIM 768×512 batched (img/s)", ours, bare)


def agreement(pairs, device: str, work: Path) -> list[tuple[str, float]]:
    """Largest |GPU − CPU| per metric over the same pairs (and the same stand-in weights)."""
    from gcbench.metrics.registry import get_metric
    from metrics.standin_weights import torchvision_standin

    alex = work / "hub" / "checkpoints" / TRUNK_FILES["alexnet"]
    vgg = work / "hub" / "checkpoints" / TRUNK_FILES["vgg16"]
    if not alex.exists():
        torchvision_standin("alexnet", alex, seed=1)
        torchvision_standin("vgg16", vgg, seed=2)
    alex, vgg = str(alex), str(vgg)
    options = {"lpips": {"trunk_weights": alex}, "dists": {"trunk_weights": vgg}, "ms-ssim": {}, "ssim": {},
               "psnr": {}, "psnr-yuv": {}}
    rows = []
    for name, opts in options.items():
        cpu, gpu = get_metric(name, **opts), get_metric(name, device=device, **opts)
        worst = 0.0
        for a, b in pairs[:4]:
            vc, vg = cpu.compute(a, b), gpu.compute(a, b)
            worst = max(worst, *(abs(vc[k] - vg[k]) for k in vc if np.isfinite(vc[k])))
        rows.append((name, worst))
    return rows


def decode_timing(device: str, work: Path) -> list[tuple[str, float, float | None]]:
    """gcbench's timer against CUDA events for a learned and a GAN decode at 768×512."""
    import pandas as pd
    from PIL import Image

    from gcbench.timing import TimingConfig, run_timing

    folder = work / "img"
    folder.mkdir(exist_ok=True)
    Image.fromarray(_pairs(1)[0][0]).save(folder / "a.png")
    rows = []
    for codec in ("bmshj2018-hyperprior@4", "gan-hific@1"):
        out = work / codec.split("@")[0]
        run_timing(TimingConfig(codecs=[codec], dataset=str(folder), out=out, device=device, warmup=2, repeats=5,
                                random_weights=True, progress=False))
        samples = pd.read_csv(out / "timing_samples.csv")
        wall = float(samples["decode_s"].median())
        gpu = float(samples["decode_gpu_s"].median()) if samples["decode_gpu_s"].notna().any() else None
        rows.append((codec, wall, gpu))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import torch

    from gcbench.core.hardware import fingerprint

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: give --device cpu for a dry run of the script")
    hw = fingerprint(None, probe_gpu=args.device != "cpu")
    print(f"device {args.device}: {hw.get('gpu') or hw.get('cpu_model')}, torch {torch.__version__}")
    pairs = _pairs(args.images)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"\n{'throughput':<44}{'gcbench':>10}{'bare':>10}{'ratio':>8}")
        for label, ours, bare in [*check_lpips_dists(pairs, args.device, args.repeats, work),
                                  check_inception(pairs, args.device, args.repeats, work),
                                  check_msssim(pairs, args.device, args.repeats)]:
            print(f"{label:<44}{ours:>10.1f}{bare:>10.1f}{ours / bare:>7.2f}×")
        print(f"\n{'CPU/GPU agreement':<44}{'max |Δ|':>10}")
        for name, worst in agreement(pairs, args.device, work):
            print(f"{name:<44}{worst:>10.2e}")
        print(f"\n{'decode 768×512 (random weights)':<44}{'timer ms':>10}{'events ms':>10}{'diff':>8}")
        for codec, wall, gpu in decode_timing(args.device, work):
            diff = f"{(wall / gpu - 1) * 100:+6.1f}%" if gpu else "     -"
            print(f"{codec:<44}{wall * 1e3:>10.2f}{(gpu or float('nan')) * 1e3:>10.2f}{diff:>8}")


if __name__ == "__main__":
    main()
