"""Stage timing inside a codec: where the time of one encode or decode goes.

A learned codec wraps its steps in ``stage(...)``::

    from gcbench.codecs.stages import stage

    with stage("analysis", device=self.device):
        y = self.model.g_a(x)

With no recorder active (a normal run) a stage costs one context-variable look-up. Under
``record_stages()`` each stage's wall time is measured with ``perf_counter_ns``; on a CUDA device
the stage synchronises before reading the clock at both ends, so asynchronous kernels are counted
in the stage that launched them and not in the next one.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_RECORDER: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar("gcbench_stages", default=None)


def _synchronise(device: Any) -> None:
    if device is None:
        return
    text = str(device)
    if text.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)


@contextmanager
def stage(name: str, device: Any = None) -> Iterator[None]:
    """Time the block as stage ``name`` when a recorder is active (``device`` synchronised before and
    after, so queued GPU work lands in the right stage); otherwise do nothing."""
    times = _RECORDER.get()
    if times is None:
        yield
        return
    _synchronise(device)
    t0 = time.perf_counter_ns()
    try:
        yield
    finally:
        _synchronise(device)
        times[name] = times.get(name, 0.0) + (time.perf_counter_ns() - t0) * 1e-9


@contextmanager
def record_stages() -> Iterator[dict[str, float]]:
    """Collect the seconds spent in each named stage within the block (stages add up by name)."""
    times: dict[str, float] = {}
    token = _RECORDER.set(times)
    try:
        yield times
    finally:
        _RECORDER.reset(token)
