"""After the per-image tasks: set and task metrics (FID, KID, mIoU) per (codec, setting).

Features of every reconstruction were stored by the tasks; reference features of originals sit
in the cache (computed by the first task of each image, or here if that task failed). A value
is keyed by the metric identity and the exact set of task keys it was computed from, so a
re-run recomputes it only when its inputs changed.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

from gcbench.execution.plan import MetricRef, Task
from gcbench.results.features import (
    load_array,
    reference_path,
    save_array,
    task_feature_path,
)
from gcbench.results.store import ResultStore


def set_metric_key(metric_id: str, task_keys: list[str]) -> str:
    h = hashlib.sha256(metric_id.encode())
    for key in sorted(task_keys):
        h.update(key.encode())
    return h.hexdigest()[:32]


def _reference(metric: Any, ref: MetricRef, task: Task) -> Any:
    """Cached reference features of the task's original; computed here when missing."""
    from gcbench.data.images import load_image
    from gcbench.execution.worker import image_context

    assert task.image is not None
    path = reference_path(ref.reference_id, task.image.sha256)
    if path.is_file():
        return load_array(path)
    original = load_image(task.image.path).array
    array = metric.reference_features(original, image_context(task))
    if array is not None:
        save_array(path, array)
    return array


def has_references(metric: Any) -> bool:
    """Whether the metric overrides ``reference_features`` (else there is nothing to load)."""
    from gcbench.metrics.base import SetMetric

    return type(metric).reference_features is not SetMetric.reference_features


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
        metric = get_metric(ref.name, device=ref.device, **dict(ref.options))
        prepared = False
        for (dataset, codec, setting), group in groups.items():
            ok = [t for t in group if status.get(t.key, ("", set()))[0] == "ok" and ref.metric_id in status[t.key][1]]
            key = set_metric_key(ref.metric_id, [t.key for t in ok])
            if store.has_set_metric(key):
                continue
            common = dict(codec=codec, setting=setting, setting_value=group[0].setting_value, dataset=dataset,
                          metric=ref.name, metric_id=ref.metric_id, n_images=len(ok))
            try:
                if not ok:
                    raise ValueError("no image of this setting has features (all tasks failed)")
                paths = [task_feature_path(store.folder, ref.metric_id, t.key) for t in ok]
                features = [load_array(p) for p in paths if p.is_file()]
                if len(features) != len(ok):
                    raise ValueError(f"{len(ok) - len(features)} feature files are missing from {store.folder / 'features'}")
                if not prepared:
                    metric.prepare()
                    prepared = True
                references = ([r for r in (_reference(metric, ref, t) for t in ok) if r is not None]
                              if has_references(metric) else [])
                result = metric.finalize(features, references)
                store.write_set_metric(key, values=result.values, n_items=result.n_items, flags=result.flags,
                                       versions=metric.versions(), **common)
            except Exception as exc:  # noqa: BLE001 - one group's failure must not stop the others
                failures += 1
                store.write_set_metric(key, values=None, n_items=None, error=_error_text(exc), **common)
    return failures


