"""The GAN architecture zoo before anyone trains it: parameters, generator GFLOPs at 1024×512 and
2048×1024, and the median generator time of a decode through gcbench, each against HiFiC.

Every architecture is built untrained (``random_weights``, seed 0) as a ``gan`` codec; an image
is encoded once, then decoded ``--warmup`` times untimed and ``--repeats`` times under
:func:`gcbench.codecs.stages.record_stages`. The ``synthesis`` stage is the generator alone (CUDA is
synchronised at its ends by the stage timer); ``decode`` is the whole call (container, entropy
decoding, hyper-synthesis, generator, post-processing). GFLOPs are counted by
``torch.utils.flop_counter`` on the meta device (2 FLOPs a multiply-add; convolutions and
matrix products only — norms and activations are not counted, as is usual). The image is
Kodak's kodim01 resized (bicubic) to the timed size: content changes entropy-decoding time a
little, not the generator's.

    python benchmarks/gan_zoo.py [--time-sizes 1024x512] [--repeats 3] [--warmup 1] [--device cpu]
                                 [--threads 2] [--arch hific --arch …]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

FLOP_SIZES = ((1024, 512), (2048, 1024))  # width × height, as papers write them


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def generator_of(model):
    return getattr(model, "decoder", None) or model.generator


def count(name: str) -> dict[str, float]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from gcbench.codecs.gan import zoo

    with torch.device("meta"):
        model = zoo.build(name)
    gen = generator_of(model)
    out = {"params_M": sum(p.numel() for p in model.parameters()) / 1e6,
           "gen_params_M": sum(p.numel() for p in gen.parameters()) / 1e6}
    for w, h in FLOP_SIZES:
        x = model.generator_input(h, w).to("meta")
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            gen(x)
        out[f"gflops_{w}x{h}"] = counter.get_total_flops() / 1e9
    return out


def image(w: int, h: int) -> np.ndarray:
    from PIL import Image

    from gcbench.core.errors import GcbenchError
    from gcbench.data.datasets import load_dataset

    try:  # kodim01.png as gcbench finds it ($GCBENCH_DATA/kodak, the cache, a verified download)
        kodak = load_dataset("kodak").root / "kodim01.png"
        return np.asarray(Image.open(kodak).convert("RGB").resize((w, h), Image.BICUBIC))
    except GcbenchError:
        pass
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def time_decode(name: str, img: np.ndarray, device: str, warmup: int, repeats: int) -> dict[str, float]:
    from gcbench.codecs.spec import build_codec, spec_from_dict
    from gcbench.codecs.stages import record_stages

    spec = spec_from_dict({"adapter": "gan", "rate_param": "model", "settings": [1], "rate_increases_with_setting": True,
                           "options": {"architecture": name, "random_weights": True, "device": device}},
                          default_name=f"zoo-{name}")
    codec = build_codec(spec)
    h, w = img.shape[:2]
    data = codec.encode(img, 1).data
    for _ in range(warmup):
        codec.decode(data, (h, w))
    synth, total = [], []
    for _ in range(repeats):
        with record_stages() as stages:
            t0 = time.perf_counter()
            codec.decode(data, (h, w))
            total.append(time.perf_counter() - t0)
        synth.append(stages["synthesis"])
    return {"synthesis_s": statistics.median(synth), "decode_s": statistics.median(total),
            "synthesis_min_s": min(synth), "synthesis_max_s": max(synth), "bpp": 8 * len(data) / (h * w)}


def main() -> None:
    from gcbench.codecs.gan import zoo

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", action="append", help="architectures (default: all of gcbench.codecs.gan.zoo.names())")
    p.add_argument("--time-sizes", nargs="*", default=["1024x512"], type=_size, help="W×H to time decodes at")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    names = args.arch or zoo.names()
    if "hific" not in names:
        names = ["hific", *names]  # the baseline of every ratio
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"warm-up {args.warmup}, repeats {args.repeats}, 1-minute load average {os.getloadavg()[0]:.2f}")
    rows = {}
    for name in names:
        rows[name] = count(name)
        for w, h in args.time_sizes:
            t = time_decode(name, image(w, h), args.device, args.warmup, args.repeats)
            rows[name].update({f"{k}_{w}x{h}": v for k, v in t.items()})
        print(f"  {name}: done", flush=True)
    base = rows["hific"]
    cols = ["architecture", "params (M)", "generator params (M)"]
    cols += [f"GFLOPs {w}×{h}" for w, h in FLOP_SIZES]
    for w, h in args.time_sizes:
        cols += [f"generator {args.device} {w}×{h} (s, median)", "vs HiFiC", f"decode {w}×{h} (s)"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for name, r in rows.items():
        cells = [name, f"{r['params_M']:.1f}", f"{r['gen_params_M']:.1f}"]
        cells += [f"{r[f'gflops_{w}x{h}']:.0f} ({r[f'gflops_{w}x{h}'] / base[f'gflops_{w}x{h}']:.3f}×)"
                  for w, h in FLOP_SIZES]
        for w, h in args.time_sizes:
            s = r[f"synthesis_s_{w}x{h}"]
            cells += [f"{s:.2f} [{r[f'synthesis_min_s_{w}x{h}']:.2f}–{r[f'synthesis_max_s_{w}x{h}']:.2f}]",
                      f"{base[f'synthesis_s_{w}x{h}'] / s:.2f}× faster", f"{r[f'decode_s_{w}x{h}']:.2f}"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
