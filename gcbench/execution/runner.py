"""Run a benchmark: resolve codecs, metrics and the dataset, plan tasks, execute, store.

    from gcbench import RunConfig
    from gcbench import run
    report = run(RunConfig(codecs=["jpeg@50,75", "webp"], dataset="kodak", out="results/k"))

Everything is checked before any work starts (unknown names, unavailable codecs or metrics,
a missing dataset); then one failure affects one task, and the report counts failures.
"""

from __future__ import annotations

import sys
import time
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gcbench.core import defaults
from gcbench.core.errors import GcbenchError, ImageLoadError
from gcbench.execution.config import RunConfig
from gcbench.execution.plan import CodecPlan, ImageItem, MetricRef, Task, bind_masks, plan_tasks, warn_ignored
from gcbench.execution.reference_features import save_references
from gcbench.execution.resolve import resolve_codecs, resolve_metrics
from gcbench.execution.set_metrics import run_set_stage
from gcbench.results.store import ResultStore

DEFAULT_METRICS = defaults.METRICS


@dataclass
class RunReport:
    out: Path
    run_id: int
    n_tasks: int
    n_skipped: int
    n_ok: int
    n_failed: int
    n_metric_failures: int
    image_errors: list[tuple[str, str]]
    seconds: float
    outputs: list[Path] = field(default_factory=list)
    metrics_left_out: dict[str, str] = field(default_factory=dict)  # name → why (a missing weight file)

    @property
    def failed(self) -> bool:
        return bool(self.n_failed or self.n_metric_failures or self.image_errors or self.metrics_left_out)

    def text(self) -> str:
        lines = [
            f"{self.n_tasks} tasks: {self.n_ok} done, {self.n_skipped} already in the store, "
            f"{self.n_failed} failed; {self.n_metric_failures} metric failures; "
            f"{len(self.image_errors)} unreadable images ({self.seconds:.1f} s)",
        ]
        for name, err in self.image_errors:
            lines.append(f"  image error: {name}: {err}")
        for name, err in self.metrics_left_out.items():
            lines.append(f"  metric left out: {name}: {err}")
        for p in self.outputs:
            lines.append(f"  wrote {p}")
        return "\n".join(lines)


def mark_references(tasks: list[Task], refs: list[MetricRef]) -> list[Task]:
    """Let the first pending task of each image compute the set metrics' missing reference features."""
    from dataclasses import replace

    from gcbench.execution.reference_features import is_cached

    set_refs = [r for r in refs if r.is_set]
    if not set_refs:
        return tasks
    claimed: set[tuple[str, str]] = set()
    out = []
    for task in tasks:
        assert task.image is not None
        need = []
        for ref in set_refs:
            if ref not in task.metrics:
                continue
            slot = (ref.metric_id, task.image.sha256)
            if slot in claimed or is_cached(ref, task.image.sha256):
                continue
            claimed.add(slot)
            need.append(ref.metric_id)
        out.append(replace(task, need_reference=tuple(need)) if need else task)
    return out


def load_images(dataset: Any, store: ResultStore, run_id: int, limit: int | None,
                masks: Any = None) -> tuple[list[ImageItem], list[tuple[str, str]]]:
    """Every image of the run read, checked (with its mask) and recorded; (items, unreadable images)."""
    from gcbench.data.images import load_image

    items, errors = [], []
    refs = dataset.images[:limit] if limit else dataset.images
    for ref in refs:
        try:
            loaded = load_image(ref.path)
            # a missing, wrong-size or out-of-range mask is an error for this image (MaskError)
            mask = masks.check(ref.name, loaded.height, loaded.width) if masks is not None else (None, None)
        except ImageLoadError as exc:
            errors.append((ref.name, str(exc)))
            store.record_image(dataset.name, ref.name, str(ref.path), sha256=None, height=None, width=None,
                               error=str(exc), run_id=run_id)
            continue
        store.record_image(dataset.name, ref.name, str(ref.path), sha256=loaded.sha256, height=loaded.height,
                           width=loaded.width, conversions=loaded.conversions, run_id=run_id)
        items.append(ImageItem(ref.name, str(Path(ref.path).resolve()), loaded.sha256, loaded.height, loaded.width,
                               *mask))
    return items, errors


def pending_tasks(tasks: list[Task], store: ResultStore) -> tuple[list[Task], int]:
    """Drop finished tasks; turn tasks whose bitstream is stored but miss a metric into metric-only tasks."""
    state = store.task_state(t.key for t in tasks)
    todo, skipped = [], 0
    for task in tasks:
        known = state.get(task.key)
        if known is None or known[0] != "ok":
            todo.append(task)
            continue
        missing = tuple(m for m in task.metrics if m.metric_id not in known[1])
        if not missing:
            skipped += 1
            continue
        bitstream = store.bitstream_path(task.key)
        if bitstream.is_file():
            from dataclasses import replace

            todo.append(replace(task, metrics=missing, bitstream_path=str(bitstream)))
        else:
            todo.append(task)
    return todo, skipped


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, unit="task", file=sys.stderr, mininterval=0.5, dynamic_ncols=True)


@dataclass
class PreparedRun:
    """What a run resolved before any work: checked codecs and metrics, the dataset, masks, executor."""

    codecs: list[CodecPlan]
    metrics: list[MetricRef]
    metrics_left_out: dict[str, str]  # name → why (a missing weight file)
    dataset: Any
    masks: Any  # gcbench.data.masks.MaskSet or None
    executor: Any


def learned_codec_options(config: RunConfig) -> dict[str, dict[str, Any]]:
    """``codec_options`` plus what ``device`` and ``random_weights`` mean for the learned codecs run."""
    from gcbench.codecs.learned import with_learned_flags

    return with_learned_flags(config.codecs, config.codec_options, random_weights=config.random_weights,
                              device=None if config.device == defaults.DEVICE else config.device)


def prepare(config: RunConfig) -> PreparedRun:
    """Resolve and check everything a run needs; raises before anything is written."""
    from gcbench.execution.executors import make_executor

    config.check()
    batch = config.batch if config.batch is not None else defaults.batch_for(config.device)
    executor = make_executor(config.executor, config.jobs, config.threads, batch, **config.executor_options)
    try:
        return _prepared(config, executor)
    except BaseException:
        executor.close()
        raise


def _prepared(config: RunConfig, executor: Any) -> PreparedRun:
    from gcbench.data import masks as masks_mod
    from gcbench.data.datasets import load_dataset

    executor.start()  # a local pool's fork server imports torch while the rest is resolved
    codec_plans = resolve_codecs(config.codecs, learned_codec_options(config), config.binaries)
    missing_weights: dict[str, str] = {}
    metric_refs = resolve_metrics(config.metrics, config.device, config.metric_options, missing_weights)
    for name, message in missing_weights.items():
        print(f"gcbench: metric {name!r} left out of this run: {message}", file=sys.stderr)
    dataset = load_dataset(config.dataset, config.data_root)
    mask_set = masks_mod.open_for_run(config.masks, dataset)
    metric_refs = bind_masks(metric_refs, mask_set)
    warn_ignored(codec_plans, mask_set)
    return PreparedRun(codec_plans, metric_refs, missing_weights, dataset, mask_set, executor)


def resolved_config(config: RunConfig, prepared: PreparedRun) -> dict[str, Any]:
    """What the run records: the config as run, and what each name resolved to."""
    resolved = asdict(config)
    resolved["out"] = str(config.out)
    resolved["codec_specs"] = [cp.spec.to_dict() | {"run_settings": list(cp.settings), "versions": cp.versions}
                               for cp in prepared.codecs]
    resolved["metric_ids"] = {m.name: m.metric_id for m in prepared.metrics}
    resolved["metrics_left_out"] = prepared.metrics_left_out
    resolved["dataset_root"] = str(prepared.dataset.root)
    resolved["mask_set"] = prepared.masks.describe() if prepared.masks is not None else None
    resolved["executor"] = prepared.executor.describe()
    return resolved


def plan_run(config: RunConfig, prepared: PreparedRun, images: list[ImageItem]) -> list[Task]:
    """The one planning path: the sweep, then the equal-bitrate targets, through one task factory."""
    dataset = prepared.dataset
    tasks = plan_tasks(prepared.codecs if config.sweep else [], images, prepared.metrics, dataset.name,
                       str(dataset.root))
    if config.target_bpp:
        from gcbench.execution.equal_bitrate import add_target_tasks

        tasks = add_target_tasks(tasks, config, prepared.codecs, images, prepared.metrics, dataset)
    return tasks


def execute_tasks(executor: Any, todo: list[Task], store: ResultStore, run_id: int, label: str,
                  progress: bool) -> tuple[int, int, int]:
    """Run ``todo`` and store each record as it comes; (ok, failed, metric failures).

    The executor's stream is closed on the way out, whatever ends it (an error, Ctrl-C,
    SIGTERM), so its worker processes or cluster go with it.
    """
    n_ok = n_failed = n_metric_fail = 0
    with _progress(len(todo), progress) as bar, closing(executor.run(todo)) as records:
        bar.set_description(label)
        for rec in records:
            save_references(rec)  # the originals' reference features go to the cache, the rest to the store
            store.write_task(rec, run_id)
            n_ok += rec.status == "ok"
            n_failed += rec.status != "ok"
            n_metric_fail += sum(1 for m in rec.metrics if m.error)
            bar.update(1)
            if rec.status != "ok" or any(m.error for m in rec.metrics):
                bar.set_postfix(failed=n_failed, metric_failures=n_metric_fail)
    return n_ok, n_failed, n_metric_fail


def run(config: RunConfig, *, wait: bool = False) -> RunReport:
    """Run a benchmark: everything is checked first, then tasks run and every record is stored.

    One run at a time writes a folder: another run on it is refused (FolderBusyError names it),
    or, with ``wait``, waited for.
    """
    from gcbench.results.lock import lock_folder

    t_start = time.perf_counter()
    prepared = prepare(config)
    try:
        with lock_folder(config.out, wait=wait):
            return _run(config, prepared, t_start)
    finally:
        prepared.executor.close()


def _run(config: RunConfig, prepared: PreparedRun, t_start: float) -> RunReport:
    from gcbench.core.hardware import fingerprint

    out = Path(config.out)
    store = ResultStore(out)
    run_id = store.begin_run(config.argv, resolved_config(config, prepared), fingerprint())
    try:
        images, image_errors = load_images(prepared.dataset, store, run_id, config.max_images, prepared.masks)
        tasks = plan_run(config, prepared, images)
        todo, skipped = pending_tasks(tasks, store)
        todo = mark_references(todo, prepared.metrics)
        if config.write_outputs and prepared.executor.name != "inline":
            _import_in_background(("pandas", "gcbench.results.views", "gcbench.analysis.plots", "matplotlib.pyplot"))
        n_ok, n_failed, n_metric_fail = execute_tasks(prepared.executor, todo, store, run_id,
                                                      prepared.dataset.name, config.progress)
        n_metric_fail += run_set_stage(store, tasks, prepared.metrics)
        report = RunReport(out, run_id, len(tasks), skipped, n_ok, n_failed, n_metric_fail, image_errors,
                           time.perf_counter() - t_start, metrics_left_out=prepared.metrics_left_out)
        if config.write_outputs:
            report.outputs = write_outputs(out)
        store.finish_run(run_id, "failed" if report.failed else "ok", {
            k: v for k, v in asdict(report).items() if k not in ("out", "outputs")
        })
        return report
    except BaseException:
        store.finish_run(run_id, "interrupted", {})
        raise
    finally:
        store.close()


def _import_in_background(modules: tuple[str, ...]) -> None:
    """Import what the final tables and plots need while workers in other processes compute: the
    driver only waits for their records then, and the imports (half a second) leave the end of the run."""
    import importlib
    import threading

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - write_outputs imports again and reports any error itself
                return

    threading.Thread(target=load, name="gcbench-output-imports", daemon=True).start()


def write_outputs(out: Path) -> list[Path]:
    """The default products of a run: summary and per-image CSV, the RD plot (PNG and SVG)."""
    from gcbench.analysis.plots import plot_rd
    from gcbench.results.views import per_image, summary_table, write_table

    df = per_image(out)
    written = [write_table(summary_table(out), out / "summary.csv"), write_table(df, out / "per_image.csv")]
    if not df.empty and (df["status"] == "ok").any():
        written += plot_rd(out, out / "rd")
    from gcbench.execution.equal_bitrate import write_outputs as write_equal_bitrate

    written += write_equal_bitrate(out)
    return written


__all__ = ["RunConfig", "RunReport", "run", "prepare", "plan_run", "resolve_codecs", "resolve_metrics",
           "DEFAULT_METRICS", "GcbenchError"]
