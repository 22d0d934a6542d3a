"""What running a codec as a program costs against calling the same library in-process.

For each format that gcbench can run both ways (same library, same setting), time encode and
decode of one Kodak image through the command-line spec and through the in-process spec, and
print the ratio (command line / in-process), with each program's start-up time (its version
probe, ``ExternalCodec.startup_seconds``), which every encode and decode pays once.

    python benchmarks/cli_codecs.py [--image PATH] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from gcbench.codecs.registry import get_codec

# (command-line spec, in-process spec, setting): same library and setting on both sides
PAIRS = [
    ("cwebp", "webp", 50),
    ("cjxl", "jpegxl", 2.5),
    ("opj", "jpeg2000", 48),
    ("heif-enc", "heic444", 50),
]


def _median_times(codec, image: np.ndarray, setting, repeats: int) -> tuple[float, float, int]:
    codec.prepare()
    enc_t, dec_t, size = [], [], 0
    for _ in range(repeats + 1):  # the first run warms caches and is dropped
        t0 = time.perf_counter()
        out = codec.encode(image, setting)
        t1 = time.perf_counter()
        data = out if isinstance(out, bytes) else out.data
        codec.decode(data, image.shape[:2])
        t2 = time.perf_counter()
        enc_t.append(t1 - t0)
        dec_t.append(t2 - t1)
        size = len(data)
    return statistics.median(enc_t[1:]), statistics.median(dec_t[1:]), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", type=Path, default=None, help="default: kodim20.png of gcbench's kodak dataset")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from gcbench.data.datasets import load_dataset  # $GCBENCH_DATA/kodak, the cache, or a verified download

    args.image = args.image or load_dataset("kodak").root / "kodim20.png"
    image = np.asarray(Image.open(args.image).convert("RGB"))
    print(f"image {args.image.name} {image.shape[1]}×{image.shape[0]}, median of {args.repeats} runs after one warm-up")
    print(f"{'command line':14s} {'in-process':10s} {'enc cli s':>9s} {'enc lib s':>9s} {'ratio':>6s} "
          f"{'dec cli s':>9s} {'dec lib s':>9s} {'ratio':>6s}  bytes cli/lib   start-up per program")
    for cli_name, lib_name, setting in PAIRS:
        cli, lib = get_codec(cli_name), get_codec(lib_name)
        ce, cd, cs = _median_times(cli, image, setting, args.repeats)
        le, ld, ls = _median_times(lib, image, setting, args.repeats)
        startup = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in cli.startup_seconds(args.repeats).items())
        print(f"{cli_name:14s} {lib_name:10s} {ce:9.3f} {le:9.3f} {ce / le:6.2f} {cd:9.3f} {ld:9.3f} {cd / ld:6.2f}"
              f"  {cs}/{ls}   {startup}")


if __name__ == "__main__":
    main()
