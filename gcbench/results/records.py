"""The typed records of a results folder: what a task produces and what the store reads back.

Written by the execution layer: :class:`TaskRecord` and :class:`MetricOutcome` (one per task,
the bitstream and features travel with it). Read back by views, report, study and timing:
:class:`RunRecord` (with its resolved configuration parsed into :class:`RunConfigRecord`),
:class:`StoredTask`, :class:`MetricValue`, :class:`SetMetricValue` and :class:`ImageRecord`.
No module outside :mod:`gcbench.results.store` reads a column or a config key by its string name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")


# -- written by a task ------------------------------------------------------------------------

@dataclass
class MetricOutcome:
    """The values (or the error) of one metric on one task."""

    metric: str
    metric_id: str
    values: dict[str, float] | None = None
    error: str | None = None
    versions: dict[str, str] = field(default_factory=dict)


@dataclass
class TaskIdentity:
    """Which (codec, setting, image) a task is, and whether it succeeded."""

    key: str
    codec: str
    setting: str
    setting_value: float | None
    rate_param: str
    dataset: str
    image: str
    image_sha256: str
    height: int
    width: int
    status: str  # "ok" or "error"


@dataclass
class TaskRecord(TaskIdentity):
    """Everything stored for one (codec, setting, image)."""

    error_stage: str | None = None
    error: str | None = None
    n_bytes: int | None = None
    bpp: float | None = None
    bpp_kind: str | None = None
    encode_s: float | None = None
    decode_s: float | None = None
    timing_kind: str = "single-shot"
    codec_spec_hash: str = ""
    codec_versions: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    metrics: list[MetricOutcome] = field(default_factory=list)
    data: bytes | None = None  # the bitstream; written to a file, not into the database
    reused_bitstream: bool = False
    # set metrics: per-task features (metric_id → array) and reference features of the
    # original ((reference_id, image_sha256) → array); written to files, not into the database
    features: dict[str, Any] = field(default_factory=dict)
    references: dict[tuple[str, str], Any] = field(default_factory=dict)
    # bytes of the entropy-coded strings only (CompressAI's count); None when the whole file is payload
    payload_bytes: int | None = None


# -- read back --------------------------------------------------------------------------------

def loads_or(text: str | None, default: Any) -> Any:
    """Stored JSON text parsed, or ``default`` when there is none or it does not parse."""
    if not text:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return default


def decode_values(text: str | None) -> dict[str, float]:
    """Metric values as stored (inf and NaN are kept as text, JSON has neither)."""
    if not text:
        return {}
    return {k: float(v) for k, v in json.loads(text).items()}


def encode_values(values: dict[str, float]) -> str:
    """The stored text of metric values; a lossless PSNR (inf) survives the round trip."""
    return json.dumps({k: (v if math.isfinite(v) else repr(v)) for k, v in values.items()}, sort_keys=True)


@dataclass(frozen=True)
class RunConfigRecord:
    """The resolved configuration a run recorded (``gcbench run``'s RunConfig plus what it resolved)."""

    codecs: list[str] = field(default_factory=list)
    dataset: str = ""
    metrics: list[str] = field(default_factory=list)
    codec_specs: list[dict[str, Any]] = field(default_factory=list)  # spec dict + run_settings + versions
    metrics_left_out: dict[str, str] = field(default_factory=dict)
    executor: Any = ""
    target_bpp: list[float] = field(default_factory=list)
    target_mode: str = "nearest"
    sweep: bool = True
    raw: dict[str, Any] = field(default_factory=dict)  # everything, for keys added later

    @classmethod
    def parse(cls, text: str | None) -> RunConfigRecord:
        """The record of a stored config (empty for a run that recorded none)."""
        raw = loads_or(text, {})
        if not isinstance(raw, dict):
            raw = {}
        return cls(
            codecs=list(raw.get("codecs") or []), dataset=str(raw.get("dataset") or ""),
            metrics=list(raw.get("metrics") or []), codec_specs=list(raw.get("codec_specs") or []),
            metrics_left_out=dict(raw.get("metrics_left_out") or {}), executor=raw.get("executor", ""),
            target_bpp=list(raw.get("target_bpp") or []), target_mode=str(raw.get("target_mode") or "nearest"),
            sweep=raw.get("sweep", True) is not False, raw=raw,
        )

    def swept(self) -> set[tuple[str, str]]:
        """(codec, setting text) pairs of the sweep this run asked for (empty with ``sweep=False``)."""
        from gcbench.core.settings import format_setting

        if not self.sweep:
            return set()
        return {(spec["name"], format_setting(s)) for spec in self.codec_specs for s in spec.get("run_settings", [])}

    def specs(self) -> list[Any]:
        """The codec specs this run used, rebuilt as :class:`gcbench.codecs.spec.CodecSpec`."""
        from gcbench.codecs.spec import CodecSpec

        names = {f.name for f in fields(CodecSpec)}
        out = []
        for d in self.codec_specs:
            try:
                out.append(CodecSpec(**{k: v for k, v in d.items() if k in names}))
            except TypeError:  # a spec written by another gcbench version
                continue
        return out


@dataclass(frozen=True)
class RunRecord:
    """One invocation of ``gcbench run`` on the folder."""

    run_id: int
    started: float | None
    finished: float | None
    argv: list[str] | None
    config: RunConfigRecord
    gcbench_version: str
    hardware: dict[str, Any]
    status: str
    summary: dict[str, Any]


@dataclass(frozen=True)
class ImageRecord:
    """A dataset file seen by a run: its size, conversions on load, or why it failed to load."""

    dataset: str
    name: str
    path: str
    image_sha256: str | None
    height: int | None
    width: int | None
    conversions: list[str]
    status: str
    error: str | None
    run_id: int | None


@dataclass
class StoredTask(TaskIdentity):
    """One stored (codec, setting, image) result."""

    run_id: int | None
    error_stage: str | None
    error: str | None
    n_bytes: int | None
    bpp: float | None
    bpp_kind: str | None
    encode_s: float | None
    decode_s: float | None
    timing_kind: str | None
    bitstream: str | None
    codec_spec_hash: str
    codec_versions: dict[str, str]
    provenance: dict[str, Any]
    created: float
    payload_bytes: int | None = None

    @property
    def bpp_payload(self) -> float | None:
        """8·payload bytes / pixels; the file's bpp when the codec's whole file is payload."""
        if self.payload_bytes is None:
            return self.bpp
        return 8.0 * self.payload_bytes / (self.height * self.width)


@dataclass(frozen=True)
class MetricValue:
    """The values (or error) one metric stored for one task."""

    task_key: str
    metric: str
    metric_id: str
    status: str
    values: dict[str, float]
    error: str | None
    versions: dict[str, str]
    created: float


@dataclass(frozen=True)
class SetMetricValue:
    """A set or task metric (FID, KID, mIoU) of one (dataset, codec, setting)."""

    key: str
    codec: str
    setting: str
    setting_value: float | None
    dataset: str
    metric: str
    metric_id: str
    status: str
    values: dict[str, float]
    n_items: int | None
    error: str | None
    flags: list[str]
    versions: dict[str, str]
    created: float
    n_images: int | None = None  # images whose features it combined (None: stored by gcbench 0.1)


def latest(rows: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
    """The last row of each key, rows given oldest first: the latest row wins.

    A (codec, setting, image) re-run under another key (say, a new library version) leaves the
    older row in the store; every reader shows the newer one.
    """
    out: dict[Hashable, T] = {}
    for row in rows:
        out[key(row)] = row
    return list(out.values())
