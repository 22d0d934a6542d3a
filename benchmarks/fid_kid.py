"""FID + KID of one Kodak setting: gcbench's route against the classic route, in one command.

Both compute the same numbers (HiFiC / NeuralCompression 256-px patch protocol, torch-fidelity's
``inception-v3-compat``) for JPEG reconstructions of the Kodak images:

- classic: cut every original and reconstruction into patches, write them as PNG files into two
  folders, run ``torch_fidelity.calculate_metrics(input1=recon, input2=orig, fid=True, kid=True)``;
- gcbench: patches stay in memory, features come from gcbench.metrics.distribution; the
  originals' features are cached on disk under the reference key. "cold" computes and caches
  them (the first setting of a sweep), "warm" reads them (every further setting).

Printed: seconds, patches through the Inception per second, the time ratio of each gcbench run
to the classic route (>1: gcbench is faster) and the relative difference of the values.

Weights: the real Inception through gcbench.weights. Where it cannot be had (no network),
``--standin`` generates random weights of the right shapes: timings are then representative,
the values are NOT FID/KID, and the output says so on every line that shows them.

    python benchmarks/fid_kid.py [--images 24] [--quality 10] [--device cpu] [--repeat 3] [--standin]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    """CPU seconds of this process and its finished children (torch-fidelity's loader workers):
    a fairer measure than wall time on a machine shared with other work."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def classic(originals, recons, weights: str, device: str, work: Path) -> tuple[float, float, dict, int]:
    import torch_fidelity
    from PIL import Image

    from gcbench.metrics.distribution import PatchProtocol, kid_subset_size

    protocol = PatchProtocol()
    _sync(device)
    t0, c0 = time.perf_counter(), _cpu()
    dirs = {"recon": work / "recon", "orig": work / "orig"}
    n = 0
    for kind, images in (("orig", originals), ("recon", recons)):
        dirs[kind].mkdir(parents=True)
        for i, image in enumerate(images):
            for j, patch in enumerate(protocol.patches(image)):
                Image.fromarray(patch).save(dirs[kind] / f"{i:03d}-{j:02d}.png")
                n += 1
    half = n // 2
    out = torch_fidelity.calculate_metrics(
        input1=str(dirs["recon"]), input2=str(dirs["orig"]), fid=True, kid=True,
        kid_subset_size=kid_subset_size(half, half), cuda=device.startswith("cuda"),
        feature_extractor_weights_path=weights, verbose=False)
    _sync(device)
    values = {"fid": out["frechet_inception_distance"], "kid": out["kernel_inception_distance_mean"]}
    return time.perf_counter() - t0, _cpu() - c0, values, n


def gcbench_route(originals, recons, weights: str | None, device: str) -> tuple[float, float, dict, int]:
    from gcbench.core.arrays import load_array, save_array
    from gcbench.data.images import pixel_hash
    from gcbench.execution.reference_features import ReferenceCache, reference_path
    from gcbench.metrics import distribution
    from gcbench.metrics.base import ImageContext
    from gcbench.metrics.distribution import FID, KID

    distribution._RECENT.clear()  # nothing carried over from a previous run in this process

    fid, kid = FID(device=device, inception_weights=weights), KID(device=device, inception_weights=weights)
    for metric in (fid, kid):  # as the run's workers do: the metrics see the reference cache
        metric.use_references(ReferenceCache(metric.reference_identity()))
    _sync(device)
    t0, c0 = time.perf_counter(), _cpu()
    features, references, n = [], [], 0
    for i, (original, recon) in enumerate(zip(originals, recons, strict=True)):
        # what the runner does: the worker asks FID, then KID, for the task's features (and the
        # first task of an image for the original's); the originals' features are cached on disk
        ctx = ImageContext(name=str(i), path="", dataset="kodak", dataset_root="", sha256=pixel_hash(original))
        feats = fid.item_features(original, recon, ctx)
        kid.item_features(original, recon, ctx)
        features.append(feats)
        n += len(feats)
        path = reference_path(fid.reference_identity(), ctx.sha256)
        if path.is_file():
            references.append(load_array(path))
        else:
            ref = fid.reference_features(original, ctx)
            save_array(path, ref)
            references.append(ref)
            n += len(ref)
    values = {**fid.finalize(features, references).values, **kid.finalize(features, references).values}
    _sync(device)
    return time.perf_counter() - t0, _cpu() - c0, values, n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kodak", type=Path, default=None, help="folder of the Kodak PNGs (default: gcbench's kodak dataset)")
    p.add_argument("--images", type=int, default=24, help="first N Kodak images (default all 24)")
    p.add_argument("--quality", type=int, default=10, help="JPEG quality of the reconstructions")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeat", type=int, default=3, help="rounds of the three routes; medians are printed")
    p.add_argument("--standin", action="store_true",
                   help="use random Inception weights of the right shapes when the real file is unavailable")
    args = p.parse_args()
    from gcbench.data.datasets import load_dataset  # $GCBENCH_DATA/kodak, the cache, or a verified download

    args.kodak = args.kodak or load_dataset("kodak").root

    from PIL import Image

    work = Path(tempfile.mkdtemp(prefix="gcbench-fidbench-"))
    os.environ["GCBENCH_CACHE"] = str(work / "cache")  # a cold reference cache for this run
    try:
        from gcbench import weights as wts
        from gcbench.core.errors import WeightsError

        label = "real Inception"
        try:
            weights = str(wts.resolve("inception-fid"))
            override = None
        except WeightsError as exc:
            if not args.standin:
                raise SystemExit(f"{exc}\n(or pass --standin to time the routes with random weights)") from exc
            sys.path.insert(0, str(REPO / "tests"))
            from metrics.standin_weights import inception_standin

            weights = str(inception_standin(work / "inception-STANDIN.pth"))
            override = weights
            label = "STAND-IN Inception (random weights): values are NOT FID/KID"

        paths = sorted(args.kodak.glob("*.png"))[: args.images]
        originals = [np.asarray(Image.open(f).convert("RGB")) for f in paths]
        recons = [jpeg(o, args.quality) for o in originals]
        import torch

        print(f"{len(paths)} Kodak images, JPEG q{args.quality}, device {args.device}, "
              f"torch threads {torch.get_num_threads()}; {label}")

        # Untimed warm-up: imports and the first batch (one-time kernel set-up) for both routes.
        from gcbench.metrics.distribution import InceptionFeatures, PatchProtocol

        InceptionFeatures(weights, args.device)(PatchProtocol().patches(originals[0]))
        import torch_fidelity  # noqa: F401

        # Rounds of the three routes, medians reported: the machine may be shared with other work.
        runs: dict[str, list[tuple[float, float]]] = {"classic": [], "cold": [], "warm": []}
        for r in range(args.repeat):
            # the order alternates between rounds so that a drift in the machine's load hits both routes
            for route in (("classic", "gcbench") if r % 2 == 0 else ("gcbench", "classic")):
                if route == "classic":
                    shutil.rmtree(work / "classic", ignore_errors=True)
                    t, c, v_classic, n_classic = classic(originals, recons, weights, args.device, work / "classic")
                    runs["classic"].append((t, c))
                    continue
                shutil.rmtree(work / "cache", ignore_errors=True)  # cold: no cached reference features
                t, c, v_cold, n_cold = gcbench_route(originals, recons, override, args.device)
                runs["cold"].append((t, c))
                t, c, v_warm, n_warm = gcbench_route(originals, recons, override, args.device)
                runs["warm"].append((t, c))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1][0]:.1f} s" for k, v in runs.items()), flush=True)
        (t_classic, c_classic), (t_cold, c_cold), (t_warm, c_warm) = (
            tuple(float(np.median([x[i] for x in runs[k]])) for i in (0, 1)) for k in ("classic", "cold", "warm"))

        print(f"medians of {args.repeat} rounds")
        print(f"{'route':<40}{'seconds':>9}{'cpu s':>9}{'patches':>9}{'patches/s':>11}{'ratio':>7}{'cpu ratio':>10}")
        for name, t, c, n in (("classic (PNG folders + torch-fidelity)", t_classic, c_classic, n_classic),
                              ("gcbench, reference features cold", t_cold, c_cold, n_cold),
                              ("gcbench, reference features cached", t_warm, c_warm, n_warm)):
            print(f"{name:<40}{t:>9.2f}{c:>9.2f}{n:>9d}{n / t:>11.2f}{t_classic / t:>7.2f}{c_classic / c:>10.2f}")
        for key in ("fid", "kid"):
            rel = abs(v_cold[key] - v_classic[key]) / max(abs(v_classic[key]), 1e-12)
            same = v_warm[key] == v_cold[key]
            print(f"{key}: classic {v_classic[key]:.6g}, gcbench {v_cold[key]:.6g} (relative difference {rel:.1e}; "
                  f"cached run identical: {same}){'  [stand-in weights: not ' + key.upper() + ']' if override else ''}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
