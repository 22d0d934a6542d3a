"""The timer's own cost, and how repeatable gcbench's timing medians are, in one command.

1. Overhead: a JPEG encode of a Kodak image (quality 75) in a bare loop (one clock read
   around the whole loop) against the same calls each wrapped in gcbench's measured call
   (perf_counter_ns at both ends, garbage collector paused, stage recorder active). Blocks of
   both alternate so drift hits them alike. Printed: per-call times, their ratio
   (timed / bare), and the absolute overhead per call measured on a no-op, as a fraction of
   the JPEG encode.
2. Repeatability: ``gcbench.timing.run_timing`` run K times on the same images (each run a
   fresh codec, W warm-up and R timed repeats); printed: each run's median encode and decode
   per image and the spread (max - min) / median of those medians.

    python benchmarks/timer_overhead.py [--kodak DIR] [--images 4] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def per_call_ns(fn, n: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - t0) / n


def timed_per_call_ns(fn, n: int, clock) -> float:
    from gcbench.timing import timed_call

    t0 = time.perf_counter_ns()
    for _ in range(n):
        timed_call(clock, fn)
    return (time.perf_counter_ns() - t0) / n


def alternate(fn, n: int, blocks: int, clock) -> tuple[float, float]:
    """Median per-call ns of (bare, timed) over alternating blocks."""
    bare, timed = [], []
    for _ in range(blocks):
        bare.append(per_call_ns(fn, n))
        timed.append(timed_per_call_ns(fn, n, clock))
    return statistics.median(bare), statistics.median(timed)


def overhead(kodak: Path, blocks: int) -> None:
    from gcbench.data.images import load_image
    from gcbench.codecs.registry import get_codec
    from gcbench.timing import CpuClock, fixed_threads

    image = load_image(kodak / "kodim01.png").array
    codec = get_codec("jpeg")
    clock = CpuClock()
    with fixed_threads(1):
        for _ in range(5):
            codec.encode(image, 75)  # warm-up
        enc_bare, enc_timed = alternate(lambda: codec.encode(image, 75), 20, blocks, clock)
        noop_bare, noop_timed = alternate(lambda: None, 20000, blocks, clock)
        # what the clock itself reports for an empty call: the bias inside the timed window
        from gcbench.timing import timed_call

        in_window = statistics.median(timed_call(clock, lambda: None)[1].seconds * 1e9 for _ in range(20000))
    per_call = noop_timed - noop_bare
    print(f"JPEG q75 encode of kodim01 ({image.shape[1]}x{image.shape[0]}), 1 thread, {blocks} alternating blocks:")
    print(f"  bare loop          {enc_bare / 1e6:9.3f} ms per call")
    print(f"  gcbench timed call {enc_timed / 1e6:9.3f} ms per call")
    print(f"  ratio timed / bare {enc_timed / enc_bare:9.4f}")
    print(f"no-op call: bare {noop_bare:.0f} ns, timed {noop_timed:.0f} ns -> {per_call:.0f} ns of bookkeeping per "
          f"measured call ({100 * per_call / enc_bare:.4f} % of the JPEG encode), outside the timed window")
    print(f"  reported time of a no-op call (bias inside the window): median {in_window:.0f} ns "
          f"= {in_window / enc_bare:.2e} of the JPEG encode ({100 * in_window / enc_bare:.5f} %)")


def repeatability(kodak: Path, n_images: int, runs: int, warmup: int, repeats: int) -> None:
    import shutil

    from gcbench.timing import TimingConfig, run_timing

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        for p in sorted(kodak.glob("kodim*.png"))[:n_images]:
            shutil.copy(p, folder / p.name)
        medians = {"encode": [], "decode": []}
        for k in range(runs):
            report = run_timing(TimingConfig(codecs=["jpeg@75"], dataset=str(folder), out=Path(tmp) / f"run{k}",
                                             hardware_name="this", warmup=warmup, repeats=repeats, threads=1,
                                             progress=False, write_outputs=False))
            row = report.summary.iloc[0]
            for d in medians:
                medians[d].append(row[f"{d}_ms_median"])
            print(f"  run {k + 1}: encode {row['encode_ms_median']:.3f} ms [IQR {row['encode_ms_iqr']:.3f}], "
                  f"decode {row['decode_ms_median']:.3f} ms [IQR {row['decode_ms_iqr']:.3f}]")
    for d, values in medians.items():
        mid = statistics.median(values)
        print(f"{d}: medians of {runs} runs {min(values):.3f}..{max(values):.3f} ms, "
              f"spread (max-min)/median = {100 * (max(values) - min(values)) / mid:.2f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kodak", type=Path, default=None, help="default: gcbench's kodak dataset")
    parser.add_argument("--blocks", type=int, default=9, help="alternating blocks for the overhead (default 9)")
    parser.add_argument("--images", type=int, default=4, help="Kodak images for the repeatability runs")
    parser.add_argument("--runs", type=int, default=5, help="repeated timing runs (default 5)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    from gcbench.data.datasets import load_dataset  # $GCBENCH_DATA/kodak, the cache, or a verified download

    args.kodak = args.kodak or load_dataset("kodak").root
    # other processes on the machine are the main source of spread: say how busy it was
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} logical cores")
    overhead(args.kodak, args.blocks)
    print(f"\nrepeatability: {args.runs} runs of gcbench timing, jpeg@75, {args.images} Kodak images, "
          f"W={args.warmup}, R={args.repeats}, 1 thread")
    repeatability(args.kodak, args.images, args.runs, args.warmup, args.repeats)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
