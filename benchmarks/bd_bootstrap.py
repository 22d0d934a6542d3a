"""Bootstrap intervals of BD-rates: gcbench's batched curves against one package call per replicate.

Both compute the same thing: for each of B bootstrap replicates (images drawn with
replacement), the per-setting mean bpp and quality of two codecs and the BD-rate between
them. The baseline calls the ``bjontegaard`` package (scipy interpolators) once per
replicate; gcbench builds the PCHIP/Akima slopes and integrals of all replicates at once.
Printed: seconds of each, the ratio (>1: gcbench is faster), and the largest difference of
the replicate values (they must agree).

    python benchmarks/bd_bootstrap.py [--images 24] [--settings 8] [--boot 1000]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def synthetic(n_images: int, n_settings: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    base = np.geomspace(0.1, 2.0, n_settings)
    out = []
    for gain in (0.0, 1.2):
        bpp = base[None, :] * rng.uniform(0.6, 1.6, (n_images, 1)) * rng.uniform(0.95, 1.05, (n_images, n_settings))
        psnr = 26 + 5 * np.log2(bpp / 0.1) + gain + rng.normal(0, 1.5, (n_images, 1))
        out += [bpp, psnr]
    return tuple(out)


def main() -> None:
    import bjontegaard as bd

    from gcbench.analysis.bjontegaard import _bd_batch, resample_weights, weighted_means

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=24)
    p.add_argument("--settings", type=int, default=8)
    p.add_argument("--boot", type=int, default=1000)
    p.add_argument("--method", default="pchip", choices=["pchip", "akima"])
    args = p.parse_args()

    ba, qa, bt, qt = synthetic(args.images, args.settings, 0)
    w = resample_weights(args.images, args.boot, 1)
    ra, va, rt, vt = (weighted_means(w, m) for m in (ba, qa, bt, qt))

    t0 = time.perf_counter()
    ours, _ = _bd_batch(ra, va, rt, vt, args.method)
    t_ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = np.array([bd.bd_rate(ra[b], va[b], rt[b], vt[b], method=args.method, min_overlap=0)
                           for b in range(args.boot)])
    t_theirs = time.perf_counter() - t0

    print(f"{args.boot} replicates, {args.images} images, {args.settings} settings, {args.method}")
    print(f"bjontegaard package, one call per replicate: {t_theirs:8.3f} s")
    print(f"gcbench batched:                             {t_ours:8.3f} s")
    print(f"ratio (package / gcbench):                   {t_theirs / t_ours:8.1f}x")
    print(f"largest difference of BD-rate replicates:    {np.nanmax(np.abs(ours - theirs)):.2e} %")


if __name__ == "__main__":
    main()
