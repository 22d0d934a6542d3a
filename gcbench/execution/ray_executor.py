"""Run the task plan on a Ray cluster (``gcbench run … --executor ray [--address …]``).

The driver (the ``gcbench run`` process) keeps every duty that makes a run resumable: it plans,
it alone writes the store, and it yields one record per task to the runner exactly like the
local pool. Ray only moves work and data:

- each original is read once by the driver and ``ray.put`` once; its tasks receive the object
  reference, so workers on other nodes never need the dataset's files (nor re-read them);
  the image's mask (``--masks``) and Cityscapes label (``miou``) travel the same way;
- a stored bitstream (a task that only misses a metric) travels as bytes for the same reason;
- every task declares its resources: ``threads`` CPUs, and a fraction of a GPU when a codec or
  a device-using metric runs on CUDA (so several GPU tasks share one card);
- a worker process that dies is retried by Ray ``max_retries`` times, then the task becomes an
  error row; a task whose codec or metric raises is already an error row (``worker.execute``
  never raises); a driver killed and started again resumes from the store like any run;
- a local instance the run started is shut down when the run ends, however it ends (SIGTERM
  and Ctrl-C included): no Ray process outlives ``gcbench run``.

Ray is imported only when this executor is chosen; without it the error names the extra.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from gcbench.core.errors import ConfigError, GcbenchError, UnavailableError
from gcbench.execution.plan import Task
from gcbench.results.records import TaskRecord

INSTALL_HINT = "pip install 'gcbench[ray]'"
DEFAULT_MAX_RETRIES = 3
DEFAULT_GPUS_PER_TASK = 0.25


def import_ray() -> Any:
    """The ray module, or UnavailableError naming the extra that installs it."""
    try:
        import ray
    except ImportError as exc:
        raise UnavailableError(f"--executor ray needs Ray, which is not installed here ({exc}). To fix: {INSTALL_HINT}") from exc
    return ray


def _uses_cuda(device: object) -> bool:
    return str(device or "").startswith("cuda")


def _metric_uses_device(name: str) -> bool:
    from gcbench.metrics.registry import metrics

    return bool(getattr(metrics.get(name), "uses_device", False))


def task_resources(task: Task, cpus: float, gpus_per_task: float, device_metrics: dict[str, bool] | None = None) -> dict[str, float]:
    """What one task asks Ray for: CPUs, and a GPU fraction when its codec or a metric runs on CUDA.

    A codec spec may state its own share (``options.num_gpus``, e.g. 1.0 for a large model);
    otherwise a codec with ``options.device = "cuda…"`` or a device-using metric on ``cuda``
    takes ``gpus_per_task``.
    """
    device_metrics = {} if device_metrics is None else device_metrics
    options = task.spec.options
    gpus = 0.0
    if "num_gpus" in options:
        gpus = float(options["num_gpus"])
    elif _uses_cuda(options.get("device")):
        gpus = gpus_per_task
    for ref in task.metrics:
        if not _uses_cuda(ref.device):
            continue
        if ref.name not in device_metrics:
            device_metrics[ref.name] = _metric_uses_device(ref.name)
        if device_metrics[ref.name]:
            gpus = max(gpus, gpus_per_task)
    return {"num_cpus": float(cpus), "num_gpus": gpus}


# -- what runs on a Ray worker --------------------------------------------------------------

_PINNED: int | None = None


def _check_versions(task: Task) -> str | None:
    """A node with other library versions than the driver would store results under a wrong key."""
    from gcbench.execution.worker import state

    try:
        found = state().codec(task).versions()
    except Exception:  # noqa: BLE001 - execute() reports a codec that cannot be built
        return None
    expected = dict(task.codec_versions)
    if found != expected:
        import socket

        return (f"node {socket.gethostname()} has codec versions {found}, the driver planned with {expected}; "
                "install the same versions on every node")
    return None


def run_remote_task(task: Task, image: Any, bitstream: bytes | None, threads: int, shipped: Any = None) -> TaskRecord:
    """The body of one Ray task (module level, so workers import it rather than unpickle code).

    ``shipped`` (a worker.ShippedInputs) holds the image's mask and label read by the driver.
    """
    import numpy as np

    from gcbench.execution.worker import _record, execute, pin_threads

    global _PINNED
    if _PINNED != threads:
        pin_threads(threads)
        _PINNED = threads
    mismatch = _check_versions(task)
    if mismatch is not None:
        rec = _record(task)
        rec.status, rec.error_stage, rec.error = "error", "setup", mismatch
        return rec
    # Objects from the store are read-only views of shared memory; codecs and torch expect an
    # array they own (the local pool hands them one too).
    original = np.array(image, order="C") if image is not None else None
    return execute(task, image=original, bitstream=bitstream, shipped=shipped)


def _error(task: Task, stage: str, text: str) -> TaskRecord:
    from gcbench.execution.worker import _record

    rec = _record(task)
    rec.status, rec.error_stage, rec.error = "error", stage, text
    return rec


# -- the driver -----------------------------------------------------------------------------


class RayExecutor:
    """Tasks as Ray tasks on a local instance or an existing cluster.

    ``address``: None starts a local instance with ``jobs × threads`` CPUs (unless Ray is
    already initialised in this process, or ``RAY_ADDRESS`` is set); ``"auto"`` joins the
    cluster this machine belongs to; ``"ray://host:10001"`` goes through Ray Client.
    ``threads`` is the CPUs each task reserves (and the threads it pins), default 1.
    """

    name = "ray"

    def __init__(self, jobs: int = 1, threads: int | None = None, *, address: str | None = None,
                 max_retries: int = DEFAULT_MAX_RETRIES, gpus_per_task: float = DEFAULT_GPUS_PER_TASK,
                 max_inflight: int | None = None, runtime_env: dict[str, Any] | None = None) -> None:
        self.ray = import_ray()
        if jobs < 1:
            raise ConfigError(f"--jobs must be at least 1, got {jobs}")
        if threads is not None and threads < 1:
            raise ConfigError(f"--threads must be at least 1, got {threads}")
        if max_retries < 0:
            raise ConfigError(f"--ray-max-retries must be 0 or more, got {max_retries}")
        if not 0 < gpus_per_task <= 1:
            raise ConfigError(f"--ray-gpus-per-task must be in (0, 1], got {gpus_per_task}")
        if max_inflight is not None and max_inflight < 1:
            raise ConfigError(f"max_inflight must be at least 1, got {max_inflight}")
        self.jobs = jobs
        self.threads = threads or 1
        self.address = address or None
        self.max_retries = int(max_retries)
        self.gpus_per_task = float(gpus_per_task)
        self.max_inflight = max_inflight
        self.runtime_env = runtime_env
        self._owns_ray = False

    def describe(self) -> dict[str, object]:
        return {
            "executor": self.name, "address": self.address or "local instance",
            "jobs": self.jobs if self.address is None else None, "threads_per_worker": self.threads,
            "cpus_per_task": self.threads, "gpus_per_task": self.gpus_per_task,
            "max_retries": self.max_retries, "ray": getattr(self.ray, "__version__", "?"),
        }

    # -- cluster ---------------------------------------------------------------------------
    def _connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return  # the caller's cluster; theirs to shut down
        kwargs: dict[str, Any] = {"ignore_reinit_error": True}
        if self.runtime_env:
            kwargs["runtime_env"] = self.runtime_env
        if self.address is None and not os.environ.get("RAY_ADDRESS"):
            kwargs.update(num_cpus=self.jobs * self.threads, include_dashboard=False)
        else:
            kwargs["address"] = self.address
        # ray.init replaces the driver's SIGTERM handler with one that exits at once; keep ours, so
        # SIGTERM stops a run like Ctrl-C does (marked interrupted, Ray shut down on the way out)
        in_main = threading.current_thread() is threading.main_thread()
        sigterm = signal.getsignal(signal.SIGTERM) if in_main else None
        try:
            ray.init(**kwargs)
        except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError …
            where = self.address or os.environ.get("RAY_ADDRESS") or "a local instance"
            raise GcbenchError(f"could not start or reach Ray at {where}: {exc}") from exc
        finally:
            if sigterm is not None:
                signal.signal(signal.SIGTERM, sigterm)
        self._owns_ray = True

    def _disconnect(self) -> None:
        if self._owns_ray:
            self.ray.shutdown()
            self._owns_ray = False

    def _check_feasible(self, needs: set[tuple[float, float]]) -> int:
        """Fail early on tasks no node can ever run (Ray would wait for them forever)."""
        total = self.ray.cluster_resources()
        cpus, gpus = float(total.get("CPU", 0)), float(total.get("GPU", 0))
        for n_cpu, n_gpu in needs:
            if n_gpu > 0 and gpus < n_gpu:
                raise ConfigError(
                    f"tasks need {n_gpu:g} GPU each (a CUDA codec or --device cuda) but the Ray cluster has "
                    f"{gpus:g} GPUs; add GPU nodes or run the metrics on --device cpu")
            if cpus < n_cpu:
                raise ConfigError(f"tasks need {n_cpu:g} CPUs each (--threads) but the Ray cluster has {cpus:g}")
        per_task = max((c for c, _ in needs), default=1.0) or 1.0
        return max(2, int(2 * cpus / per_task))

    # -- run -------------------------------------------------------------------------------
    def start(self) -> None:
        """Nothing to start early: the cluster is joined when the tasks come (run)."""

    def close(self) -> None:
        """Nothing left to stop: run() leaves the cluster however it ends."""

    def run(self, tasks: Iterable[Task]) -> Iterator[TaskRecord]:
        tasks = list(tasks)
        if not tasks:
            return
        self._connect()
        try:
            yield from self._run(tasks)
        finally:
            self._disconnect()

    def _run(self, tasks: list[Task]) -> Iterator[TaskRecord]:
        ray = self.ray
        device_metrics: dict[str, bool] = {}
        resources = [task_resources(t, self.threads, self.gpus_per_task, device_metrics) for t in tasks]
        limit = self._check_feasible({(r["num_cpus"], r["num_gpus"]) for r in resources})
        limit = self.max_inflight or limit
        remote = ray.remote(run_remote_task)
        variants: dict[tuple[float, float], Any] = {}
        objects = _ImageObjects(ray, tasks)
        inflight: dict[Any, Task] = {}
        pending = iter(zip(tasks, resources, strict=True))
        try:
            while True:
                while len(inflight) < limit:
                    item = next(pending, None)
                    if item is None:
                        break
                    task, res = item
                    refs = objects.take(task)
                    if isinstance(refs, str):
                        yield _error(task, "load", refs)
                        continue
                    try:
                        bitstream = self._bitstream(task)
                    except OSError as exc:
                        yield _error(task, "read-bitstream", f"{task.bitstream_path}: {exc}")
                        continue
                    key = (res["num_cpus"], res["num_gpus"])
                    fn = variants.get(key)
                    if fn is None:
                        fn = variants[key] = remote.options(max_retries=self.max_retries, retry_exceptions=False, **res)
                    inflight[fn.remote(task, refs[0], bitstream, self.threads, refs[1])] = task
                if not inflight:
                    return
                done, _ = ray.wait(list(inflight), num_returns=1)
                for obj in done:
                    task = inflight.pop(obj)
                    yield self._result(obj, task)
        finally:
            # on a cluster we joined, tasks left in flight are cancelled; a local instance we started
            # goes down with them (force-cancelling there races with replies and can abort the driver)
            for obj in inflight if not self._owns_ray else ():
                try:
                    ray.cancel(obj, force=True)
                except Exception:  # noqa: BLE001 - best effort on the way out
                    pass

    def _result(self, obj: Any, task: Task) -> TaskRecord:
        ray = self.ray
        try:
            return ray.get(obj)
        except ray.exceptions.WorkerCrashedError:
            return _error(task, "worker", f"the Ray worker process died while running this task, "
                                          f"{self.max_retries} retries included (a crash in a native library, "
                                          "or the node ran out of memory?)")
        except ray.exceptions.RayError as exc:
            return _error(task, "worker", f"Ray could not run this task: {type(exc).__name__}: {exc}")

    @staticmethod
    def _bitstream(task: Task) -> bytes | None:
        if task.bitstream_path is None:
            return None
        with open(task.bitstream_path, "rb") as f:
            return f.read()


class _ImageObjects:
    """Each image's inputs, read by the driver and put in Ray's object store once for all its tasks.

    Tasks are image-major: an image is put when its first task is submitted and our references
    dropped after its last one, so only a few originals sit in the object store. The original is
    one object; its mask and label (when the run has them) a second one.
    """

    def __init__(self, ray: Any, tasks: list[Task]) -> None:
        self.ray = ray
        self.left: Counter[str] = Counter(t.image.sha256 for t in tasks if t.image is not None)
        self.need_label = any(m.needs_label for t in tasks for m in t.metrics)
        self.refs: dict[str, tuple[Any, Any]] = {}
        self.errors: dict[str, str] = {}

    def take(self, task: Task) -> tuple[Any, Any] | str:
        """(image ref, shipped-inputs ref or None) for ``task``, or why its image cannot be read."""
        assert task.image is not None
        sha = task.image.sha256
        self.left[sha] -= 1
        if sha not in self.refs and sha not in self.errors:
            try:
                self.refs[sha] = self._put(task)
            except GcbenchError as exc:
                self.errors[sha] = str(exc)
        if sha in self.errors:
            return self.errors[sha]
        return self.refs[sha] if self.left[sha] > 0 else self.refs.pop(sha)

    def _put(self, task: Task) -> tuple[Any, Any]:
        from gcbench.data.images import load_image
        from gcbench.execution.worker import ShippedInputs, task_mask

        assert task.image is not None
        loaded = load_image(task.image.path)
        if loaded.sha256 != task.image.sha256:
            raise GcbenchError(f"{task.image.path} changed on disk since the run was planned")
        mask = task_mask(task)
        label, label_error = self._label(task) if self.need_label else (None, "")
        shipped = None
        if mask is not None or label is not None or label_error:
            shipped = self.ray.put(ShippedInputs(mask=mask, label=label, label_error=label_error))
        return self.ray.put(loaded.array), shipped

    @staticmethod
    def _label(task: Task) -> tuple[Any, str]:
        """The image's Cityscapes label map, or why there is none (the label metrics fail with it)."""
        from gcbench.data.cityscapes import read_label

        assert task.image is not None
        try:
            return read_label(task.image.path, (task.image.height, task.image.width)), ""
        except GcbenchError as exc:
            return None, str(exc)


def make_ray_executor(jobs: int, threads: int | None = None, batch: int = 1, **options: Any) -> RayExecutor:
    """The ``EXECUTORS`` factory: checks option names, so a typo is an error, not ignored.

    Ray runs one task per call: ``batch`` (tasks per call elsewhere) is accepted and not used."""
    known = {"address", "max_retries", "gpus_per_task", "max_inflight", "runtime_env"}
    unknown = set(options) - known
    if unknown:
        raise ConfigError(f"the ray executor takes options {sorted(known)}, got unknown {sorted(unknown)}")
    return RayExecutor(jobs, threads, **options)

