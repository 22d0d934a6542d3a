"""Timing on named hardware: what one encode and one decode cost, measured so people can trust it.

What a timing row means (``gcbench timing``):

- The clock is ``time.perf_counter_ns`` around exactly one ``codec.encode`` or ``codec.decode``
  call on an image already in memory: image loading, format conversion and bitstream checks
  happen outside the timed window (I/O excluded). Python's garbage collector is paused during
  the call, as ``timeit`` does.
- On CUDA the device is synchronised before the clock starts (work queued earlier is not
  charged to this call) and again before it stops (kernels the call launched are counted), and
  CUDA events recorded around the call give the GPU-side time as well (``*_gpu_s``).
  ``sync=False`` exists only to show what unsynchronised timing reports.
- For every (codec, setting, image): W warm-up encode+decode runs that are not recorded, then R
  timed repeats. Tables show the median and inter-quartile range over all images × repeats, per
  image and per megapixel.
- Threads are fixed for the whole measurement and recorded on every row: torch intra-/inter-op,
  the OpenMP/BLAS variables, and the codec library's own thread option when the codec has one.
- Command-line codecs pay one process start-up per call; it is measured once apart (a codec's
  ``startup_probe()``, timed here, or its ``startup_seconds()``) and reported in its own column.
- Learned codecs that wrap their steps in ``gcbench.stages.stage`` get one column per stage.
- Every row carries the hardware fingerprint (``hw_*`` columns) with the user's name for the
  machine, so timings from several machines merge into one table with a column group each.

Output folder: ``timing_samples.csv`` (one row per timed repeat), ``timing_summary.csv``,
``timing.json`` (fingerprint, configuration, start-up and errors), the paper-shaped table as
``timing_table.{md,tex,csv}`` and the bar chart ``timing.{png,svg}``. ``load_timing(dir)`` gives
the report the same numbers as a DataFrame.
"""

from __future__ import annotations

import gc
import json
import math
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import CodecError, ConfigError, GcbenchError, ImageLoadError, UnavailableError
from .stages import record_stages

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from .codecs.spec import CodecSpec

SAMPLES_FILE = "timing_samples.csv"
SUMMARY_FILE = "timing_summary.csv"
META_FILE = "timing.json"
TABLE_STEM = "timing_table"
CHART_STEM = "timing"

#: spec options through which a codec library takes its own thread count
THREAD_OPTIONS = ("numthreads", "num_threads", "threads")
DIRECTIONS = ("encode", "decode")


# ---------------------------------------------------------------------------------------------
# Clocks
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timed:
    seconds: float  # wall time of the call
    gpu_seconds: float | None = None  # CUDA events around the call, where recorded


class Clock(Protocol):
    name: str

    def time(self, fn: Callable[[], Any]) -> tuple[Any, Timed]: ...


class CpuClock:
    """``perf_counter_ns`` read immediately before and after the call."""

    name = "cpu perf_counter_ns"

    def time(self, fn: Callable[[], Any]) -> tuple[Any, Timed]:
        t0 = time.perf_counter_ns()
        out = fn()
        t1 = time.perf_counter_ns()
        return out, Timed((t1 - t0) * 1e-9)


class CudaBackend(Protocol):
    """The four CUDA operations a clock needs (torch.cuda in practice; a simulation in tests)."""

    def synchronize(self) -> None: ...

    def event(self) -> Any: ...

    def record(self, event: Any) -> None: ...

    def elapsed_s(self, start: Any, end: Any) -> float: ...


class TorchCudaBackend:
    """torch.cuda on one device: device-wide synchronisation and timing events on its current stream."""

    def __init__(self, device: str = "cuda") -> None:
        try:
            import torch
        except ImportError as exc:
            raise UnavailableError("timing on CUDA needs torch with CUDA: pip install torch") from exc
        if not torch.cuda.is_available():
            raise UnavailableError(
                f"CUDA is not available here (torch {torch.__version__}, torch.cuda.is_available() is False); "
                "time with --device cpu, or on a machine with an NVIDIA GPU and a CUDA build of torch")
        self.torch = torch
        self.device = torch.device(device)

    def synchronize(self) -> None:
        # Device-wide: also waits for streams other than the current one that the codec may use.
        self.torch.cuda.synchronize(self.device)

    def event(self) -> Any:
        return self.torch.cuda.Event(enable_timing=True)

    def record(self, event: Any) -> None:
        event.record(self.torch.cuda.current_stream(self.device))

    def elapsed_s(self, start: Any, end: Any) -> float:
        end.synchronize()  # elapsed_time is only defined once the end event has completed
        return float(start.elapsed_time(end)) / 1e3


class CudaClock:
    """Wall time of a call with the device synchronised at both ends, plus CUDA-event time.

    Order: synchronise (earlier queued work is not ours) → record start event → read clock →
    call → record end event → synchronise (our kernels are done) → read clock.
    With ``sync=False`` neither synchronisation happens and no events are recorded: the wall
    time then stops when the Python call returns, not when the GPU finishes, which is the error
    this class exists to avoid (kept to demonstrate it).
    """

    def __init__(self, backend: CudaBackend, *, sync: bool = True, events: bool = True) -> None:
        self.backend = backend
        self.sync = sync
        self.events = events and sync
        self.name = "cuda synchronised perf_counter_ns + events" if sync else "cuda UNSYNCHRONISED perf_counter_ns"

    def time(self, fn: Callable[[], Any]) -> tuple[Any, Timed]:
        b = self.backend
        if self.sync:
            b.synchronize()
        start = end = None
        if self.events:
            start, end = b.event(), b.event()
            b.record(start)
        t0 = time.perf_counter_ns()
        out = fn()
        if self.events:
            b.record(end)
        if self.sync:
            b.synchronize()
        t1 = time.perf_counter_ns()
        gpu = b.elapsed_s(start, end) if self.events else None
        return out, Timed((t1 - t0) * 1e-9, gpu)


def check_device(device: str) -> str:
    text = str(device).strip().lower()
    if text == "cpu" or re.fullmatch(r"cuda(:\d+)?", text):
        return text
    raise ConfigError(f"--device must be cpu, cuda or cuda:N, got {device!r}")


def make_clock(device: str, *, sync: bool = True, backend: CudaBackend | None = None) -> Clock:
    """The clock for a codec that runs on ``device``."""
    device = check_device(device)
    if device == "cpu":
        return CpuClock()
    return CudaClock(backend if backend is not None else TorchCudaBackend(device), sync=sync)


def timed_call(clock: Clock, fn: Callable[[], Any], *, stages: bool = True) -> tuple[Any, Timed, dict[str, float]]:
    """One measured call: garbage collection paused, stage times collected when ``stages``.

    Only ``fn()`` lies between the two clock reads; pausing the collector and setting up the
    stage recorder happen outside them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        if not stages:
            out, t = clock.time(fn)
            return out, t, {}
        with record_stages() as recorded:
            out, t = clock.time(fn)
        return out, t, dict(recorded)
    finally:
        if was_enabled:
            gc.enable()


# ---------------------------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------------------------

@contextmanager
def fixed_threads(threads: int) -> Iterator[dict[str, Any]]:
    """Fix torch intra-/inter-op threads and the OpenMP/BLAS variables; restore them afterwards.

    torch allows the inter-op count to be set once per process, so it is recorded as it
    really is (``torch_inter_op``) rather than as asked.
    """
    from .worker import _THREAD_VARS, pin_threads

    if not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"--threads must be a positive integer, got {threads!r}")
    saved_env = {var: os.environ.get(var) for var in _THREAD_VARS}
    try:
        import torch
    except ImportError:
        torch = None
    saved_intra = torch.get_num_threads() if torch is not None else None
    info = pin_threads(threads)
    info["omp_num_threads"] = os.environ.get("OMP_NUM_THREADS")
    info["thread_env"] = {var: os.environ.get(var) for var in _THREAD_VARS}
    try:
        yield info
    finally:
        for var, value in saved_env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        if torch is not None and saved_intra:
            torch.set_num_threads(saved_intra)


# ---------------------------------------------------------------------------------------------
# Codecs under measurement
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Startup:
    """Process start-up of a command-line codec, measured apart from its encode and decode."""

    seconds: float | None = None  # median over the timed probes (all programs pooled)
    iqr_s: float | None = None
    via: str = ""  # how it was measured; empty for an in-process codec
    programs: dict[str, float] = field(default_factory=dict)  # median per program, where the codec names them


@dataclass
class TimedCodec:
    """A codec built for timing, with how its threads and device were fixed."""

    name: str
    spec: CodecSpec
    codec: Any
    settings: tuple[Any, ...]
    versions: dict[str, str]
    device: str  # where the codec runs: the requested device if it takes one, else cpu
    codec_threads: int | None = None
    codec_threads_via: str = "not exposed by the codec"
    prepare_s: float = float("nan")
    startup: Startup = field(default_factory=Startup)
    random_weights: bool = False


def build_for_timing(spec: CodecSpec, settings: Sequence[Any], *, threads: int, device: str,
                     random_weights: bool = False) -> TimedCodec:
    """Build a codec with its library threads and its device fixed through its spec options.

    A codec takes the device when its spec has a ``device`` option or its class declares
    ``accepts_device = True``; otherwise it runs on the CPU whatever ``device`` says. Its own
    thread count goes through a thread option of its spec (``numthreads`` …) or a
    ``set_threads(n)`` method. ``random_weights`` (timing an untrained architecture) reaches
    only codecs whose class declares ``accepts_random_weights``; the rows record it.
    """
    from .codecs.spec import adapter_class

    cls = adapter_class(spec)
    overrides: dict[str, Any] = {}
    thread_key = next((k for k in THREAD_OPTIONS if k in spec.options), None)
    if thread_key is not None:
        overrides[thread_key] = threads
    takes_device = "device" in spec.options or bool(getattr(cls, "accepts_device", False))
    if takes_device:
        overrides["device"] = device
    if random_weights and getattr(cls, "accepts_random_weights", False):
        overrides["random_weights"] = True
    if overrides:
        spec = spec.with_options(**overrides)
    codec = cls(spec)
    avail = codec.available()
    if not avail:
        raise UnavailableError(f"codec {spec.name!r} cannot run here: {avail.reason}"
                               + (f". To fix: {avail.hint}" if avail.hint else ""))
    tc = TimedCodec(name=spec.name, spec=spec, codec=codec, settings=tuple(settings),
                    versions={str(k): str(v) for k, v in codec.versions().items()},
                    device=device if takes_device else "cpu",
                    random_weights=bool(spec.options.get("random_weights", False)))
    if thread_key is not None:
        tc.codec_threads, tc.codec_threads_via = threads, f"spec option {thread_key}"
    setter = getattr(codec, "set_threads", None)
    if callable(setter):
        got = setter(threads)
        tc.codec_threads = int(got) if isinstance(got, int) else threads
        tc.codec_threads_via = "set_threads()"
    return tc


def measure_startup(codec: Any, repeats: int = 5, warmup: int = 1) -> Startup:
    """Start-up of a codec's programs, or an empty ``Startup`` for an in-process codec.

    ``startup_probe()`` (a trivial call of the codec's program) is timed here;
    ``startup_seconds()`` is measured by the codec itself and returns seconds, or seconds per
    program (``{"cwebp": …, "dwebp": …}``). Either runs ``warmup`` times untimed first, so the
    program is in the page cache as it is for a real call.
    """
    clock = CpuClock()
    probe = getattr(codec, "startup_probe", None)
    reported = getattr(codec, "startup_seconds", None)
    per_program: dict[str, list[float]] = {}
    if callable(probe):
        for _ in range(warmup):
            probe()
        values = [timed_call(clock, probe, stages=False)[1].seconds for _ in range(repeats)]
        via = "startup_probe() timed by gcbench"
    elif callable(reported):
        for _ in range(warmup):
            reported()
        values = []
        for _ in range(repeats):
            got = reported()
            items = got.items() if isinstance(got, dict) else [("", got)]
            for program, seconds in items:
                values.append(float(seconds))
                if program:
                    per_program.setdefault(str(program), []).append(float(seconds))
        via = "startup_seconds() reported by the codec"
    else:
        return Startup()
    if not values:
        return Startup()
    q1, _, q3 = _quartiles(values)
    return Startup(statistics.median(values), q3 - q1, via,
                   {k: statistics.median(v) for k, v in sorted(per_program.items())})


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    import numpy as np

    q = np.quantile(np.asarray(values, dtype=float), [0.25, 0.5, 0.75])
    return float(q[0]), float(q[1]), float(q[2])


# ---------------------------------------------------------------------------------------------
# Measuring one (codec, setting, image)
# ---------------------------------------------------------------------------------------------

@dataclass
class Sample:
    repeat: int
    encode: Timed
    decode: Timed
    encode_stages: dict[str, float]
    decode_stages: dict[str, float]


@dataclass
class CellResult:
    samples: list[Sample]
    n_bytes: int
    bits_estimate: float | None
    info: dict[str, Any] = field(default_factory=dict)


def measure_cell(codec: Any, image: np.ndarray, setting: Any, clock: Clock, *, warmup: int, repeats: int,
                 stages: bool = True) -> CellResult:
    """W untimed encode+decode runs, then R timed ones; the first timed decode is checked."""
    from .codecs.base import Encoded, as_rgb_uint8

    size = (int(image.shape[0]), int(image.shape[1]))
    for _ in range(warmup):
        out = codec.encode(image, setting)
        codec.decode(bytes(out.data if isinstance(out, Encoded) else out), size)
    samples: list[Sample] = []
    n_bytes, bits_estimate, info = 0, None, {}
    for r in range(repeats):
        out, enc, enc_stages = timed_call(clock, lambda: codec.encode(image, setting), stages=stages)
        encoded = out if isinstance(out, Encoded) else Encoded(bytes(out))
        data = bytes(encoded.data)
        if not data:
            raise CodecError("encoder produced no bytes")
        recon, dec, dec_stages = timed_call(clock, lambda data=data: codec.decode(data, size), stages=stages)
        if r == 0:
            recon = as_rgb_uint8(recon)
            if recon.shape != image.shape:
                raise CodecError(f"decoded image is {recon.shape[1]}×{recon.shape[0]}, original is {size[1]}×{size[0]}")
            n_bytes, bits_estimate, info = len(data), encoded.bits_estimate, dict(encoded.info)
        samples.append(Sample(r, enc, dec, enc_stages, dec_stages))
    return CellResult(samples, n_bytes, bits_estimate, info)


# ---------------------------------------------------------------------------------------------
# A timing run
# ---------------------------------------------------------------------------------------------

@dataclass
class TimingConfig:
    codecs: list[Any]  # "name", "name@50,75", or a CodecSpec (timed at its own settings)
    dataset: str
    out: str | Path
    hardware_name: str | None = None
    device: str = "cpu"
    warmup: int = 2
    repeats: int = 10
    threads: int = 1
    data_root: str | None = None
    max_images: int | None = None
    codec_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    sync: bool = True  # CUDA only; False reproduces the unsynchronised error on purpose
    random_weights: bool = False  # untrained architectures (adapters that accept it), recorded on every row
    stages: bool = True
    startup_repeats: int = 10
    progress: bool = True
    write_outputs: bool = True
    argv: list[str] | None = None
    cuda_backend: Any = None  # a CudaBackend to use instead of torch.cuda (tests, other runtimes)


@dataclass
class TimingReport:
    out: Path
    n_samples: int
    errors: list[dict[str, str]]
    seconds: float
    summary: Any = None  # pandas DataFrame
    outputs: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def text(self) -> str:
        lines = [f"{self.n_samples} timed repeats written to {self.out} ({self.seconds:.1f} s); "
                 f"{len(self.errors)} failures"]
        lines += [f"  note: {n}" for n in self.notes]
        for e in self.errors:
            lines.append(f"  failed: {e.get('codec', '')} {e.get('setting', '')} {e.get('image', '')}: {e['error']}")
        for p in self.outputs:
            lines.append(f"  wrote {p}")
        return "\n".join(lines)


def _codec_plans(entries: list[Any], overrides: dict[str, dict[str, Any]]) -> list[tuple[CodecSpec, tuple[Any, ...]]]:
    from .codecs.spec import CodecSpec
    from .registry import codecs as codec_registry
    from .settings import split_codec_arg

    if not entries:
        raise ConfigError("no codec given (use --codec NAME; `gcbench ls codecs` lists them)")
    plans, seen = [], set()
    for entry in entries:
        if isinstance(entry, CodecSpec):
            spec, settings = entry, tuple(entry.settings)
        else:
            name, chosen = split_codec_arg(str(entry))
            spec = codec_registry.get(name)
            settings = tuple(chosen) if chosen is not None else tuple(spec.settings)
        if spec.name in seen:
            raise ConfigError(f"codec {spec.name!r} is given twice; list its settings once: {spec.name}@a,b,c")
        seen.add(spec.name)
        if spec.name in overrides:
            spec = spec.with_options(**overrides[spec.name])
        plans.append((spec, settings))
    return plans


def _stage_key(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").lower() or "stage"


def run_timing(config: TimingConfig) -> TimingReport:
    """Time every (codec, setting) on the dataset; write samples, summary, table and chart to ``out``."""
    from tqdm import tqdm

    from .datasets import load_dataset
    from .hardware import fingerprint, flat_fingerprint
    from .images import load_image
    from .settings import format_setting, numeric_value

    t_start = time.perf_counter()
    device = check_device(config.device)
    if not isinstance(config.warmup, int) or config.warmup < 0:
        raise ConfigError(f"--warmup must be 0 or more, got {config.warmup!r}")
    if not isinstance(config.repeats, int) or config.repeats < 1:
        raise ConfigError(f"--repeats must be at least 1, got {config.repeats!r}")
    plans = _codec_plans(list(config.codecs), config.codec_options)
    dataset = load_dataset(config.dataset, config.data_root)
    refs = dataset.images[: config.max_images] if config.max_images else dataset.images
    errors: list[dict[str, str]] = []
    images = []
    for ref in refs:  # loaded before any clock runs: I/O is not part of a codec's time
        try:
            images.append((ref.name, load_image(ref.path).array))
        except ImageLoadError as exc:
            errors.append({"image": ref.name, "error": str(exc)})
    if not images:
        raise GcbenchError(f"dataset {dataset.name!r}: no readable image to time")
    out = Path(config.out)
    rows: list[dict[str, Any]] = []
    codec_meta: dict[str, Any] = {}
    with fixed_threads(config.threads) as threads:
        timed_codecs = [build_for_timing(spec, settings, threads=config.threads, device=device,
                                         random_weights=config.random_weights) for spec, settings in plans]
        fp = fingerprint(config.hardware_name, probe_gpu=device != "cpu")
        previous = _check_folder(out, flat_fingerprint(fp), threads, device)
        n_cells = sum(len(tc.settings) for tc in timed_codecs) * len(images)
        with tqdm(total=n_cells, disable=not config.progress, unit="cell", file=sys.stderr,
                  mininterval=0.5, dynamic_ncols=True) as bar:
            for tc in timed_codecs:
                bar.set_description(tc.name)
                t0 = time.perf_counter()
                try:
                    tc.codec.prepare()
                except Exception as exc:  # noqa: BLE001 - one codec's failure must not stop the others
                    errors.append({"codec": tc.name, "error": f"prepare failed: {exc}"})
                    bar.update(len(tc.settings) * len(images))
                    continue
                tc.prepare_s = time.perf_counter() - t0
                tc.startup = measure_startup(tc.codec, config.startup_repeats, max(1, config.warmup))
                clock = make_clock(tc.device, sync=config.sync, backend=config.cuda_backend)
                codec_meta[tc.name] = {
                    "spec": tc.spec.to_dict(), "settings": [format_setting(s) for s in tc.settings],
                    "versions": tc.versions, "device": tc.device, "timer": clock.name,
                    "codec_threads": tc.codec_threads, "codec_threads_via": tc.codec_threads_via,
                    "prepare_s": tc.prepare_s, "startup": {"seconds": tc.startup.seconds, "iqr_s": tc.startup.iqr_s,
                                                           "via": tc.startup.via, "programs": tc.startup.programs},
                    "random_weights": tc.random_weights,
                }
                hw = flat_fingerprint({**fp, "libraries": tc.versions})
                for setting in tc.settings:
                    for image_name, array in images:
                        try:
                            cell = measure_cell(tc.codec, array, setting, clock, warmup=config.warmup,
                                                repeats=config.repeats, stages=config.stages)
                        except Exception as exc:  # noqa: BLE001
                            errors.append({"codec": tc.name, "setting": format_setting(setting), "image": image_name,
                                           "error": f"{type(exc).__name__}: {exc}"})
                            bar.update(1)
                            continue
                        base = {
                            **hw, "dataset": dataset.name, "codec": tc.name, "setting": format_setting(setting),
                            "setting_value": numeric_value(setting), "rate_param": tc.spec.rate_param,
                            "image": image_name, "height": array.shape[0], "width": array.shape[1],
                            "megapixels": array.shape[0] * array.shape[1] / 1e6,
                        }
                        rows.extend(_sample_rows(base, cell, tc, clock, config, threads, device))
                        bar.update(1)
    import pandas as pd

    new = pd.DataFrame.from_records(rows)
    samples = _combine(previous, new)
    if not samples.empty:  # nothing timed (every cell failed) leaves no empty table behind
        _write_samples(out, samples)
    _write_meta(out, fp, config, threads, codec_meta, errors)
    summary = summarise(samples) if not samples.empty else None
    report = TimingReport(out, len(new), errors, time.perf_counter() - t_start, summary)
    report.notes = [f"codec {tc.name!r} runs on the CPU: its adapter takes no device (rows say codec_device=cpu)"
                    for tc in timed_codecs if tc.device != device]
    if config.write_outputs and summary is not None and not summary.empty:
        report.outputs = write_exports(summary, out)
    return report


def _sample_rows(base: dict[str, Any], cell: CellResult, tc: TimedCodec, clock: Clock, config: TimingConfig,
                 threads: dict[str, Any], device: str) -> Iterator[dict[str, Any]]:
    pixels = base["height"] * base["width"]
    if cell.bits_estimate is not None:
        bpp, bpp_kind = float(cell.bits_estimate) / pixels, "estimated"
    else:
        bpp, bpp_kind = 8.0 * cell.n_bytes / pixels, "exact"
    for s in cell.samples:
        row = dict(base)
        row.update({
            "repeat": s.repeat, "n_bytes": cell.n_bytes, "bpp": bpp, "bpp_kind": bpp_kind,
            "encode_s": s.encode.seconds, "decode_s": s.decode.seconds,
            "encode_gpu_s": s.encode.gpu_seconds, "decode_gpu_s": s.decode.gpu_seconds,
        })
        for direction, stages in (("encode", s.encode_stages), ("decode", s.decode_stages)):
            for name, seconds in stages.items():
                row[f"{direction}_stage_{_stage_key(name)}_s"] = seconds
        row.update({
            "timing_kind": "repeated", "timer": clock.name, "device": device, "codec_device": tc.device,
            "warmup": config.warmup, "repeats": config.repeats, "threads": threads.get("threads"),
            "torch_intra_op": threads.get("torch_intra_op"), "torch_inter_op": threads.get("torch_inter_op"),
            "omp_num_threads": threads.get("omp_num_threads"), "codec_threads": tc.codec_threads,
            "codec_threads_via": tc.codec_threads_via, "startup_s": tc.startup.seconds,
            "startup_iqr_s": tc.startup.iqr_s, "startup_via": tc.startup.via,
            "startup_programs": json.dumps(tc.startup.programs, sort_keys=True) if tc.startup.programs else "",
            "includes_startup": tc.startup.seconds is not None, "random_weights": tc.random_weights,
            "prepare_s": tc.prepare_s, "codec_versions": json.dumps(tc.versions, sort_keys=True),
        })
        yield row


# ---------------------------------------------------------------------------------------------
# The output folder
# ---------------------------------------------------------------------------------------------

def _check_folder(out: Path, hw: dict[str, Any], threads: dict[str, Any], device: str) -> pd.DataFrame | None:
    """Earlier samples in ``out``, refused when they were measured under other conditions.

    One folder holds one machine's timings: new rows replace those of the same (dataset,
    codec, setting) and join the others only if the machine, versions, threads and device match.
    """
    path = out / SAMPLES_FILE
    if not path.is_file():
        return None
    old = load_samples(out)
    if old.empty:
        return None
    first = old.iloc[0]
    checks = {
        "machine name": (str(first["hw_name"]), str(hw["hw_name"])),
        "hardware/versions fingerprint": (str(first["hw_id"]), str(hw["hw_id"])),
        "threads": (str(first["threads"]), str(threads.get("threads"))),
        "device": (str(first["device"]), device),
    }
    differ = [f"{what} {a!r} there, {b!r} now" for what, (a, b) in checks.items() if a != b]
    if differ:
        raise ConfigError(f"{out} already holds timings made under other conditions ({'; '.join(differ)}); "
                          "give another --out (merge the folders afterwards with `gcbench timing merge`)")
    return old


def _combine(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    if old is None or old.empty:
        return new
    if new.empty:
        return old
    keys = ["dataset", "codec", "setting"]
    redone = set(map(tuple, new[keys].astype(str).itertuples(index=False, name=None)))
    keep = ~old[keys].astype(str).apply(tuple, axis=1).isin(redone)
    return pd.concat([old[keep], new], ignore_index=True, sort=False)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _write_samples(out: Path, samples: pd.DataFrame) -> None:
    _atomic_write(out / SAMPLES_FILE, samples.to_csv(index=False))


def _write_meta(out: Path, fp: dict[str, Any], config: TimingConfig, threads: dict[str, Any],
                codecs: dict[str, Any], errors: list[dict[str, str]]) -> None:
    path = out / META_FILE
    meta: dict[str, Any] = {"hardware": fp, "runs": []}
    if path.is_file():
        try:
            meta["runs"] = json.loads(path.read_text(encoding="utf-8")).get("runs", [])
        except (OSError, json.JSONDecodeError):
            pass
    # not asdict(): that deep-copies the CUDA backend (locks, streams) and the codec specs
    cfg = {f.name: getattr(config, f.name) for f in fields(config) if f.name not in ("cuda_backend", "codecs")}
    cfg["codecs"] = [c if isinstance(c, str) else getattr(c, "name", str(c)) for c in config.codecs]
    cfg["out"] = str(config.out)
    meta["runs"].append({"finished": time.time(), "argv": config.argv, "config": cfg, "threads": threads,
                         "codecs": codecs, "errors": errors})
    _atomic_write(path, json.dumps(meta, indent=1, sort_keys=True, default=str))


def load_samples(source: str | Path) -> pd.DataFrame:
    """Every timed repeat in a timing folder (one row each, hardware fingerprint on every row)."""
    import pandas as pd

    path = Path(source) / SAMPLES_FILE
    if not path.is_file():
        raise GcbenchError(f"{source}: no timing results here (no {SAMPLES_FILE}); "
                           f"run `gcbench timing … --out {source}` first")
    text_cols = {"setting", "image", "codec", "dataset", "omp_num_threads", "codec_threads_via", "startup_via",
                 "startup_programs",
                 "hw_name", "hw_id", "hw_cpu_model", "hw_gpu", "hw_gpu_driver", "hw_cuda", "hw_torch", "hw_gcbench",
                 "hw_python", "hw_platform", "hw_hostname", "hw_versions", "hw_libraries"}
    df = pd.read_csv(path, dtype={c: str for c in text_cols})
    for c in text_cols & set(df.columns):
        df[c] = df[c].fillna("")  # CSV cannot tell an empty text from a missing one; empty is what was written
    return df


def load_timing(source: str | Path) -> pd.DataFrame:
    """The summary of a timing folder: one row per (machine, dataset, codec, setting).

    The numbers the table, the chart and the report show: ``encode_ms_median``,
    ``encode_ms_iqr``, ``encode_ms_per_mp_median`` …, stage columns, start-up, threads and
    the ``hw_*`` fingerprint.
    """
    return summarise(load_samples(source))


# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------

GROUP = ["hw_name", "dataset", "codec", "setting"]
_CARRY = ["setting_value", "rate_param", "bpp_kind", "timing_kind", "timer", "device", "codec_device", "warmup",
          "repeats", "threads", "torch_intra_op", "torch_inter_op", "omp_num_threads", "codec_threads",
          "codec_threads_via", "startup_via", "startup_programs", "includes_startup", "random_weights",
          "codec_versions"]


def _stats(values: Any, prefix: str, scale: float = 1e3) -> dict[str, float]:
    import numpy as np

    v = np.asarray(values, dtype=float) * scale
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {}
    q1, med, q3 = (float(x) for x in np.quantile(v, [0.25, 0.5, 0.75]))
    return {f"{prefix}_median": med, f"{prefix}_q25": q1, f"{prefix}_q75": q3, f"{prefix}_iqr": q3 - q1}


def stage_names(df: pd.DataFrame, direction: str) -> list[str]:
    """Stage keys recorded for ``direction``, in the order their columns appear."""
    pat = re.compile(rf"^{direction}_stage_(.+)_s$")
    return [m.group(1) for c in df.columns if (m := pat.match(c))]


def summarise(samples: pd.DataFrame) -> pd.DataFrame:
    """Median and IQR per (machine, dataset, codec, setting) over all images × repeats.

    Times in milliseconds, per image and per megapixel; ``*_repeat_spread`` is the median over
    images of (IQR / median) across one image's repeats: how much the clock itself wobbles.
    """
    import numpy as np
    import pandas as pd

    from .views import sort_rows

    hw_cols = [c for c in samples.columns if c.startswith("hw_")]
    out = []
    for key, g in samples.groupby(GROUP, sort=False, dropna=False):
        row: dict[str, Any] = dict(zip(GROUP, key, strict=True))
        first = g.iloc[0]
        for c in hw_cols:
            row[c] = first[c]
        for c in _CARRY:
            if c in g.columns:
                row[c] = first[c]
        per_image = g.drop_duplicates("image")
        row["n_images"] = int(per_image.shape[0])
        row["n_samples"] = int(g.shape[0])
        row["bpp"] = float(per_image["bpp"].mean())
        row["megapixels"] = float(per_image["megapixels"].mean())
        for d in DIRECTIONS:
            row.update(_stats(g[f"{d}_s"], f"{d}_ms"))
            row.update(_stats(g[f"{d}_s"] / g["megapixels"], f"{d}_ms_per_mp"))
            spreads = []
            for _, gi in g.groupby("image", sort=False):
                q1, med, q3 = np.quantile(gi[f"{d}_s"].to_numpy(dtype=float), [0.25, 0.5, 0.75])
                if med > 0:
                    spreads.append((q3 - q1) / med)
            row[f"{d}_repeat_spread"] = float(np.median(spreads)) if spreads else float("nan")
            gpu = f"{d}_gpu_s"
            if gpu in g.columns and g[gpu].notna().any():
                row.update(_stats(g[gpu], f"{d}_gpu_ms"))
            for name in stage_names(g, d):
                col = f"{d}_stage_{name}_s"
                if g[col].notna().any():
                    row.update(_stats(g[col], f"{d}_stage_{name}_ms"))
        if "startup_s" in g.columns and pd.notna(first.get("startup_s")):
            row["startup_ms_median"] = float(first["startup_s"]) * 1e3
            row["startup_ms_iqr"] = float(first["startup_iqr_s"]) * 1e3 if pd.notna(first.get("startup_iqr_s")) else 0.0
        if "prepare_s" in g.columns:
            row["prepare_s"] = float(first["prepare_s"])
        out.append(row)
    df = pd.DataFrame(out)
    if df.empty:
        return df
    return sort_rows(df, ["hw_name", "dataset", "codec", "setting_value", "setting"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# The paper-shaped table
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measure:
    stem: str  # summary column stem: stem_median, stem_iqr
    label: str


@dataclass
class TimingTable:
    """Rows = (dataset, codec, setting); a column group per machine; cells = (median, IQR) in ms."""

    keys: list[dict[str, Any]]
    machines: list[str]
    measures: list[Measure]
    cells: dict[tuple[int, str, str], tuple[float, float]]
    notes: list[str]
    show_dataset: bool = False

    def header(self) -> list[str]:
        return (["Dataset"] if self.show_dataset else []) + ["Codec", "Setting", "bpp"]

    def key_cells(self, i: int) -> list[str]:
        k = self.keys[i]
        bpp = "" if k["bpp"] is None or not math.isfinite(k["bpp"]) else f"{k['bpp']:.3f}"
        codec = k["codec"] + (" (random weights)" if k.get("random_weights") else "")
        return ([k["dataset"]] if self.show_dataset else []) + [codec, k["setting_label"], bpp]

    def cell_text(self, i: int, machine: str, m: Measure) -> str:
        value = self.cells.get((i, machine, m.stem))
        if value is None:
            return "--"
        med, iqr = value
        d = _decimals(med)
        return f"{med:.{d}f} [{iqr:.{d}f}]"


def _truthy(value: Any) -> bool:
    """A flag as written to CSV and read back (True, "True", 1) or missing (NaN, None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return str(value).strip().lower() in ("true", "1", "yes")


def _decimals(x: float) -> int:
    ax = abs(x)
    return 0 if ax >= 100 else 1 if ax >= 10 else 2 if ax >= 1 else 3


def timing_table(summary: pd.DataFrame, *, per: str = "both", stages: bool = True) -> TimingTable:
    """Arrange a (merged) summary like a paper's timing table.

    ``per``: ``"image"`` (ms per image), ``"mp"`` (ms per megapixel) or ``"both"``. Stage
    columns (ms per image) follow when any codec recorded stages; start-up when any codec has it.
    """
    import pandas as pd

    from .hardware import describe
    from .views import sort_rows

    if per not in ("image", "mp", "both"):
        raise ConfigError(f"per must be image, mp or both, got {per!r}")
    if summary is None or summary.empty:
        raise GcbenchError("no timing rows to tabulate")
    machines = list(dict.fromkeys(summary["hw_name"].astype(str)))
    measures: list[Measure] = []
    if per in ("image", "both"):
        measures += [Measure("encode_ms", "Enc. ms/img"), Measure("decode_ms", "Dec. ms/img")]
    if per in ("mp", "both"):
        measures += [Measure("encode_ms_per_mp", "Enc. ms/MP"), Measure("decode_ms_per_mp", "Dec. ms/MP")]
    if "startup_ms_median" in summary.columns and summary["startup_ms_median"].notna().any():
        measures.append(Measure("startup_ms", "Start-up ms"))
    if stages:
        for d, short in (("encode", "Enc."), ("decode", "Dec.")):
            seen = [c[len(d) + 7:-10] for c in summary.columns
                    if c.startswith(f"{d}_stage_") and c.endswith("_ms_median")]
            measures += [Measure(f"{d}_stage_{n}_ms", f"{short} {n.replace('_', ' ')} ms") for n in dict.fromkeys(seen)]
    ordered = sort_rows(summary, ["dataset", "codec", "setting_value", "setting"])
    keys: list[dict[str, Any]] = []
    index: dict[tuple[str, str, str], int] = {}
    for _, r in ordered.iterrows():
        k = (str(r["dataset"]), str(r["codec"]), str(r["setting"]))
        if k not in index:
            index[k] = len(keys)
            keys.append({"dataset": k[0], "codec": k[1], "setting": k[2],
                         "setting_value": r.get("setting_value"), "rate_param": r.get("rate_param"),
                         "setting_label": f"{r.get('rate_param')}={k[2]}" if pd.notna(r.get("rate_param")) else k[2],
                         "bpp": float(r["bpp"]) if pd.notna(r.get("bpp")) else None,
                         "random_weights": _truthy(r.get("random_weights"))})
    cells: dict[tuple[int, str, str], tuple[float, float]] = {}
    for _, r in summary.iterrows():
        i = index[(str(r["dataset"]), str(r["codec"]), str(r["setting"]))]
        for m in measures:
            med = r.get(f"{m.stem}_median")
            if med is not None and pd.notna(med):
                iqr = r.get(f"{m.stem}_iqr")
                cells[(i, str(r["hw_name"]), m.stem)] = (float(med), float(iqr) if pd.notna(iqr) else 0.0)
    notes = ["Times in milliseconds: median [inter-quartile range] over all images × timed repeats, "
             "after warm-up runs that are not counted; I/O excluded."]
    for machine in machines:
        g = summary[summary["hw_name"].astype(str) == machine]
        r = g.iloc[0]
        n_img = int(g["n_images"].max())
        parts = [f"{machine}: {describe(r.to_dict())}",
                 f"device {r.get('device')}, timer {r.get('timer')}",
                 f"{n_img} image{'s' if n_img != 1 else ''} × {int(r.get('repeats'))} repeats after "
                 f"{int(r.get('warmup'))} warm-up",
                 f"threads {int(r.get('threads'))} (torch intra-op {r.get('torch_intra_op')}, "
                 f"inter-op {r.get('torch_inter_op')}, OMP_NUM_THREADS {r.get('omp_num_threads')})"]
        notes.append("; ".join(parts) + ".")
    if any(m.stem == "startup_ms" for m in measures):
        notes.append("Command-line codecs start one process per call: their encode and decode times include it; "
                     "the start-up column is that cost measured apart.")
    if any(k["random_weights"] for k in keys):
        notes.append("Codecs marked (random weights) are untrained architectures, timed for their cost only; "
                     "their bpp means nothing.")
    if summary["bpp_kind"].eq("estimated").any() if "bpp_kind" in summary.columns else False:
        notes.append("Some bpp values are estimated from likelihoods (no entropy coder).")
    show_dataset = ordered["dataset"].nunique() > 1
    return TimingTable(keys, machines, measures, cells, notes, show_dataset)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(table: TimingTable) -> str:
    multi = len(table.machines) > 1
    header = table.header() + [f"{mach}: {m.label}" if multi else m.label
                               for mach in table.machines for m in table.measures]
    n_key = len(table.header())
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
             "| " + " | ".join(["---"] * (n_key - 1) + ["---:"] + ["---:"] * (len(header) - n_key)) + " |"]
    for i in range(len(table.keys)):
        cells = table.key_cells(i) + [table.cell_text(i, mach, m) for mach in table.machines for m in table.measures]
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    lines.append("")
    lines += [f"- {_md_cell(n)}" for n in table.notes]
    return "\n".join(lines)


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "[": "{[}", "]": "{]}",
        "×": r"$\times$"}


def tex_escape(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in str(text))


def to_latex(table: TimingTable, label: str = "tab:timing") -> str:
    """A booktabs table: a column group per machine, caption naming each machine."""
    n_key, n_m = len(table.header()), len(table.measures)
    spec = "l" * (n_key - 1) + "r" + "".join("r" * n_m for _ in table.machines)
    lines = ["% gcbench timing table; needs \\usepackage{booktabs}", r"\begin{table}[t]", r"\centering", r"\small",
             rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    groups = " & ".join(rf"\multicolumn{{{n_m}}}{{c}}{{{tex_escape(m)}}}" for m in table.machines)
    lines.append(" & " * (n_key - 1) + " & " + groups + r" \\")
    rules = " ".join(rf"\cmidrule(lr){{{n_key + 1 + j * n_m}-{n_key + (j + 1) * n_m}}}"
                     for j in range(len(table.machines)))
    lines.append(rules)
    head = [tex_escape(h) for h in table.header()]
    head += [tex_escape(m.label) for _ in table.machines for m in table.measures]
    lines.append(" & ".join(head) + r" \\")
    lines.append(r"\midrule")
    for i in range(len(table.keys)):
        row = [tex_escape(c) for c in table.key_cells(i)]
        row += [tex_escape(table.cell_text(i, mach, m)) for mach in table.machines for m in table.measures]
        lines.append(" & ".join(row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}",
              rf"\caption{{{tex_escape(' '.join(table.notes))}}}", rf"\label{{{label}}}", r"\end{table}", ""]
    return "\n".join(lines)


def to_frame(table: TimingTable) -> pd.DataFrame:
    """The table as numbers: key columns, then ``<machine>: <stem>_median`` / ``_iqr`` per measure."""
    import pandas as pd

    records = []
    for i, k in enumerate(table.keys):
        rec = {"dataset": k["dataset"], "codec": k["codec"], "setting": k["setting"],
               "setting_value": k["setting_value"], "rate_param": k["rate_param"], "bpp": k["bpp"]}
        for mach in table.machines:
            for m in table.measures:
                value = table.cells.get((i, mach, m.stem))
                rec[f"{mach}: {m.stem}_median"] = value[0] if value else float("nan")
                rec[f"{mach}: {m.stem}_iqr"] = value[1] if value else float("nan")
        records.append(rec)
    return pd.DataFrame.from_records(records)


def render(table: TimingTable, fmt: str) -> str:
    fmt = fmt.lower()
    if fmt in ("md", "markdown"):
        return to_markdown(table) + "\n"
    if fmt in ("tex", "latex"):
        return to_latex(table)
    if fmt == "csv":
        return to_frame(table).to_csv(index=False)
    raise ConfigError(f"unknown table format {fmt!r}; choose md, tex or csv")


# ---------------------------------------------------------------------------------------------
# Several machines
# ---------------------------------------------------------------------------------------------

def merge_timing(sources: Sequence[str | Path | pd.DataFrame]) -> pd.DataFrame:
    """Summaries of several timing folders in one frame; each machine name must be unique."""
    import pandas as pd

    frames, origin = [], {}
    unique: list[Any] = []
    for src in sources:  # the same folder named twice is one folder
        if isinstance(src, pd.DataFrame) or all(
                isinstance(u, pd.DataFrame) or Path(u).resolve() != Path(src).resolve() for u in unique):
            unique.append(src)
    for src in unique:
        df = src if isinstance(src, pd.DataFrame) else load_timing(src)
        where = "a DataFrame" if isinstance(src, pd.DataFrame) else str(src)
        for name in df["hw_name"].astype(str).unique():
            if name in origin:
                raise ConfigError(f"machine name {name!r} appears in both {origin[name]} and {where}; "
                                  "time each machine with its own --hardware-name")
            origin[name] = where
        frames.append(df)
    if not frames:
        raise ConfigError("nothing to merge: give one or more timing folders")
    return pd.concat(frames, ignore_index=True, sort=False)


# ---------------------------------------------------------------------------------------------
# Bar chart and exports
# ---------------------------------------------------------------------------------------------

def plot_timing(summary: pd.DataFrame, out_stem: str | Path, *, per: str = "image",
                formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Grouped bars: one group per (codec, setting), one bar per machine; whiskers = quartiles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from .views import sort_rows

    if per not in ("image", "mp"):
        raise ConfigError(f"per must be image or mp, got {per!r}")
    suffix, unit = ("", "ms per image") if per == "image" else ("_per_mp", "ms per megapixel")
    ordered = sort_rows(summary, ["dataset", "codec", "setting_value", "setting"])
    several = ordered["dataset"].nunique() > 1

    def label(r: Any) -> str:
        return f"{r.codec} {r.setting}" + (f" ({r.dataset})" if several else "")

    labels = list(dict.fromkeys(label(r) for r in ordered.itertuples()))
    machines = list(dict.fromkeys(summary["hw_name"].astype(str)))
    fig, axes = plt.subplots(1, 2, figsize=(max(6.0, 0.55 * len(labels) * max(1, len(machines)) + 3), 4.2),
                             squeeze=False)
    width = 0.8 / max(1, len(machines))
    x = np.arange(len(labels))
    for ax, d in zip(axes[0], DIRECTIONS, strict=True):
        stem = f"{d}_ms{suffix}"
        values = []
        for j, mach in enumerate(machines):
            g = ordered[ordered["hw_name"].astype(str) == mach]
            lookup = {label(r): r for r in g.itertuples()}
            med = np.array([getattr(lookup[lab], f"{stem}_median") if lab in lookup else np.nan for lab in labels])
            lo = np.array([getattr(lookup[lab], f"{stem}_q25") if lab in lookup else np.nan for lab in labels])
            hi = np.array([getattr(lookup[lab], f"{stem}_q75") if lab in lookup else np.nan for lab in labels])
            values.append(med)
            ax.bar(x + (j - (len(machines) - 1) / 2) * width, med, width, label=mach,
                   yerr=np.vstack([med - lo, hi - med]).tolist(), capsize=2)  # lists: matplotlib warns on a 2×1 array
        finite = np.concatenate(values)
        finite = finite[np.isfinite(finite) & (finite > 0)]
        if finite.size and finite.max() / finite.min() > 50:
            ax.set_yscale("log")
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel(f"{d} time ({unit})")
        ax.set_title(f"{d.capitalize()}: median, whiskers = quartiles", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = out_stem.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=130)
        written.append(path)
    plt.close(fig)
    return written


def write_exports(summary: pd.DataFrame, out: str | Path, *, per: str = "both", stages: bool = True) -> list[Path]:
    """Summary CSV, the table as Markdown, LaTeX and CSV, and the bar chart (PNG, SVG) in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / SUMMARY_FILE]
    _atomic_write(written[0], summary.to_csv(index=False))
    table = timing_table(summary, per=per, stages=stages)
    for fmt in ("md", "tex", "csv"):
        path = out / f"{TABLE_STEM}.{fmt}"
        _atomic_write(path, render(table, fmt))
        written.append(path)
    written += plot_timing(summary, out / CHART_STEM)
    return written


__all__ = [
    "Clock", "CpuClock", "CudaClock", "TorchCudaBackend", "Timed", "TimingConfig", "TimingReport", "TimingTable",
    "fixed_threads", "load_samples", "load_timing", "make_clock", "measure_cell", "measure_startup", "merge_timing",
    "plot_timing", "render", "run_timing", "summarise", "timed_call", "timing_table", "to_latex", "to_markdown",
    "write_exports",
]
