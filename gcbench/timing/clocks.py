"""Clocks around one call (CPU perf_counter_ns; CUDA synchronised, with events) and fixed thread counts."""

from __future__ import annotations

import gc
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from gcbench.codecs.stages import record_stages
from gcbench.core.errors import ConfigError, UnavailableError

if TYPE_CHECKING:

    pass


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
    """Normalise a device name (cpu, cuda, cuda:N); raises ConfigError for anything else."""
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
    from gcbench.execution.worker import _THREAD_VARS, pin_threads

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
