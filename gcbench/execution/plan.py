"""Tasks: one (codec, setting, image), with the metrics it still needs.

A task's key hashes the codec spec and its library versions, the setting and the image
content (plus its name in the dataset); each metric's stored value is keyed by the task key
and the metric's identity (name, options, library versions). So a re-run skips finished work,
and adding a metric to a finished run computes only that metric from the stored bitstream.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from gcbench.codecs.spec import CodecSpec
from gcbench.core.settings import Setting, format_setting, numeric_value


@dataclass(frozen=True)
class MetricRef:
    name: str
    metric_id: str
    options: tuple[tuple[str, Any], ...] = ()
    device: str = "cpu"
    kind: str = "pair"
    reference_id: str = ""  # set metrics: key of the cached reference features
    needs_mask: bool = False  # the metric reads the image's mask (its id includes the mask set's)

    @property
    def is_set(self) -> bool:
        return self.kind in ("set", "task")


@dataclass(frozen=True)
class CodecPlan:
    spec: CodecSpec
    settings: tuple[Setting, ...]
    versions: dict[str, str] = field(hash=False, compare=False, default_factory=dict)
    uses_side_input: bool = False  # the codec encodes with the image's mask, so its key includes it


@dataclass(frozen=True)
class ImageItem:
    name: str
    path: str
    sha256: str
    height: int
    width: int
    mask_path: str | None = None  # the image's mask file, when the run has masks (gcbench.data.masks)
    mask_sha256: str | None = None


@dataclass(frozen=True)
class Task:
    key: str
    codec: str
    spec: CodecSpec
    codec_versions: dict[str, str] = field(hash=False, compare=False)
    setting: Setting = 0
    dataset: str = ""
    image: ImageItem | None = None
    metrics: tuple[MetricRef, ...] = ()
    # set when the bitstream is already stored and only metrics are missing
    bitstream_path: str | None = None
    # set metrics whose reference features this task computes (the first task of each image)
    need_reference: tuple[str, ...] = ()
    dataset_root: str = ""

    @property
    def setting_text(self) -> str:
        return format_setting(self.setting)

    @property
    def setting_value(self) -> float | None:
        return numeric_value(self.setting)


def task_key(spec: CodecSpec, versions: dict[str, str], setting: Setting, image: ImageItem,
             side: str | None = None) -> str:
    payload: dict[str, Any] = {
        "spec": spec.spec_hash(),
        "versions": versions,
        "setting": format_setting(setting),
        "image": image.sha256,
        "name": image.name,
    }
    if side is not None:  # the hash of the mask a side-input codec encoded with
        payload["side"] = side
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def plan_tasks(
    codecs: list[CodecPlan],
    images: list[ImageItem],
    metrics: list[MetricRef],
    dataset: str,
    dataset_root: str = "",
) -> list[Task]:
    """All tasks, image-major (so a worker reuses a loaded image for consecutive tasks)."""
    tasks = []
    for image in images:
        for cp in codecs:
            for setting in cp.settings:
                tasks.append(
                    Task(
                        key=task_key(cp.spec, cp.versions, setting, image,
                                     image.mask_sha256 if cp.uses_side_input else None),
                        codec=cp.spec.name,
                        spec=cp.spec,
                        codec_versions=cp.versions,
                        setting=setting,
                        dataset=dataset,
                        image=image,
                        metrics=tuple(metrics),
                        dataset_root=dataset_root,
                    )
                )
    return tasks
