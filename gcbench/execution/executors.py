"""Where tasks run: in this process, or in a local process pool.

An executor takes tasks and yields their records as they finish (in any order). Only the
caller writes the store, so every executor gets resume and deduplication for free. Closing the
stream of records, or the executor (the runner does both, however the run ends), stops
everything the executor started: no worker process, fork server, nor multiprocessing's resource
tracker outlives a run.

The local pool forks its workers from a fork server where the platform has one (Linux, macOS):
a clean process, started as soon as the run is resolved, that imports torch and the worker once
while the driver plans, so that each worker starts in milliseconds instead of importing torch
itself (1–2 s per worker, all at once, on the cores the work needs). Elsewhere it spawns.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from gcbench.core.errors import ConfigError
from gcbench.core.interrupts import interrupts_deferred
from gcbench.execution.plan import Task
from gcbench.execution.worker import execute_many, init_worker, pin_threads
from gcbench.results.records import TaskRecord


class Executor(Protocol):
    name: str

    def run(self, tasks: Iterable[Task]) -> Iterator[TaskRecord]: ...

    def describe(self) -> dict[str, object]: ...

    def start(self) -> None:
        """Start what can start before the tasks are known (called once the run is resolved)."""

    def close(self) -> None:
        """Stop everything the executor started (called however the run ends)."""


def default_threads(jobs: int) -> int:
    """Threads per worker when none are given: the cores this process may use, shared by ``jobs``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, jobs))


def chunks(tasks: Iterable[Task], size: int) -> Iterator[list[Task]]:
    """Consecutive tasks in lists of ``size`` (the last may be shorter). Plans are image-major,
    so a chunk mostly holds one image at several settings: pairs of one size, one batch."""
    chunk: list[Task] = []
    for task in tasks:
        chunk.append(task)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _check_batch(batch: int) -> int:
    if not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"--batch must be at least 1, got {batch!r}")
    return batch


class InProcessExecutor:
    name = "inline"

    def __init__(self, threads: int | None = None, batch: int = 1) -> None:
        self.threads = threads or default_threads(1)
        self.batch = _check_batch(batch)

    def describe(self) -> dict[str, object]:
        return {"executor": self.name, "jobs": 1, "threads_per_worker": self.threads, "batch": self.batch}

    def run(self, tasks: Iterable[Task]) -> Iterator[TaskRecord]:
        pin_threads(self.threads)
        for chunk in chunks(tasks, self.batch):
            yield from execute_many(chunk)

    def start(self) -> None:
        """Nothing to start: tasks run in this process."""

    def close(self) -> None:
        """Nothing to stop."""


def start_method() -> str:
    """forkserver where the platform has it, else spawn (never plain fork: the driver may have
    run threaded torch or OpenMP code, which a forked child can deadlock on)."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def worker_preload() -> list[str]:
    """What the fork server imports once for all workers: the worker and, when installed, torch."""
    return ["gcbench.execution.worker"] + (["torch"] if importlib.util.find_spec("torch") else [])


class LocalPoolExecutor:
    """A pool of ``jobs`` spawned processes, each pinned to ``threads`` threads.

    At most ``2 × jobs`` tasks are in flight, so a long plan never floods memory. A worker that
    dies (a crash in a native library) fails the tasks it held; the pool is rebuilt and the
    run goes on.
    """

    name = "local"

    def __init__(self, jobs: int, threads: int | None = None, preload: Sequence[str] | None = None,
                 batch: int = 1) -> None:
        if jobs < 1:
            raise ConfigError(f"--jobs must be at least 1, got {jobs}")
        self.jobs = jobs
        self.threads = threads or default_threads(jobs)
        self.batch = _check_batch(batch)
        self.method = start_method()
        self.preload = list(worker_preload() if preload is None else preload)
        self._owns_tracker: bool | None = None  # decided when the first helper process starts
        self._owns_forkserver = False
        self.fallback = ""  # why the preferred start method could not be used, if it could not

    def describe(self) -> dict[str, object]:
        described: dict[str, object] = {"executor": self.name, "jobs": self.jobs,
                                        "threads_per_worker": self.threads, "start_method": self.method,
                                        "batch": self.batch}
        if self.fallback:
            described["start_method_fallback"] = self.fallback
        return described

    def start(self) -> None:
        """Start the fork server now, so that its imports overlap the driver's planning."""
        if self._owns_tracker is None:
            self._owns_tracker = not _tracker_running()
        if self.method != "forkserver" or self._owns_forkserver:
            return
        from multiprocessing import forkserver

        server = getattr(forkserver, "_forkserver", None)
        ours = server is not None and getattr(server, "_forkserver_pid", None) is None
        if ours:
            forkserver.set_forkserver_preload(self.preload)
        try:
            forkserver.ensure_running()
        except OSError as exc:
            # Its UNIX socket lives in the temporary folder, whose path may be too long for one
            # (about 100 bytes), or sockets may be refused: spawned workers give the same results.
            self.method, self.fallback = "spawn", f"fork server unavailable ({exc}): workers spawned"
            return
        self._owns_forkserver = ours  # else another user of this process started it: theirs to stop

    def close(self) -> None:
        """Stop the fork server and the resource tracker, if this executor started them.

        An interrupt waits until both are stopped: one arriving halfway (the run was ending
        anyway) would leave them half-stopped for the second close on the way out.
        """
        with interrupts_deferred():
            owns_forkserver, owns_tracker = self._owns_forkserver, self._owns_tracker
            self._owns_forkserver, self._owns_tracker = False, None
            if owns_forkserver:
                _stop_forkserver()
            if owns_tracker:
                _release_frames_of_interrupt()
                _stop_tracker()

    def _pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=multiprocessing.get_context(self.method),
            initializer=init_worker,
            initargs=(self.threads, self._workers_parent()),
        )

    def _workers_parent(self) -> int | None:
        """The process the workers are forked from: the fork server (known once it runs), else this one."""
        if self.method != "forkserver":
            return os.getpid()
        from multiprocessing import forkserver

        return getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)

    def _submit(self, pool: ProcessPoolExecutor, chunk: list[Task]) -> Future[list[TaskRecord]]:
        return pool.submit(execute_many, chunk)

    def run(self, tasks: Iterable[Task]) -> Iterator[TaskRecord]:
        pending = chunks(tasks, self.batch)
        self.start()
        with interrupts_deferred():  # a pool half-built by an interrupt would be shut down by nobody
            pool = self._pool()
        inflight: dict[Future[list[TaskRecord]], list[Task]] = {}
        try:
            while True:
                while len(inflight) < 2 * self.jobs:
                    chunk = next(pending, None)
                    if chunk is None:
                        break
                    inflight[self._submit(pool, chunk)] = chunk
                if not inflight:
                    return
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    chunk = inflight.pop(fut)
                    try:
                        records = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        records = [_died(task) for task in chunk]
                    yield from records
                if broken:
                    for chunk in list(inflight.values()):
                        yield from (_died(task) for task in chunk)
                    inflight.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._pool()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            del pool
            self.close()


def _release_frames_of_interrupt() -> None:
    """Drop the local variables of the finished frames an interrupt passed through.

    An interrupt raised inside ``pool.submit`` or ``pool.shutdown`` keeps the pool alive through
    its traceback, and with it the pool's semaphores: the resource tracker, stopped next, would
    report them leaked and unlink them, and their own clean-up would then fail loudly at exit.
    Other errors keep their frames for whoever debugs them.
    """
    import sys
    import traceback

    exc = sys.exc_info()[1]
    while exc is not None and not isinstance(exc, KeyboardInterrupt):
        exc = exc.__context__  # closing the pool's generator: GeneratorExit, raised while handling it
    if exc is not None and exc.__traceback__ is not None:
        traceback.clear_frames(exc.__traceback__)  # frames still running (the callers) are skipped


def _tracker_running() -> bool:
    from multiprocessing import resource_tracker

    return getattr(resource_tracker._resource_tracker, "_fd", None) is not None


def _stop_forkserver() -> None:
    """Stop multiprocessing's fork server and wait for it.

    Closing its "alive" pipe (``_stop``) asks it to exit, which would then tear down every module
    it imported, torch included (a third of a second); it holds nothing to flush, so it is
    terminated first and ``_stop`` only collects it and removes its socket.
    """
    import signal
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    pid = getattr(server, "_forkserver_pid", None)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    stop = getattr(server, "_stop", None)
    if callable(stop):
        stop()


def _stop_tracker(wait_s: float = 5.0) -> None:
    """Stop the resource tracker a pool started: it would otherwise outlive the run for a moment.

    Only the pool's semaphores are registered with it, and the pool is gone: collecting it
    first unregisters them, so the tracker has nothing left to clean up. It exits once every
    process holding its pipe has closed it; a worker left behind by an interrupt (it ends with
    its parent) would hold it longer, so the wait is bounded rather than for ever.
    """
    import gc
    from multiprocessing import resource_tracker

    gc.collect()
    tracker = resource_tracker._resource_tracker
    lock, fd, pid = getattr(tracker, "_lock", None), getattr(tracker, "_fd", None), getattr(tracker, "_pid", None)
    if lock is None or fd is None or pid is None:
        return
    with lock:
        os.close(fd)
        tracker._fd = tracker._pid = None
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] != 0:
                return  # it has exited
        except ChildProcessError:
            return  # collected elsewhere
        time.sleep(0.01)


def _died(task: Task) -> TaskRecord:
    from gcbench.execution.worker import _record

    rec = _record(task)
    rec.status, rec.error_stage = "error", "worker"
    rec.error = "the worker process died while running this task (a crash in a native library?)"
    return rec


def _local(jobs: int, threads: int | None = None, batch: int = 1, **options: object) -> Executor:
    if options:
        raise ConfigError(f"the local executor takes no options, got {sorted(options)}")
    return InProcessExecutor(threads, batch) if jobs == 1 else LocalPoolExecutor(jobs, threads, batch=batch)


# Executor name → factory (a callable or "module:attr", imported only when chosen).
EXECUTORS: dict[str, object] = {
    "local": _local,
    "ray": "gcbench.execution.ray_executor:make_ray_executor",
}


def make_executor(name: str, jobs: int, threads: int | None = None, batch: int = 1, **options: object) -> Executor:
    """The executor registered as ``name`` (local or ray), built with its options checked.

    ``batch``: tasks per worker call, whose torch pair metrics run as one batch per image size
    (the local executor; Ray runs tasks one by one)."""
    from gcbench.core.registry import import_target

    factory = EXECUTORS.get(name)
    if factory is None:
        raise ConfigError(f"unknown executor {name!r}; choose one of {', '.join(sorted(EXECUTORS))}")
    if isinstance(factory, str):
        factory = import_target(factory)
    return factory(jobs, threads, batch, **options)  # type: ignore[operator]
