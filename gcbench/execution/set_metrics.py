"""After the per-image tasks: set and task metrics (FID, KID, mIoU) per (codec, setting).

Features of every reconstruction were stored by the tasks; reference features of originals sit
in the cache (:mod:`gcbench.execution.reference_features`: computed by the first task of each
image, or here if that task failed). Both are handed to the metric as feature sets over their
files (:class:`gcbench.results.features.FeatureFiles`), read one file at a time, so memory does
not grow with the number of images. A value is keyed by the metric identity and the exact set
of task keys it was computed from, so a re-run recomputes it only when its inputs changed.

A value computed from fewer images than the setting has (some tasks failed) says so in its
flags: ``over 22 of 24 images``.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

from gcbench.execution.plan import MetricRef, Task
from gcbench.execution.reference_features import bind_references, reference_files
from gcbench.metrics.base import SetResult
from gcbench.results.features import FeatureFiles, task_feature_path
from gcbench.results.store import ResultStore


def set_metric_key(metric_id: str, task_keys: list[str]) -> str:
    """The store key of a set value: the metric identity and the exact tasks it was computed from."""
    h = hashlib.sha256(metric_id.encode())
    for key in sorted(task_keys):
        h.update(key.encode())
    return h.hexdigest()[:32]


def compute_set_metric(metric: Any, feature_paths: list[Path], reference_paths: list[Path],
                       scratch: Path | None = None) -> SetResult:
    """``metric.finalize`` over feature files, read in bounded memory; scratch copies removed after."""
    with FeatureFiles(feature_paths, scratch) as features, FeatureFiles(reference_paths, scratch) as references:
        return metric.finalize(features, references)


def image_count_flag(n_used: int, n_planned: int) -> list[str]:
    """The flag of a value computed from fewer images than its setting has (failed tasks)."""
    if n_used >= n_planned:
        return []
    return [f"over {n_used} of {n_planned} images ({n_planned - n_used} failed or without features)"]


def with_features(store: ResultStore, ref: MetricRef, group: list[Task], status: dict[str, Any]) -> list[Task]:
    """The tasks of a setting whose features of this metric are stored (the task and its metric ran)."""
    return [t for t in group if status.get(t.key, ("", set()))[0] == "ok" and ref.metric_id in status[t.key][1]
            and task_feature_path(store.folder, ref.metric_id, t.key).is_file()]


def _compute_group(store: ResultStore, metric: Any, ref: MetricRef, group: list[Task], ok: list[Task]) -> SetResult:
    if not ok:
        raise ValueError("no image of this setting has features (all its tasks or this metric failed)")
    paths = [task_feature_path(store.folder, ref.metric_id, t.key) for t in ok]
    result = compute_set_metric(metric, paths, reference_files(metric, ref, ok), store.folder / "features")
    result.flags = image_count_flag(len(ok), len(group)) + list(result.flags)
    return result


def run_set_stage(store: ResultStore, tasks: list[Task], refs: list[MetricRef]) -> int:
    """Compute every set metric for every (dataset, codec, setting); returns the number of failures."""
    from gcbench.execution.worker import _error_text
    from gcbench.metrics.registry import get_metric

    set_refs = [r for r in refs if r.is_set]
    if not set_refs:
        return 0
    groups: dict[tuple[str, str, str], list[Task]] = defaultdict(list)
    for task in tasks:
        groups[(task.dataset, task.codec, task.setting_text)].append(task)
    status = store.task_state(t.key for t in tasks)
    failures = 0
    for ref in set_refs:
        metric = bind_references(get_metric(ref.name, device=ref.device, **dict(ref.options)), ref)
        prepared = False
        for (dataset, codec, setting), group in groups.items():
            ok = with_features(store, ref, group, status)
            key = set_metric_key(ref.metric_id, [t.key for t in ok])
            if store.has_set_metric(key):
                continue
            common = dict(codec=codec, setting=setting, setting_value=group[0].setting_value, dataset=dataset,
                          metric=ref.name, metric_id=ref.metric_id, n_images=len(ok))
            try:
                if ok and not prepared:
                    metric.prepare()
                    prepared = True
                result = _compute_group(store, metric, ref, group, ok)
                store.write_set_metric(key, values=result.values, n_items=result.n_items, flags=result.flags,
                                       versions=metric.versions(), **common)
            except Exception as exc:  # noqa: BLE001 - one group's failure must not stop the others
                failures += 1
                store.write_set_metric(key, values=None, n_items=None, error=_error_text(exc), **common)
    return failures
