"""The results database: one SQLite file (WAL mode) in the output folder, written by one process.

Tables:
- ``runs``: one row per invocation (command line, resolved config, versions, hardware).
- ``images``: every dataset file seen, its size, conversions on load, or why it failed to load.
- ``tasks``: one row per (codec, setting, image) under a key that hashes the codec spec and
  library versions, the setting and the image content: bytes, bpp, times, status, error text.
- ``metric_results``: one row per (task, metric identity) with the values of its columns as JSON.
- ``set_metrics``: one row per (codec, setting, dataset, metric identity) for set/task metrics.

Each result is written in one transaction after its bitstream file is in place, so a run
killed at any instant leaves only complete rows, and a re-run skips them.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gcbench.core.errors import GcbenchError

SCHEMA_VERSION = 1
DB_NAME = "gcbench.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs(
    run_id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL, finished REAL, argv TEXT,
    config TEXT, gcbench_version TEXT, hardware TEXT, status TEXT, summary TEXT);
CREATE TABLE IF NOT EXISTS images(
    dataset TEXT, name TEXT, path TEXT, image_sha256 TEXT, height INTEGER, width INTEGER,
    conversions TEXT, status TEXT, error TEXT, run_id INTEGER, PRIMARY KEY(dataset, name));
CREATE TABLE IF NOT EXISTS tasks(
    key TEXT PRIMARY KEY, run_id INTEGER, codec TEXT, setting TEXT, setting_value REAL,
    rate_param TEXT, dataset TEXT, image TEXT, image_sha256 TEXT, height INTEGER, width INTEGER,
    status TEXT, error_stage TEXT, error TEXT, n_bytes INTEGER, bpp REAL, bpp_kind TEXT,
    encode_s REAL, decode_s REAL, timing_kind TEXT, bitstream TEXT, codec_spec_hash TEXT,
    codec_versions TEXT, provenance TEXT, created REAL);
CREATE TABLE IF NOT EXISTS metric_results(
    task_key TEXT, metric TEXT, metric_id TEXT, status TEXT, "values" TEXT, error TEXT,
    versions TEXT, created REAL, PRIMARY KEY(task_key, metric_id));
CREATE TABLE IF NOT EXISTS set_metrics(
    key TEXT PRIMARY KEY, codec TEXT, setting TEXT, setting_value REAL, dataset TEXT,
    metric TEXT, metric_id TEXT, status TEXT, "values" TEXT, n_items INTEGER, error TEXT,
    flags TEXT, versions TEXT, created REAL);
CREATE INDEX IF NOT EXISTS tasks_by_codec ON tasks(codec, setting);
"""


@dataclass
class MetricOutcome:
    metric: str
    metric_id: str
    values: dict[str, float] | None = None
    error: str | None = None
    versions: dict[str, str] = field(default_factory=dict)


@dataclass
class TaskRecord:
    """Everything stored for one (codec, setting, image)."""

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


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, allow_nan=True)


def _encode_values(values: dict[str, float]) -> str:
    # JSON has no inf/NaN; keep them as strings so a lossless PSNR survives the round trip.
    return json.dumps({k: (v if math.isfinite(v) else repr(v)) for k, v in values.items()}, sort_keys=True)


def decode_values(text: str | None) -> dict[str, float]:
    if not text:
        return {}
    return {k: float(v) for k, v in json.loads(text).items()}


class ResultStore:
    """Open (or create) the store in ``folder``."""

    def __init__(self, folder: str | Path, *, create: bool = True) -> None:
        self.folder = Path(folder)
        self.path = self.folder / DB_NAME
        if not self.path.exists():
            if not create:
                raise GcbenchError(f"{self.folder}: no gcbench results here (no {DB_NAME}); run `gcbench run --out {self.folder}` first")
            self.folder.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise GcbenchError(f"{self.path}: schema version {row[0]}, this gcbench reads {SCHEMA_VERSION}")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # -- runs ------------------------------------------------------------------------------
    def begin_run(self, argv: list[str] | None, config: dict[str, Any], hardware: dict[str, Any]) -> int:
        from gcbench import __version__

        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO runs(started, argv, config, gcbench_version, hardware, status) VALUES(?,?,?,?,?,?)",
                (time.time(), _json(argv), _json(config), __version__, _json(hardware), "running"),
            )
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE runs SET finished=?, status=?, summary=? WHERE run_id=?",
                (time.time(), status, _json(summary), run_id),
            )

    # -- images ----------------------------------------------------------------------------
    def record_image(self, dataset: str, name: str, path: str, *, sha256: str | None, height: int | None,
                     width: int | None, conversions: Iterable[str] = (), error: str | None = None,
                     run_id: int | None = None) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO images VALUES(?,?,?,?,?,?,?,?,?,?)",
                (dataset, name, path, sha256, height, width, _json(list(conversions)),
                 "error" if error else "ok", error, run_id),
            )

    # -- tasks -----------------------------------------------------------------------------
    def bitstream_path(self, key: str) -> Path:
        return self.folder / "bitstreams" / key[:2] / f"{key}.bin"

    def read_bitstream(self, key: str) -> bytes:
        return self.bitstream_path(key).read_bytes()

    def _write_bitstream(self, key: str, data: bytes) -> str:
        from gcbench.core.atomic import write_bytes

        path = write_bytes(self.bitstream_path(key), data)
        return str(path.relative_to(self.folder))

    def task_state(self, keys: Iterable[str]) -> dict[str, tuple[str, set[str]]]:
        """key → (status, ids of metrics stored for it) for the keys already in the store."""
        keys = list(keys)
        out: dict[str, tuple[str, set[str]]] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for key, status in self.conn.execute(f"SELECT key, status FROM tasks WHERE key IN ({marks})", chunk):
                out[key] = (status, set())
            for key, mid in self.conn.execute(
                f"SELECT task_key, metric_id FROM metric_results WHERE task_key IN ({marks})", chunk
            ):
                if key in out:
                    out[key][1].add(mid)
        return out

    def write_task(self, rec: TaskRecord, run_id: int | None) -> None:
        bitstream = None
        if rec.data is not None:
            bitstream = self._write_bitstream(rec.key, rec.data)
        if rec.features or rec.references:
            from gcbench.results.features import (
                reference_path,
                save_array,
                task_feature_path,
            )

            for metric_id, array in rec.features.items():
                save_array(task_feature_path(self.folder, metric_id, rec.key), array)
            for (reference_id, sha), array in rec.references.items():
                save_array(reference_path(reference_id, sha), array)
        now = time.time()
        with self.transaction() as c:
            if rec.reused_bitstream:
                # Only metrics were (re)computed; the task row stands as it was, unless the stored
                # bitstream no longer decodes: then the task is marked failed, and the next run
                # encodes it again.
                if rec.status != "ok":
                    c.execute("UPDATE tasks SET status=?, error_stage=?, error=?, run_id=? WHERE key=?",
                              (rec.status, rec.error_stage, rec.error, run_id, rec.key))
            else:
                c.execute("DELETE FROM metric_results WHERE task_key=?", (rec.key,))
                c.execute(
                    "INSERT OR REPLACE INTO tasks VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (rec.key, run_id, rec.codec, rec.setting, rec.setting_value, rec.rate_param, rec.dataset,
                     rec.image, rec.image_sha256, rec.height, rec.width, rec.status, rec.error_stage, rec.error,
                     rec.n_bytes, rec.bpp, rec.bpp_kind, rec.encode_s, rec.decode_s, rec.timing_kind, bitstream,
                     rec.codec_spec_hash, _json(rec.codec_versions), _json(rec.provenance), now),
                )
            for m in rec.metrics:
                c.execute(
                    "INSERT OR REPLACE INTO metric_results VALUES(?,?,?,?,?,?,?,?)",
                    (rec.key, m.metric, m.metric_id, "error" if m.error else "ok",
                     _encode_values(m.values or {}), m.error, _json(m.versions), now),
                )

    # -- set metrics -----------------------------------------------------------------------
    def write_set_metric(self, key: str, *, codec: str, setting: str, setting_value: float | None, dataset: str,
                         metric: str, metric_id: str, values: dict[str, float] | None, n_items: int | None,
                         error: str | None = None, flags: Iterable[str] = (), versions: dict[str, str] | None = None) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO set_metrics VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (key, codec, setting, setting_value, dataset, metric, metric_id, "error" if error else "ok",
                 _encode_values(values or {}), n_items, error, _json(list(flags)), _json(versions or {}), time.time()),
            )

    def has_set_metric(self, key: str) -> bool:
        row = self.conn.execute("SELECT status FROM set_metrics WHERE key=?", (key,)).fetchone()
        return row is not None and row[0] == "ok"

    # -- reading ---------------------------------------------------------------------------
    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        cur = self.conn.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]  # type: ignore[misc]
