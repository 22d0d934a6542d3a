"""What runs inside a worker: encode, decode, check, measure one task.

Workers pin their thread counts (torch intra/inter-op, OpenMP, BLAS) before torch is
imported: two processes each running multi-threaded torch on two cores are slower than one.

A worker on this machine reads an image's inputs by the paths the run planned (the original,
its mask, its Cityscapes label). A remote executor reads them on the driver and hands them
over by value (``image=``, ``shipped=``), so its workers need none of the driver's files.
"""

from __future__ import annotations

import os
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from gcbench.codecs.base import Codec, Encoded, as_rgb_uint8
from gcbench.core.errors import CodecError, GcbenchError, MetricError
from gcbench.data.masks import planned_mask
from gcbench.execution.plan import MetricRef, Task
from gcbench.results.records import MetricOutcome, TaskRecord

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def pin_threads(threads: int) -> dict[str, Any]:
    """Fix this process's thread counts; returns what was set (recorded with the run)."""
    for var in _THREAD_VARS:
        os.environ[var] = str(threads)
    info: dict[str, Any] = {"threads": threads}
    try:
        import torch

        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:
            pass  # already set once in this process; intra-op is what matters here
        info["torch_intra_op"] = torch.get_num_threads()
        info["torch_inter_op"] = torch.get_num_interop_threads()
    except ImportError:
        pass
    return info


def init_worker(threads: int, parent: int | None = None) -> None:
    """A pool worker's initialiser: pin its thread counts, and end with ``parent`` (the process
    that forked it: the fork server, or the driver for spawned workers).

    A worker started while an interrupt unwinds the pool is never told to stop; without this it
    would wait for work for ever, holding the resource tracker's pipe open.
    """
    pin_threads(threads)
    if parent is not None:
        exit_with_parent(parent)


def exit_with_parent(parent: int) -> bool:
    """Have Linux send this process SIGTERM when ``parent`` ends; exit now if it has already
    ended. False where the platform cannot (no ``prctl``): the pool's own shutdown is all there is."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return False
    pr_set_pdeathsig = 1
    if prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # it ended before the request was in place
        os._exit(1)
    return True


class WorkerState:
    """Per-process caches: codecs by spec, metrics by identity, the last few images."""

    def __init__(self, image_cache: int = 2) -> None:
        self.codecs: dict[str, Codec] = {}
        self.metrics: dict[str, Any] = {}
        self.images: OrderedDict[str, np.ndarray] = OrderedDict()
        self.image_cache = image_cache

    def codec(self, task: Task) -> Codec:
        key = task.spec.spec_hash()
        codec = self.codecs.get(key)
        if codec is None:
            from gcbench.codecs.spec import build_codec

            codec = build_codec(task.spec)
            codec.prepare()
            self.codecs[key] = codec
        return codec

    def metric(self, ref: MetricRef) -> Any:
        metric = self.metrics.get(ref.metric_id)
        if metric is None:
            from gcbench.metrics.registry import get_metric

            from gcbench.execution.reference_features import bind_references

            metric = bind_references(get_metric(ref.name, device=ref.device, **dict(ref.options)), ref)
            metric.prepare()
            self.metrics[ref.metric_id] = metric
        return metric

    def image(self, task: Task) -> np.ndarray:
        from gcbench.data.images import load_image

        assert task.image is not None
        path = task.image.path
        array = self.images.get(path)
        if array is None:
            loaded = load_image(path)
            if loaded.sha256 != task.image.sha256:
                raise GcbenchError(f"{path} changed on disk since the run was planned")
            array = loaded.array
            self.images[path] = array
            while len(self.images) > self.image_cache:
                self.images.popitem(last=False)
        else:
            self.images.move_to_end(path)
        return array


_STATE: WorkerState | None = None


def state() -> WorkerState:
    """This process's worker caches (created on first use)."""
    global _STATE
    if _STATE is None:
        _STATE = WorkerState()
    return _STATE


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, GcbenchError):
        return str(exc)
    tail = traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:]
    return f"{type(exc).__name__}: {exc}\n" + "".join(tail).strip()


def _record(task: Task) -> TaskRecord:
    assert task.image is not None
    return TaskRecord(
        key=task.key, codec=task.codec, setting=task.setting_text, setting_value=task.setting_value,
        rate_param=task.spec.rate_param, dataset=task.dataset, image=task.image.name,
        image_sha256=task.image.sha256, height=task.image.height, width=task.image.width, status="ok",
        codec_spec_hash=task.spec.spec_hash(), codec_versions=dict(task.codec_versions),
    )


@dataclass(frozen=True)
class ShippedInputs:
    """An image's inputs besides its pixels, read on the driver and sent with its tasks by value."""

    mask: np.ndarray | None = None  # the planned mask (None: the run has none)
    label: np.ndarray | None = None  # the ground-truth label map, for metrics that need one
    label_error: str = ""  # why the driver could not read the label (the metric fails with it)


def task_mask(task: Task, shipped: ShippedInputs | None = None) -> np.ndarray | None:
    """The task's mask: shipped by value, or read from the path the run planned (None without masks)."""
    if shipped is not None:
        return shipped.mask
    assert task.image is not None
    return planned_mask(task.image.mask_path, task.image.mask_sha256, (task.image.height, task.image.width))


def _encode(task: Task, codec: Codec, original: np.ndarray, rec: TaskRecord, shipped: ShippedInputs | None) -> bytes:
    """Encode once, timed; the record gets bytes, bpp and the codec's provenance."""
    # the mask is read before the clock starts; only codecs that use side input get it
    side = task_mask(task, shipped) if codec.uses_side_input else None
    t0 = time.perf_counter()
    out = codec.encode(original, task.setting) if side is None else codec.encode(original, task.setting, side=side)
    rec.encode_s = time.perf_counter() - t0
    encoded = out if isinstance(out, Encoded) else Encoded(bytes(out))
    data = encoded.data
    if not isinstance(data, (bytes, bytearray)) or len(data) == 0:
        raise CodecError("encoder produced no bytes")
    rec.n_bytes = len(data)
    rec.payload_bytes = encoded.payload_bytes  # the codec's own count (None: the file is the payload)
    pixels = original.shape[0] * original.shape[1]
    if encoded.bits_estimate is not None:
        rec.bpp, rec.bpp_kind = float(encoded.bits_estimate) / pixels, "estimated"
    else:
        rec.bpp, rec.bpp_kind = 8.0 * len(data) / pixels, "exact"
    rec.provenance = dict(encoded.info)
    rec.data = bytes(data)
    return rec.data


@dataclass
class _Decoded:
    """A task whose reconstruction is ready for its metrics."""

    rec: TaskRecord
    codec: Codec
    original: np.ndarray
    recon: np.ndarray


def _decode(task: Task, st: WorkerState, image: np.ndarray | None, bitstream: bytes | None,
            shipped: ShippedInputs | None) -> _Decoded | TaskRecord:
    """Load, encode (or read the stored bitstream) and decode one task; its record on failure."""
    rec = _record(task)
    stage = "load"
    try:
        original = st.image(task) if image is None else image
        stage = "setup"
        codec = st.codec(task)
        size = (original.shape[0], original.shape[1])
        if task.bitstream_path is not None:
            stage = "read-bitstream"
            if bitstream is None:
                with open(task.bitstream_path, "rb") as f:
                    bitstream = f.read()
            data = bitstream
            rec.reused_bitstream = True
        else:
            stage = "encode"
            data = _encode(task, codec, original, rec, shipped)
        stage = "decode"
        t0 = time.perf_counter()
        recon = codec.decode(bytes(data), size)
        decode_s = time.perf_counter() - t0
        if not rec.reused_bitstream:
            rec.decode_s = decode_s
        recon = as_rgb_uint8(recon)
        if recon.shape != original.shape:
            raise CodecError(f"decoded image is {recon.shape[1]}×{recon.shape[0]}, original is {size[1]}×{size[0]}")
    except Exception as exc:  # noqa: BLE001 - one task's failure must not stop the run
        rec.status, rec.error_stage, rec.error = "error", stage, _error_text(exc)
        rec.data = None
        return rec
    return _Decoded(rec, codec, original, recon)


def execute(task: Task, st: WorkerState | None = None, *, image: np.ndarray | None = None,
            bitstream: bytes | None = None, shipped: ShippedInputs | None = None) -> TaskRecord:
    """Run one task; every failure becomes part of the record, nothing is raised.

    ``image``, ``bitstream`` and ``shipped`` let a remote executor hand over the original, a
    stored bitstream and the image's mask and label, for workers that cannot read the driver's files.
    """
    (record,) = _execute([(task, image, bitstream, shipped)], st)
    return record


def batchable(ref: MetricRef, metric: Any) -> bool:
    """A pair metric on a device that takes nothing but the two images: one call can serve many tasks."""
    return (getattr(metric, "kind", "") == "pair" and getattr(metric, "uses_device", False) and not ref.is_set
            and not getattr(metric, "needs_mask", False) and not getattr(metric, "needs_codec", False))


def execute_many(tasks: list[Task], st: WorkerState | None = None) -> list[TaskRecord]:
    """Run several tasks, computing each batchable metric once over all of them (stacked by
    size on the metric's device: the CUDA path); the records equal ``execute`` on each task."""
    return _execute([(task, None, None, None) for task in tasks], st)


_Inputs = tuple[Task, "np.ndarray | None", "bytes | None", "ShippedInputs | None"]


def _execute(inputs: list[_Inputs], st: WorkerState | None) -> list[TaskRecord]:
    """Decode every task, measure its metrics in their listed order; a batchable metric shared by
    several tasks is computed in one call and its outcomes put back in their places."""
    st = st or state()
    decoded = [(task, shipped, _decode(task, st, image, bitstream, shipped)) for task, image, bitstream, shipped in inputs]
    batches: dict[str, list[tuple[MetricRef, Task, _Decoded, int]]] = {}
    for task, shipped, done in decoded:
        if isinstance(done, TaskRecord):
            continue
        for ref in task.metrics:
            # a lone task has nothing to share a call with: its metrics are measured one by one
            metric = _metric_or_none(st, ref) if len(inputs) > 1 else None
            if metric is not None and batchable(ref, metric):
                batches.setdefault(ref.metric_id, []).append((ref, task, done, len(done.rec.metrics)))
                done.rec.metrics.append(MetricOutcome(metric=ref.name, metric_id=ref.metric_id))  # its place
            else:
                done.rec.metrics.append(_measure(ref, task, st, done.codec, done.original, done.recon, done.rec, shipped))
    for items in batches.values():
        _measure_batch(st, items)
    return [done if isinstance(done, TaskRecord) else done.rec for _, _, done in decoded]


def _metric_or_none(st: WorkerState, ref: MetricRef) -> Any:
    try:
        return st.metric(ref)
    except Exception:  # noqa: BLE001 - _measure records the error on each task
        return None


def _measure_batch(st: WorkerState, items: list[tuple[MetricRef, Task, _Decoded, int]]) -> None:
    """One metric over many tasks in one call, each outcome put in the place kept for it; should
    the call fail, each task is measured alone, so an error lands on the task that caused it."""
    ref = items[0][0]
    metric = st.metric(ref)
    try:
        values = metric.compute_many([(done.original, done.recon) for _, _, done, _ in items])
    except Exception:  # noqa: BLE001
        for ref, task, done, place in items:
            done.rec.metrics[place] = _measure(ref, task, st, done.codec, done.original, done.recon, done.rec, None)
        return
    versions = metric.versions()
    for (ref, _, done, place), value in zip(items, values, strict=True):
        done.rec.metrics[place] = MetricOutcome(metric=ref.name, metric_id=ref.metric_id, versions=versions,
                                                values={k: float(v) for k, v in value.items()})


def _measure(ref: MetricRef, task: Task, st: WorkerState, codec: Codec, original: np.ndarray, recon: np.ndarray,
             rec: TaskRecord, shipped: ShippedInputs | None) -> MetricOutcome:
    """One metric of a task: values, or set features (and the original's reference), or its error."""
    assert task.image is not None
    outcome = MetricOutcome(metric=ref.name, metric_id=ref.metric_id)
    try:
        metric = st.metric(ref)
        outcome.versions = metric.versions()
        if ref.is_set:
            ctx = image_context(task, shipped, needs_label=ref.needs_label)
            rec.features[ref.metric_id] = metric.item_features(original, recon, ctx)
            if ref.metric_id in task.need_reference:
                reference = metric.reference_features(original, ctx)
                if reference is not None:
                    rec.references[(ref.reference_id, task.image.sha256)] = reference
            outcome.values = {}
        else:
            inputs = metric_inputs(metric, task, codec, shipped)
            outcome.values = {k: float(v) for k, v in metric.compute(original, recon, **inputs).items()}
    except Exception as exc:  # noqa: BLE001
        outcome.error = _error_text(exc)
    return outcome


def metric_inputs(metric: Any, task: Task, codec: Codec, shipped: ShippedInputs | None = None) -> dict[str, Any]:
    """The extra ``compute`` arguments a pair metric declares: ``mask=`` and ``codec=, setting=``."""
    inputs: dict[str, Any] = {}
    if getattr(metric, "needs_mask", False):
        mask = task_mask(task, shipped)
        if mask is None:
            raise MetricError(f"metric {metric.name!r} needs a mask and this run has none (give --masks DIR)")
        inputs["mask"] = mask
    if getattr(metric, "needs_codec", False):
        inputs["codec"], inputs["setting"] = codec, task.setting
    return inputs


def image_context(task: Task, shipped: ShippedInputs | None = None, needs_label: bool = False) -> Any:
    """What a set or task metric knows about the image: names, paths and, when shipped, its label map."""
    from gcbench.metrics.base import ImageContext

    assert task.image is not None
    label = None
    if shipped is not None and needs_label:
        if shipped.label is None:
            raise MetricError(shipped.label_error or f"no label was sent for {task.image.name}")
        label = shipped.label
    return ImageContext(name=task.image.name, path=task.image.path, dataset=task.dataset,
                        dataset_root=task.dataset_root, sha256=task.image.sha256, label=label)
