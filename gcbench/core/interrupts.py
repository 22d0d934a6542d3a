"""Ctrl-C and SIGTERM held back while a short piece of work must finish whole (a database write,
stopping helper processes), then delivered as they would have been."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_INTERRUPTS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends, then hand the first one held to the handler it
    was meant for.

    Handlers are swapped rather than the signals masked: a masked signal is delivered to another
    thread of the process, and Python still runs its handler in the main thread at once. Only
    the main thread runs signal handlers, so elsewhere there is nothing to hold.
    """
    if threading.current_thread() is not threading.main_thread() \
            or any(signal.getsignal(signum) is None for signum in _INTERRUPTS):  # set outside Python: not ours to swap
        yield
        return
    held: list[tuple[int, Any]] = []
    previous = {signum: signal.signal(signum, lambda signum, frame: held.append((signum, frame)))
                for signum in _INTERRUPTS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum, frame in held[:1]:
            handler = previous[signum]
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)
