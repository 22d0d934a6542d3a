"""Where tasks run: in this process, or in a local process pool.

An executor takes tasks and yields their records as they finish (in any order). Only the
caller writes the store, so every executor gets resume and deduplication for free. Closing the
stream of records (the runner does, however the run ends) stops everything the executor
started: no worker process, nor multiprocessing's resource tracker, outlives a run.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from gcbench.core.errors import ConfigError
from gcbench.execution.plan import Task
from gcbench.execution.worker import execute, init_worker, pin_threads
from gcbench.results.records import TaskRecord


class Executor(Protocol):
    name: str

    def run(self, tasks: Iterable[Task]) -> Iterator[TaskRecord]: ...

    def describe(self) -> dict[str, object]: ...


def default_threads(jobs: int) -> int:
    """Threads per worker when none are given: the cores this process may use, shared by ``jobs``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, jobs))


class InProcessExecutor:
    name = "inline"

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or default_threads(1)

    def describe(self) -> dict[str, object]:
        return {"executor": self.name, "jobs": 1, "threads_per_worker": self.threads}

    def run(self, tasks: Iterable[Task]) -> Iterator[TaskRecord]:
        pin_threads(self.threads)
        for task in tasks:
            yield execute(task)


class LocalPoolExecutor:
    """A pool of ``jobs`` spawned processes, each pinned to ``threads`` threads.

    At most ``2 × jobs`` tasks are in flight, so a long plan never floods memory. A worker that
    dies (a crash in a native library) fails the tasks it held; the pool is rebuilt and the
    run goes on.
    """

    name = "local"

    def __init__(self, jobs: int, threads: int | None = None) -> None:
        if jobs < 1:
            raise ConfigError(f"--jobs must be at least 1, got {jobs}")
        self.jobs = jobs
        self.threads = threads or default_threads(jobs)

    def describe(self) -> dict[str, object]:
        return {"executor": self.name, "jobs": self.jobs, "threads_per_worker": self.threads, "start_method": "spawn"}

    def _pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(self.threads,),
        )

    def run(self, tasks: Iterable[Task]) -> Iterator[TaskRecord]:
        pending = iter(tasks)
        owns_tracker = not _tracker_running()
        pool = self._pool()
        inflight: dict[Future[TaskRecord], Task] = {}
        try:
            while True:
                while len(inflight) < 2 * self.jobs:
                    task = next(pending, None)
                    if task is None:
                        break
                    inflight[pool.submit(execute, task)] = task
                if not inflight:
                    return
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    task = inflight.pop(fut)
                    try:
                        yield fut.result()
                    except BrokenProcessPool:
                        broken = True
                        yield _died(task)
                if broken:
                    for fut, task in list(inflight.items()):
                        yield _died(task)
                    inflight.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._pool()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            del pool
            if owns_tracker:
                _stop_tracker()


def _tracker_running() -> bool:
    from multiprocessing import resource_tracker

    return getattr(resource_tracker._resource_tracker, "_fd", None) is not None


def _stop_tracker() -> None:
    """Stop the resource tracker a pool started: it would otherwise outlive the run for a moment.

    Only the pool's semaphores are registered with it, and the pool is gone: collecting it
    first unregisters them, so the tracker has nothing left to clean up.
    """
    import gc
    from multiprocessing import resource_tracker

    gc.collect()
    stop = getattr(resource_tracker._resource_tracker, "_stop", None)
    if callable(stop):
        stop()


def _died(task: Task) -> TaskRecord:
    from gcbench.execution.worker import _record

    rec = _record(task)
    rec.status, rec.error_stage = "error", "worker"
    rec.error = "the worker process died while running this task (a crash in a native library?)"
    return rec


def _local(jobs: int, threads: int | None = None, **options: object) -> Executor:
    if options:
        raise ConfigError(f"the local executor takes no options, got {sorted(options)}")
    return InProcessExecutor(threads) if jobs == 1 else LocalPoolExecutor(jobs, threads)


# Executor name → factory (a callable or "module:attr", imported only when chosen).
EXECUTORS: dict[str, object] = {
    "local": _local,
    "ray": "gcbench.execution.ray_executor:make_ray_executor",
}


def make_executor(name: str, jobs: int, threads: int | None = None, **options: object) -> Executor:
    """The executor registered as ``name`` (local or ray), built with its options checked."""
    from gcbench.core.registry import import_target

    factory = EXECUTORS.get(name)
    if factory is None:
        raise ConfigError(f"unknown executor {name!r}; choose one of {', '.join(sorted(EXECUTORS))}")
    if isinstance(factory, str):
        factory = import_target(factory)
    return factory(jobs, threads, **options)  # type: ignore[operator]
