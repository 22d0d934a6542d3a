"""The results database: one SQLite file (WAL mode) in the output folder, written by one process.

This module owns every SQL statement of gcbench and the schema of the run record; everything
else reads through the typed functions below (records in :mod:`gcbench.results.records`).

Tables:
- ``runs``: one row per invocation (command line, resolved config, versions, hardware).
- ``images``: every dataset file seen, its size, conversions on load, or why it failed to load.
- ``tasks``: one row per (codec, setting, image) under a key that hashes the codec spec and
  library versions, the setting and the image content: bytes, payload bytes, bpp, times,
  status, error text.
- ``metric_results``: one row per (task, metric identity) with the values of its columns as JSON.
- ``set_metrics``: one row per (codec, setting, dataset, metric identity) for set/task metrics,
  with the number of images it combined.
- ``selections``: the equal-bitrate search's chosen setting per (codec, image, target, mode).
- ``timing_samples``: one row per timed repeat of ``gcbench timing``.

Each result is written in one transaction after its bitstream file is in place, so a run
killed at any instant leaves only complete rows, and a re-run skips them.

A file that is not a gcbench database (truncated, another program's SQLite file, text) is
refused with one :class:`~gcbench.core.errors.StoreError` naming it, before anything writes to
it. A folder written by gcbench 0.1 (schema 1; equal-bitrate selections in
``equal_bitrate.json``) is migrated when opened: new columns and tables added, the selections
imported (the JSON file is left as it was, and no longer read).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gcbench.core.errors import GcbenchError, StoreError
from gcbench.core.interrupts import interrupts_deferred
from gcbench.results.records import (  # noqa: F401 - TaskRecord/MetricOutcome: their home until 0.2 importers move
    ImageRecord,
    MetricOutcome,
    MetricValue,
    RunConfigRecord,
    RunRecord,
    SetMetricValue,
    StoredTask,
    TaskRecord,
    decode_values,
    encode_values,
    latest,
    loads_or,
)

SCHEMA_VERSION = 2
DB_NAME = "gcbench.sqlite"
SELECTIONS_FILE_V1 = "equal_bitrate.json"  # where gcbench 0.1 kept equal-bitrate selections

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
    codec_versions TEXT, provenance TEXT, created REAL, payload_bytes INTEGER);
CREATE TABLE IF NOT EXISTS metric_results(
    task_key TEXT, metric TEXT, metric_id TEXT, status TEXT, "values" TEXT, error TEXT,
    versions TEXT, created REAL, PRIMARY KEY(task_key, metric_id));
CREATE TABLE IF NOT EXISTS set_metrics(
    key TEXT PRIMARY KEY, codec TEXT, setting TEXT, setting_value REAL, dataset TEXT,
    metric TEXT, metric_id TEXT, status TEXT, "values" TEXT, n_items INTEGER, error TEXT,
    flags TEXT, versions TEXT, created REAL, n_images INTEGER);
CREATE TABLE IF NOT EXISTS selections(
    key TEXT PRIMARY KEY, target_bpp REAL, mode TEXT, dataset TEXT, codec TEXT, image TEXT,
    setting TEXT, bpp REAL, status TEXT, fields TEXT, created REAL);
CREATE TABLE IF NOT EXISTS timing_samples(
    id INTEGER PRIMARY KEY AUTOINCREMENT, dataset TEXT, codec TEXT, setting TEXT, image TEXT,
    "row" TEXT, created REAL);
CREATE INDEX IF NOT EXISTS tasks_by_codec ON tasks(codec, setting);
"""

# Schema 1 (gcbench 0.1) → 2: payload bytes, images per set metric; selections and timing
# samples move into the database (their tables come from _SCHEMA).
_MIGRATE_1_TO_2 = (
    "ALTER TABLE tasks ADD COLUMN payload_bytes INTEGER",
    "ALTER TABLE set_metrics ADD COLUMN n_images INTEGER",
)
_TABLES = ("meta", "runs", "images", "tasks", "metric_results", "set_metrics")
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, allow_nan=True)


def _is_corruption(exc: BaseException) -> bool:
    # "file is not a database", "database disk image is malformed": plain DatabaseError;
    # its subclasses (locked, constraint, …) are not about the file being broken
    return type(exc) is sqlite3.DatabaseError


def check_file(path: Path) -> None:
    """Refuse a file named like the database that is not a whole SQLite file (nothing is written).

    Reads only the 100-byte header: the magic string, the page size, and the page count the
    header records, which a truncated file falls short of.
    """
    size = path.stat().st_size
    if size == 0:
        return  # created and not yet written: a new store
    with path.open("rb") as f:
        header = f.read(100)
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise StoreError(f"{path} is not a SQLite database (not written by gcbench, or overwritten); "
                         "move it away or choose another results folder")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    count_valid = header[24:28] == header[92:96]
    wal = path.with_name(path.name + "-wal")
    pending = wal.is_file() and wal.stat().st_size > 0  # a checkpoint may still complete the file
    if not pending and (size % page_size or (count_valid and pages * page_size > size)):
        raise StoreError(f"{path} is truncated ({size} bytes, its header expects {pages * page_size}): "
                         "the database is damaged; restore it from a copy or run into another folder")


class ResultStore:
    """Open (or create) the store in ``folder``."""

    def __init__(self, folder: str | Path, *, create: bool = True) -> None:
        self.folder = Path(folder)
        self.path = self.folder / DB_NAME
        if not self.path.exists():
            if not create:
                raise GcbenchError(f"{self.folder}: no gcbench results here (no {DB_NAME}); run `gcbench run --out {self.folder}` first")
            self.folder.mkdir(parents=True, exist_ok=True)
        elif self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not gcbench's results database")
        else:
            check_file(self.path)
        self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            self._open()
        except BaseException:
            self.conn.close()
            raise

    def _open(self) -> None:
        try:
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            version = None
            if "meta" in tables:
                row = self.conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                version = int(row[0]) if row else None
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise
            raise StoreError(f"{self.path} cannot be read ({exc}): the database is damaged; "
                             "restore it from a copy or run into another folder") from exc
        if version is None and set(_TABLES) <= tables:
            version = 1  # gcbench 0.1 wrote its tables before the schema row: stopped in between
        if tables and (version is None or not set(_TABLES) <= tables):
            raise StoreError(f"{self.path} is a SQLite database without gcbench's tables (another program's file?); "
                             "move it away or choose another results folder")
        if version is not None and version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: schema version {version} was written by a newer gcbench; "
                             f"this one reads up to {SCHEMA_VERSION}: upgrade gcbench")
        if not tables:  # a new store: the schema in one transaction, so no half-made file is left
            self.conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    self.conn.execute(statement)
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES('schema', ?)", (str(SCHEMA_VERSION),))
            self.conn.execute("COMMIT")
        elif version == 1:
            self._migrate_from_1()
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")

    def _migrate_from_1(self) -> None:
        """Schema 1 (gcbench 0.1) → 2, in one transaction; the side file of selections is imported."""
        selections = _selections_v1(self.folder / SELECTIONS_FILE_V1)
        try:
            with self.transaction() as c:
                for statement in _SCHEMA.strip().split(";"):
                    if statement.strip():
                        c.execute(statement)
                for statement in _MIGRATE_1_TO_2:
                    c.execute(statement)
                self._insert_selections(c, selections)
                c.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path} was written by gcbench 0.1 and must be converted to schema "
                             f"{SCHEMA_VERSION} on first open, which failed ({exc}); make the folder writable "
                             "(or copy it somewhere writable) and open it again") from exc

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        # Ctrl-C or SIGTERM waits until the transaction has committed or rolled back: an
        # interrupt raised between the last statement and COMMIT would leave the connection
        # inside a transaction, and the run could not then be marked interrupted.
        with interrupts_deferred():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    def _rows(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts; a damaged file found while reading becomes one StoreError naming it."""
        try:
            cur = self.conn.execute(sql, params)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise
            raise StoreError(f"{self.path} cannot be read ({exc}): the database is damaged; "
                             "restore it from a copy or run into another folder") from exc

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

    def runs(self) -> list[RunRecord]:
        """Every run of the folder, oldest first, its configuration parsed."""
        return [RunRecord(run_id=int(r["run_id"]), started=r["started"], finished=r["finished"],
                          argv=loads_or(r["argv"], None), config=RunConfigRecord.parse(r["config"]),
                          gcbench_version=r["gcbench_version"] or "", hardware=loads_or(r["hardware"], {}),
                          status=r["status"] or "", summary=loads_or(r["summary"], {}))
                for r in self._rows("SELECT * FROM runs ORDER BY run_id")]

    def metric_versions(self) -> list[tuple[int, str, dict[str, str]]]:
        """(run id, metric, library versions) for each distinct combination stored."""
        rows = self._rows(
            "SELECT t.run_id AS run_id, m.metric AS metric, m.versions AS versions FROM metric_results m "
            "JOIN tasks t ON t.key = m.task_key GROUP BY t.run_id, m.metric, m.versions")
        return [(r["run_id"], r["metric"], loads_or(r["versions"], {})) for r in rows]

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

    def images(self) -> list[ImageRecord]:
        """Every dataset file any run saw."""
        return [ImageRecord(dataset=r["dataset"], name=r["name"], path=r["path"], image_sha256=r["image_sha256"],
                            height=r["height"], width=r["width"], conversions=loads_or(r["conversions"], []),
                            status=r["status"], error=r["error"], run_id=r["run_id"])
                for r in self._rows("SELECT * FROM images")]

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
            for r in self._rows(f"SELECT key, status FROM tasks WHERE key IN ({marks})", chunk):
                out[r["key"]] = (r["status"], set())
            for r in self._rows(f"SELECT task_key, metric_id FROM metric_results WHERE task_key IN ({marks})", chunk):
                if r["task_key"] in out:
                    out[r["task_key"]][1].add(r["metric_id"])
        return out

    def _write_features(self, rec: TaskRecord) -> None:
        from gcbench.results.features import save_array, task_feature_path

        # (rec.references, the originals' reference features, are cached by the run, not stored here)
        for metric_id, array in rec.features.items():
            save_array(task_feature_path(self.folder, metric_id, rec.key), array)

    def write_task(self, rec: TaskRecord, run_id: int | None) -> None:
        bitstream = None
        if rec.data is not None:
            bitstream = self._write_bitstream(rec.key, rec.data)
        if rec.features:
            self._write_features(rec)
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
                    "INSERT OR REPLACE INTO tasks(key, run_id, codec, setting, setting_value, rate_param, dataset, "
                    "image, image_sha256, height, width, status, error_stage, error, n_bytes, bpp, bpp_kind, "
                    "encode_s, decode_s, timing_kind, bitstream, codec_spec_hash, codec_versions, provenance, "
                    "created, payload_bytes) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (rec.key, run_id, rec.codec, rec.setting, rec.setting_value, rec.rate_param, rec.dataset,
                     rec.image, rec.image_sha256, rec.height, rec.width, rec.status, rec.error_stage, rec.error,
                     rec.n_bytes, rec.bpp, rec.bpp_kind, rec.encode_s, rec.decode_s, rec.timing_kind, bitstream,
                     rec.codec_spec_hash, _json(rec.codec_versions), _json(rec.provenance), now,
                     rec.payload_bytes),
                )
            for m in rec.metrics:
                c.execute(
                    "INSERT OR REPLACE INTO metric_results VALUES(?,?,?,?,?,?,?,?)",
                    (rec.key, m.metric, m.metric_id, "error" if m.error else "ok",
                     encode_values(m.values or {}), m.error, _json(m.versions), now),
                )

    def tasks(self, *, latest_only: bool = True) -> list[StoredTask]:
        """Stored tasks, oldest first; with ``latest_only``, one per (dataset, codec, setting, image):
        the latest row wins (:func:`gcbench.results.records.latest`)."""
        rows = [_stored_task(r) for r in self._rows("SELECT * FROM tasks ORDER BY created, rowid")]
        if not latest_only:
            return rows
        return latest(rows, lambda t: (t.dataset, t.codec, t.setting, t.image))

    def metric_values(self) -> list[MetricValue]:
        """Every stored per-task metric value (or error), oldest first."""
        return [MetricValue(task_key=r["task_key"], metric=r["metric"], metric_id=r["metric_id"], status=r["status"],
                            values=decode_values(r["values"]), error=r["error"], versions=loads_or(r["versions"], {}),
                            created=r["created"])
                for r in self._rows('SELECT * FROM metric_results ORDER BY created, rowid')]

    # -- set metrics -----------------------------------------------------------------------
    def write_set_metric(self, key: str, *, codec: str, setting: str, setting_value: float | None, dataset: str,
                         metric: str, metric_id: str, values: dict[str, float] | None, n_items: int | None,
                         error: str | None = None, flags: Iterable[str] = (), versions: dict[str, str] | None = None,
                         n_images: int | None = None) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO set_metrics(key, codec, setting, setting_value, dataset, metric, metric_id, "
                "status, \"values\", n_items, error, flags, versions, created, n_images) "
                "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (key, codec, setting, setting_value, dataset, metric, metric_id, "error" if error else "ok",
                 encode_values(values or {}), n_items, error, _json(list(flags)), _json(versions or {}), time.time(),
                 n_images),
            )

    def has_set_metric(self, key: str) -> bool:
        rows = self._rows("SELECT status FROM set_metrics WHERE key=?", (key,))
        return bool(rows) and rows[0]["status"] == "ok"

    def set_metrics(self) -> list[SetMetricValue]:
        """One value per (dataset, codec, setting, metric): the latest row wins."""
        rows = [SetMetricValue(key=r["key"], codec=r["codec"], setting=r["setting"], setting_value=r["setting_value"],
                               dataset=r["dataset"], metric=r["metric"], metric_id=r["metric_id"], status=r["status"],
                               values=decode_values(r["values"]), n_items=r["n_items"], error=r["error"],
                               flags=loads_or(r["flags"], []), versions=loads_or(r["versions"], {}), created=r["created"],
                               n_images=r["n_images"])
                for r in self._rows("SELECT * FROM set_metrics ORDER BY created, rowid")]
        return latest(rows, lambda s: (s.dataset, s.codec, s.setting, s.metric))

    # -- equal-bitrate selections ----------------------------------------------------------
    @staticmethod
    def _insert_selections(c: sqlite3.Connection, selections: Iterable[dict[str, Any]]) -> None:
        now = time.time()
        for s in selections:
            # the searchable fields as columns; the whole selection (probes, distances …) as JSON
            c.execute(
                "INSERT OR REPLACE INTO selections VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                (s["key"], float(s["target_bpp"]), s["mode"], s["dataset"], s["codec"], s["image"],
                 _json(s["setting"]), float(s["bpp"]), s["status"], _json(s), now),
            )

    def write_selections(self, selections: Iterable[dict[str, Any]]) -> None:
        """Store equal-bitrate selections (dicts of ``equal_bitrate.Selection``'s fields), replacing same keys."""
        with self.transaction() as c:
            self._insert_selections(c, selections)

    def selections(self) -> list[dict[str, Any]]:
        """Every stored equal-bitrate selection (a dict of ``equal_bitrate.Selection``'s fields), oldest first."""
        return [json.loads(r["fields"]) for r in self._rows("SELECT fields FROM selections ORDER BY created, rowid")]

    # -- timing samples --------------------------------------------------------------------
    def replace_timing_samples(self, rows: list[dict[str, Any]], *, everything: bool = False) -> None:
        """Store timed repeats; earlier rows of the same (dataset, codec, setting) are replaced
        (all earlier rows with ``everything``)."""
        cells = {(str(r["dataset"]), str(r["codec"]), str(r["setting"])) for r in rows}
        now = time.time()
        with self.transaction() as c:
            if everything:
                c.execute("DELETE FROM timing_samples")
            for cell in cells:
                c.execute("DELETE FROM timing_samples WHERE dataset=? AND codec=? AND setting=?", cell)
            for r in rows:
                c.execute('INSERT INTO timing_samples(dataset, codec, setting, image, "row", created) VALUES(?,?,?,?,?,?)',
                          (str(r["dataset"]), str(r["codec"]), str(r["setting"]), str(r.get("image", "")),
                           json.dumps(r, default=str), now))  # keys in the row's own order: the table's columns

    def timing_samples(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Timed repeats in the order stored (one dict per row, as ``gcbench timing`` wrote it)."""
        sql = 'SELECT "row" FROM timing_samples ORDER BY id' + (" LIMIT ?" if limit is not None else "")
        return [json.loads(r["row"]) for r in self._rows(sql, (limit,) if limit is not None else ())]

    def meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key=?", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)", (key, value))

    # -- raw reading -----------------------------------------------------------------------
    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Rows of any SQL statement, for inspection and tests; library code uses the typed reads above."""
        return self._rows(sql, params)


def _stored_task(r: dict[str, Any]) -> StoredTask:
    return StoredTask(
        key=r["key"], run_id=r["run_id"], codec=r["codec"], setting=r["setting"], setting_value=r["setting_value"],
        rate_param=r["rate_param"], dataset=r["dataset"], image=r["image"], image_sha256=r["image_sha256"] or "",
        height=r["height"], width=r["width"], status=r["status"], error_stage=r["error_stage"], error=r["error"],
        n_bytes=r["n_bytes"], bpp=r["bpp"], bpp_kind=r["bpp_kind"], encode_s=r["encode_s"], decode_s=r["decode_s"],
        timing_kind=r["timing_kind"], bitstream=r["bitstream"], codec_spec_hash=r["codec_spec_hash"] or "",
        codec_versions=loads_or(r["codec_versions"], {}), provenance=loads_or(r["provenance"], {}), created=r["created"],
        payload_bytes=r.get("payload_bytes"),
    )


def _selections_v1(path: Path) -> list[dict[str, Any]]:
    """The selections gcbench 0.1 kept in ``equal_bitrate.json`` (version 1), to import."""
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path} cannot be read ({exc}); move it away to open the folder without its "
                         "equal-bitrate selections (a run searches them again)") from exc
    if data.get("version") != 1:
        raise StoreError(f"{path}: version {data.get('version')!r}, this gcbench imports version 1; "
                         "move it away to open the folder (a run searches the selections again)")
    return list(data.get("selections", []))
