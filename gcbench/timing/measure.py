"""Codecs under measurement: building them for timing, process start-up, and one (codec, setting, image) cell."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gcbench.core.errors import CodecError

if TYPE_CHECKING:
    import numpy as np

    from gcbench.codecs.spec import CodecSpec
from gcbench.timing.clocks import Clock, CpuClock, Timed, timed_call
from gcbench.timing.common import THREAD_OPTIONS

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


def timing_spec(spec: CodecSpec, *, threads: int, device: str, random_weights: bool = False) -> CodecSpec:
    """The spec with what a timing run fixes: the library's thread count, the device, random weights.

    A codec takes the device when its spec has a ``device`` option or its class declares
    ``accepts_device = True``; otherwise it runs on the CPU whatever ``device`` says. Its own
    thread count goes through a thread option of its spec (``numthreads`` …). ``random_weights``
    (timing an untrained architecture) reaches only codecs whose class declares
    ``accepts_random_weights``. Applying it twice gives the same spec.
    """
    from gcbench.codecs.spec import adapter_class

    cls = adapter_class(spec)
    overrides: dict[str, Any] = {}
    thread_key = next((k for k in THREAD_OPTIONS if k in spec.options), None)
    if thread_key is not None:
        overrides[thread_key] = threads
    if _takes_device(spec, cls):
        overrides["device"] = device
    if random_weights and getattr(cls, "accepts_random_weights", False):
        overrides["random_weights"] = True
    return spec.with_options(**overrides) if overrides else spec


def _takes_device(spec: CodecSpec, cls: type) -> bool:
    return "device" in spec.options or bool(getattr(cls, "accepts_device", False))


def build_for_timing(spec: CodecSpec, settings: Sequence[Any], *, threads: int, device: str,
                     random_weights: bool = False) -> TimedCodec:
    """Build a codec with its library threads and its device fixed (:func:`timing_spec`).

    Availability, settings and pretrained files are checked once, before, by the codec
    resolution ``gcbench run`` uses too (gcbench.execution.resolve). A codec with a
    ``set_threads(n)`` method gets its thread count through it; the rows record how.
    """
    from gcbench.codecs.spec import adapter_class

    spec = timing_spec(spec, threads=threads, device=device, random_weights=random_weights)
    cls = adapter_class(spec)
    codec = cls(spec)
    tc = TimedCodec(name=spec.name, spec=spec, codec=codec, settings=tuple(settings),
                    versions={str(k): str(v) for k, v in codec.versions().items()},
                    device=device if _takes_device(spec, cls) else "cpu",
                    random_weights=bool(spec.options.get("random_weights", False)))
    thread_key = next((k for k in THREAD_OPTIONS if k in spec.options), None)
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
    from gcbench.codecs.base import Encoded, as_rgb_uint8

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
