"""Build small results stores from typed records, with exactly the values a test needs."""

from __future__ import annotations

from pathlib import Path

from gcbench.results.records import MetricOutcome, TaskRecord
from gcbench.results.store import ResultStore


def task(key: str, codec: str, setting: float, image: str, *, bpp: float, values: dict[str, float] | None = None,
         status: str = "ok", payload_bytes: int | None = None, size: tuple[int, int] = (100, 100),
         metric: str = "psnr") -> TaskRecord:
    """One stored (codec, setting, image) with the given bpp and metric values."""
    h, w = size
    return TaskRecord(
        key=key, codec=codec, setting=f"{setting:g}", setting_value=float(setting), rate_param="q", dataset="d",
        image=image, image_sha256=f"sha-{image}", height=h, width=w, status=status,
        error="failed on purpose" if status != "ok" else None, error_stage="encode" if status != "ok" else None,
        n_bytes=round(bpp * h * w / 8) if status == "ok" else None, bpp=bpp if status == "ok" else None,
        bpp_kind="exact", codec_spec_hash="spec", payload_bytes=payload_bytes,
        metrics=[MetricOutcome(metric, f"{metric}-id", values)] if status == "ok" and values else [],
    )


def write_store(folder: Path, records: list[TaskRecord]) -> Path:
    """A results folder holding ``records`` (one run, written in order)."""
    with ResultStore(folder) as store:
        run_id = store.begin_run(["gcbench", "test"], {"codecs": [], "dataset": "d"}, {})
        for rec in records:
            store.write_task(rec, run_id)
        store.finish_run(run_id, "ok", {})
    return folder
