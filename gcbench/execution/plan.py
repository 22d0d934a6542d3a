"""Tasks: one (codec, setting, image), with the metrics it still needs.

A task's key hashes the codec spec and its library versions, the setting and the image
content (plus its name in the dataset), and, for a codec that encodes with the image's mask,
the mask's content; each metric's stored value is keyed by the task key and the metric's
identity (name, options, library versions, the mask set for mask-reading metrics). So a re-run
skips finished work, adding a metric to a finished run computes only that metric from the
stored bitstream, and other masks re-run exactly what depends on them.

:func:`make_task` is the one task factory: the sweep (:func:`plan_tasks`), the equal-bitrate
targets (gcbench.execution.equal_bitrate) and every executor (local pool, Ray) run the tasks it
builds, so one (codec, setting, image, mask) has one key whichever path planned it.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

from gcbench.codecs.spec import CodecSpec
from gcbench.core.errors import ConfigError
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
    needs_label: bool = False  # the metric reads the image's ground-truth label map (Cityscapes)

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
    """The hash a task is stored under; ``side`` is the hash of the mask a side-input codec encodes with."""
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


def side_input(plan: CodecPlan, image: ImageItem) -> str | None:
    """What a codec encodes besides the pixels, as a hash: the image's mask for a side-input codec."""
    return image.mask_sha256 if plan.uses_side_input else None


def make_task(plan: CodecPlan, setting: Setting, image: ImageItem, metrics: tuple[MetricRef, ...] | list[MetricRef],
              dataset: str, dataset_root: str = "") -> Task:
    """The one task factory: every path that plans work builds its tasks here."""
    return Task(
        key=task_key(plan.spec, plan.versions, setting, image, side_input(plan, image)),
        codec=plan.spec.name,
        spec=plan.spec,
        codec_versions=plan.versions,
        setting=setting,
        dataset=dataset,
        image=image,
        metrics=tuple(metrics),
        dataset_root=dataset_root,
    )


def plan_tasks(
    codecs: list[CodecPlan],
    images: list[ImageItem],
    metrics: list[MetricRef],
    dataset: str,
    dataset_root: str = "",
) -> list[Task]:
    """All tasks, image-major (so a worker reuses a loaded image for consecutive tasks)."""
    return [make_task(cp, setting, image, metrics, dataset, dataset_root)
            for image in images for cp in codecs for setting in cp.settings]


def bind_masks(refs: list[MetricRef], masks: Any) -> list[MetricRef]:
    """Fold the mask set's identity into mask-reading metrics; refuse them when there are no masks.

    ``masks`` is the run's :class:`gcbench.data.masks.MaskSet` or None.
    """
    out = []
    for ref in refs:
        if not ref.needs_mask:
            out.append(ref)
            continue
        if masks is None:
            raise ConfigError(
                f"metric {ref.name!r} needs a mask per image: give a folder of masks with --masks DIR "
                "(RunConfig.masks), or leave the metric out"
            )
        mid = hashlib.sha256(f"{ref.metric_id}|masks:{masks.identity()}".encode()).hexdigest()[:16]
        out.append(replace(ref, metric_id=mid))
    return out


def warn_ignored(codecs: list[CodecPlan], masks: Any) -> list[str]:
    """Warn once per run about codecs that ignore the masks given; returns their names."""
    if masks is None:
        return []
    ignoring = [cp.spec.name for cp in codecs if not cp.uses_side_input]
    if ignoring:
        warnings.warn(
            f"masks from {masks.root} are given, but codec(s) {', '.join(ignoring)} ignore side input: "
            "they encode without the masks (region metrics still use them)",
            UserWarning,
            stacklevel=4,  # the caller of gcbench.run
        )
    return ignoring
