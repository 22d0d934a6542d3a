"""A timing run: every (codec, setting, image) measured after warm-up, on a named machine."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.core import defaults
from gcbench.core.errors import ConfigError, GcbenchError, ImageLoadError
from gcbench.timing.chart import write_exports
from gcbench.timing.clocks import Clock, check_device, fixed_threads, make_clock
from gcbench.timing.measure import (
    CellResult,
    TimedCodec,
    build_for_timing,
    measure_cell,
    measure_startup,
    timing_spec,
)
from gcbench.timing.storage import _check_folder, _combine, _write_meta, _write_samples
from gcbench.timing.tables import summarise

if TYPE_CHECKING:
    from gcbench.execution.plan import CodecPlan

# ---------------------------------------------------------------------------------------------
# A timing run
# ---------------------------------------------------------------------------------------------

@dataclass
class TimingConfig:
    codecs: list[Any]  # "name", "name@50,75", or a CodecSpec (timed at its own settings)
    dataset: str
    out: str | Path
    hardware_name: str | None = None
    device: str = defaults.DEVICE
    warmup: int = defaults.TIMING_WARMUP
    repeats: int = defaults.TIMING_REPEATS
    threads: int = defaults.TIMING_THREADS
    data_root: str | None = None
    max_images: int | None = None
    codec_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    binaries: dict[str, str] = field(default_factory=dict)  # program name → path (command-line codecs)
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


def _codec_plans(config: TimingConfig, device: str) -> list[CodecPlan]:
    """The codecs to time, resolved and checked exactly as ``gcbench run`` resolves them (names, settings,
    availability, preflight, ``--binary``), with the threads, device and random weights timing fixes."""
    from functools import partial

    from gcbench.execution.resolve import resolve_codecs

    adapt = partial(timing_spec, threads=config.threads, device=device, random_weights=config.random_weights)
    return resolve_codecs(list(config.codecs), config.codec_options, config.binaries, adapt=adapt)


def _stage_key(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").lower() or "stage"


def _check_counts(config: TimingConfig) -> None:
    if not isinstance(config.warmup, int) or config.warmup < 0:
        raise ConfigError(f"--warmup must be 0 or more, got {config.warmup!r}")
    if not isinstance(config.repeats, int) or config.repeats < 1:
        raise ConfigError(f"--repeats must be at least 1, got {config.repeats!r}")


def _load_images(config: TimingConfig) -> tuple[Any, list[tuple[str, Any]], list[dict[str, str]]]:
    """(dataset, [(name, pixels)], errors): every image read before any clock runs (I/O is not a codec's time)."""
    from gcbench.data.datasets import load_dataset
    from gcbench.data.images import load_image

    dataset = load_dataset(config.dataset, config.data_root)
    refs = dataset.images[: config.max_images] if config.max_images else dataset.images
    errors: list[dict[str, str]] = []
    images = []
    for ref in refs:
        try:
            images.append((ref.name, load_image(ref.path).array))
        except ImageLoadError as exc:
            errors.append({"image": ref.name, "error": str(exc)})
    if not images:
        raise GcbenchError(f"dataset {dataset.name!r}: no readable image to time")
    return dataset, images, errors


@dataclass
class _Session:
    """What every cell of a timing run shares: config, device, threads, fingerprint, images, results so far."""

    config: TimingConfig
    device: str
    threads: dict[str, Any]
    fingerprint: dict[str, Any]
    dataset: str
    images: list[tuple[str, Any]]
    bar: Any
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    codec_meta: dict[str, Any] = field(default_factory=dict)


def _time_codec(tc: TimedCodec, s: _Session) -> None:
    """Prepare one codec, measure its start-up, then every (setting, image) cell."""
    from gcbench.core.hardware import flat_fingerprint
    from gcbench.core.settings import format_setting, numeric_value

    config = s.config
    s.bar.set_description(tc.name)
    t0 = time.perf_counter()
    try:
        tc.codec.prepare()
    except Exception as exc:  # noqa: BLE001 - one codec's failure must not stop the others
        s.errors.append({"codec": tc.name, "error": f"prepare failed: {exc}"})
        s.bar.update(len(tc.settings) * len(s.images))
        return
    tc.prepare_s = time.perf_counter() - t0
    tc.startup = measure_startup(tc.codec, config.startup_repeats, max(1, config.warmup))
    clock = make_clock(tc.device, sync=config.sync, backend=config.cuda_backend)
    s.codec_meta[tc.name] = {
        "spec": tc.spec.to_dict(), "settings": [format_setting(x) for x in tc.settings],
        "versions": tc.versions, "device": tc.device, "timer": clock.name,
        "codec_threads": tc.codec_threads, "codec_threads_via": tc.codec_threads_via,
        "prepare_s": tc.prepare_s, "startup": {"seconds": tc.startup.seconds, "iqr_s": tc.startup.iqr_s,
                                               "via": tc.startup.via, "programs": tc.startup.programs},
        "random_weights": tc.random_weights,
    }
    hw = flat_fingerprint({**s.fingerprint, "libraries": tc.versions})
    for setting in tc.settings:
        for image_name, array in s.images:
            try:
                cell = measure_cell(tc.codec, array, setting, clock, warmup=config.warmup,
                                    repeats=config.repeats, stages=config.stages)
            except Exception as exc:  # noqa: BLE001
                s.errors.append({"codec": tc.name, "setting": format_setting(setting), "image": image_name,
                                 "error": f"{type(exc).__name__}: {exc}"})
                s.bar.update(1)
                continue
            base = {
                **hw, "dataset": s.dataset, "codec": tc.name, "setting": format_setting(setting),
                "setting_value": numeric_value(setting), "rate_param": tc.spec.rate_param,
                "image": image_name, "height": array.shape[0], "width": array.shape[1],
                "megapixels": array.shape[0] * array.shape[1] / 1e6,
            }
            s.rows.extend(_sample_rows(base, cell, tc, clock, config, s.threads, s.device))
            s.bar.update(1)


def run_timing(config: TimingConfig) -> TimingReport:
    """Time every (codec, setting) on the dataset; write samples, summary, table and chart to ``out``."""
    import pandas as pd
    from tqdm import tqdm

    from gcbench.core.hardware import fingerprint, flat_fingerprint

    t_start = time.perf_counter()
    device = check_device(config.device)
    _check_counts(config)
    plans = _codec_plans(config, device)
    dataset, images, load_errors = _load_images(config)
    out = Path(config.out)
    with fixed_threads(config.threads) as threads:
        timed_codecs = [build_for_timing(p.spec, p.settings, threads=config.threads, device=device,
                                         random_weights=config.random_weights) for p in plans]
        fp = fingerprint(config.hardware_name, probe_gpu=device != "cpu")
        previous = _check_folder(out, flat_fingerprint(fp), threads, device)
        n_cells = sum(len(tc.settings) for tc in timed_codecs) * len(images)
        with tqdm(total=n_cells, disable=not config.progress, unit="cell", file=sys.stderr,
                  mininterval=0.5, dynamic_ncols=True) as bar:
            session = _Session(config, device, threads, fp, dataset.name, images, bar, errors=load_errors)
            for tc in timed_codecs:
                _time_codec(tc, session)
    new = pd.DataFrame.from_records(session.rows)
    samples = _combine(previous, new)
    if not samples.empty:  # nothing timed (every cell failed) leaves no empty table behind
        _write_samples(out, samples)
    _write_meta(out, fp, config, threads, session.codec_meta, session.errors)
    summary = summarise(samples) if not samples.empty else None
    report = TimingReport(out, len(new), session.errors, time.perf_counter() - t_start, summary)
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
