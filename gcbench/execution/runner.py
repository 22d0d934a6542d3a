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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gcbench.core.errors import (
    ConfigError,
    GcbenchError,
    ImageLoadError,
    UnavailableError,
    WeightsError,
)
from gcbench.core.settings import split_codec_arg
from gcbench.execution.plan import CodecPlan, ImageItem, MetricRef, Task, plan_tasks
from gcbench.execution.set_metrics import run_set_stage
from gcbench.results.store import ResultStore

DEFAULT_METRICS = ("psnr", "ms-ssim")


@dataclass
class RunConfig:
    codecs: list[str]  # "name" or "name@s1,s2" or "name@start:stop:step"
    dataset: str
    out: str | Path
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    jobs: int = 1
    threads: int | None = None  # per worker; default: cores // jobs
    device: str = "cpu"
    data_root: str | None = None
    executor: str = "local"
    executor_options: dict[str, Any] = field(default_factory=dict)
    codec_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # codec → option overrides
    binaries: dict[str, str] = field(default_factory=dict)  # program name → path (command-line codecs)
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_images: int | None = None
    masks: str | None = None  # folder of per-image masks matched by name (gcbench.data.masks)
    progress: bool = True
    write_outputs: bool = True  # summary/per-image CSV and the RD plot in ``out``
    argv: list[str] | None = None
    # equal-bitrate comparison (gcbench.execution.equal_bitrate): per image, the setting of each codec nearest
    # each target bpp ("nearest") or the highest under it ("under"); sweep=False runs only those
    target_bpp: list[float] = field(default_factory=list)
    target_mode: str = "nearest"
    sweep: bool = True


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


def resolve_codecs(args: list[str], overrides: dict[str, dict[str, Any]] | None = None,
                   binaries: dict[str, str] | None = None) -> list[CodecPlan]:
    from gcbench.codecs.external import check_binaries_used, with_binaries
    from gcbench.codecs.registry import codecs as codec_registry
    from gcbench.codecs.spec import build_codec

    if not args:
        raise ConfigError("no codec given (use --codec NAME; `gcbench ls codecs` lists them)")
    plans: list[CodecPlan] = []
    seen: set[str] = set()
    for arg in args:
        name, settings = split_codec_arg(arg)
        if name in seen:
            raise ConfigError(f"codec {name!r} is given twice; list its settings once: {name}@a,b,c")
        seen.add(name)
        spec = codec_registry.get(name)
        if overrides and name in overrides:
            spec = spec.with_options(**overrides[name])
        spec = with_binaries(spec, binaries)
        codec = build_codec(spec)
        avail = codec.available()
        if not avail:
            raise UnavailableError(f"codec {name!r} cannot run here: {avail.reason}" + (f". To fix: {avail.hint}" if avail.hint else ""))
        chosen = tuple(settings) if settings is not None else tuple(codec.settings())
        codec.preflight(list(chosen))
        plans.append(CodecPlan(spec=spec, settings=chosen, versions=codec.versions(),
                               uses_side_input=bool(codec.uses_side_input)))
    check_binaries_used(binaries, [p.spec for p in plans])
    return plans


def resolve_metrics(names: list[str], device: str, options: dict[str, dict[str, Any]] | None = None,
                    missing: dict[str, str] | None = None) -> list[MetricRef]:
    """References of the metrics to compute. A metric whose weight file is missing is left out
    and its message put in ``missing`` (when given; else the WeightsError is raised)."""
    from gcbench.metrics.registry import get_metric
    from gcbench.metrics.registry import metrics as metric_registry

    refs: list[MetricRef] = []
    for name in dict.fromkeys(names):
        cls = metric_registry.get(name)
        avail = cls.available()
        if not avail:
            raise UnavailableError(f"metric {name!r} cannot run here: {avail.reason}" + (f". To fix: {avail.hint}" if avail.hint else ""))
        opts = dict((options or {}).get(name, {}))
        metric = get_metric(name, device=device, **opts)
        try:
            metric.preflight()
        except WeightsError as exc:
            if missing is None:
                raise
            missing[name] = str(exc)
            continue
        reference_id = metric.reference_identity() if cls.kind in ("set", "task") else ""
        refs.append(MetricRef(name=name, metric_id=metric.identity(), options=tuple(sorted(opts.items())),
                              device=device, kind=cls.kind, reference_id=reference_id,
                              needs_mask=bool(getattr(cls, "needs_mask", False))))
    return refs


def mark_references(tasks: list[Task], refs: list[MetricRef]) -> list[Task]:
    """Let the first pending task of each image compute the set metrics' missing reference features."""
    from dataclasses import replace

    from gcbench.results.features import reference_path

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
            if slot in claimed or reference_path(ref.reference_id, task.image.sha256).is_file():
                continue
            claimed.add(slot)
            need.append(ref.metric_id)
        out.append(replace(task, need_reference=tuple(need)) if need else task)
    return out


def load_images(dataset: Any, store: ResultStore, run_id: int, limit: int | None,
                masks: Any = None) -> tuple[list[ImageItem], list[tuple[str, str]]]:
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


def run(config: RunConfig) -> RunReport:
    from gcbench.core.hardware import fingerprint
    from gcbench.data.datasets import load_dataset
    from gcbench.execution.executors import make_executor

    t_start = time.perf_counter()
    if config.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {config.jobs}")
    codec_plans = resolve_codecs(config.codecs, config.codec_options, config.binaries)
    missing_weights: dict[str, str] = {}
    metric_refs = resolve_metrics(config.metrics, config.device, config.metric_options, missing_weights)
    for name, message in missing_weights.items():
        print(f"gcbench: metric {name!r} left out of this run: {message}", file=sys.stderr)
    dataset = load_dataset(config.dataset, config.data_root)
    from gcbench.data import masks as masks_mod

    mask_set = masks_mod.open_for_run(config.masks, dataset)
    metric_refs = masks_mod.bind_metrics(metric_refs, mask_set)
    masks_mod.warn_ignored(codec_plans, mask_set)
    executor = make_executor(config.executor, config.jobs, config.threads, **config.executor_options)

    out = Path(config.out)
    store = ResultStore(out)
    resolved = asdict(config)
    resolved["out"] = str(out)
    resolved["codec_specs"] = [cp.spec.to_dict() | {"run_settings": list(cp.settings), "versions": cp.versions} for cp in codec_plans]
    resolved["metric_ids"] = {m.name: m.metric_id for m in metric_refs}
    resolved["metrics_left_out"] = missing_weights
    resolved["dataset_root"] = str(dataset.root)
    resolved["mask_set"] = mask_set.describe() if mask_set is not None else None
    resolved["executor"] = executor.describe()
    run_id = store.begin_run(config.argv, resolved, fingerprint())
    try:
        images, image_errors = load_images(dataset, store, run_id, config.max_images, mask_set)
        tasks = plan_tasks(codec_plans if config.sweep else [], images, metric_refs, dataset.name, str(dataset.root))
        if config.target_bpp:
            from gcbench.execution.equal_bitrate import add_target_tasks

            tasks = add_target_tasks(tasks, config, codec_plans, images, metric_refs, dataset)
        todo, skipped = pending_tasks(tasks, store)
        todo = mark_references(todo, metric_refs)
        n_ok = n_failed = n_metric_fail = 0
        with _progress(len(todo), config.progress) as bar:
            bar.set_description(f"{dataset.name}")
            for rec in executor.run(todo):
                store.write_task(rec, run_id)
                n_ok += rec.status == "ok"
                n_failed += rec.status != "ok"
                n_metric_fail += sum(1 for m in rec.metrics if m.error)
                bar.update(1)
                if rec.status != "ok" or any(m.error for m in rec.metrics):
                    bar.set_postfix(failed=n_failed, metric_failures=n_metric_fail)
        n_metric_fail += run_set_stage(store, tasks, metric_refs)
        report = RunReport(out, run_id, len(tasks), skipped, n_ok, n_failed, n_metric_fail, image_errors,
                           time.perf_counter() - t_start, metrics_left_out=missing_weights)
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


__all__ = ["RunConfig", "RunReport", "run", "DEFAULT_METRICS", "GcbenchError"]
