"""The typed results API: one owner of SQL, the latest row wins everywhere, folders of gcbench 0.1
open (migrated), corrupt or foreign databases are refused untouched, payload bytes are stored."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest

from gcbench.cli import main as cli
from gcbench.core.errors import StoreError
from gcbench.results.store import DB_NAME, SCHEMA_VERSION, ResultStore
from gcbench.results.views import per_image, set_table, summary
from results.store_helpers import task, write_store

PACKAGE = Path(__file__).resolve().parents[2] / "gcbench"


# -- one module owns SQL and the run record ----------------------------------------------------------

SQL = re.compile(r"""["'](SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|PRAGMA)\b""")


def test_every_sql_statement_lives_in_the_store_module() -> None:
    offenders = [f"{p.relative_to(PACKAGE.parent)}:{i}" for p in PACKAGE.rglob("*.py") if p.name != "store.py"
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if SQL.search(line)]
    offenders += [str(p) for p in PACKAGE.rglob("*.py") if "import sqlite3" in p.read_text(encoding="utf-8")
                  and p != PACKAGE / "results" / "store.py"]
    assert offenders == []


def test_runs_come_back_typed(tmp_path: Path) -> None:
    with ResultStore(tmp_path) as store:
        run_id = store.begin_run(["gcbench", "run"], {
            "codecs": ["jpeg@5"], "dataset": "kodak", "target_bpp": [0.3], "sweep": True,
            "metrics_left_out": {"lpips": "no weights"},
            "codec_specs": [{"name": "jpeg", "adapter": "pillow", "rate_param": "quality", "settings": [5, 50],
                             "rate_increases_with_setting": True, "options": {"format": "JPEG"},
                             "run_settings": [5], "versions": {"Pillow": "x"}}]}, {"name": "box"})
        store.finish_run(run_id, "ok", {"n_ok": 1})
        (run,) = store.runs()
    assert (run.run_id, run.argv, run.status, run.summary, run.hardware) == (
        run_id, ["gcbench", "run"], "ok", {"n_ok": 1}, {"name": "box"})
    config = run.config
    assert config.target_bpp == [0.3] and config.metrics_left_out == {"lpips": "no weights"}
    assert config.swept() == {("jpeg", "5")}
    (spec,) = config.specs()
    assert spec.name == "jpeg" and spec.settings == (5, 50)


def test_an_interrupt_inside_a_write_arrives_after_the_commit(tmp_path: Path) -> None:
    """Ctrl-C (or SIGTERM) between a write's last statement and its COMMIT used to leave the connection
    inside a transaction, so the run could no longer be marked interrupted: the write lands whole and
    the interrupt is raised after it."""
    import os
    import signal
    import threading

    # a run's driver has other threads (the pool's manager, background imports): the signal may
    # reach any of them, and Python still raises it in the main thread
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as at a terminal
    try:
        with ResultStore(tmp_path) as store:
            run_id = store.begin_run(["gcbench", "run"], {}, {})
            with pytest.raises(KeyboardInterrupt), store.transaction() as c:
                c.execute("UPDATE runs SET status='half' WHERE run_id=?", (run_id,))
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)  # time for the signal to arrive, wherever it is delivered
                reached_the_end_of_the_write = True
            assert reached_the_end_of_the_write and not store.conn.in_transaction
            store.finish_run(run_id, "interrupted", {})
            assert [r.status for r in store.runs()] == ["interrupted"]
    finally:
        signal.signal(signal.SIGINT, previous)
        release.set()
        other.join()


def test_a_default_sigterm_inside_a_write_ends_the_process_after_the_commit(tmp_path: Path) -> None:
    """Without a handler of gcbench's (a library user's script), SIGTERM still ends the process, once
    the write is in."""
    import subprocess
    import sys

    code = ("import os, signal\nfrom gcbench.results.store import ResultStore\n"
            f"store = ResultStore({str(tmp_path)!r})\nrun_id = store.begin_run(None, {{}}, {{}})\n"
            "with store.transaction() as c:\n"
            "    c.execute(\"UPDATE runs SET status='written' WHERE run_id=?\", (run_id,))\n"
            "    os.kill(os.getpid(), signal.SIGTERM)\n"
            "    print('still writing', flush=True)\n"
            "print('not reached', flush=True)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (out.returncode, out.stdout.split("\n")[0]) == (-15, "still writing"), out.stderr[-2000:]
    assert "not reached" not in out.stdout
    with ResultStore(tmp_path, create=False) as store:
        assert [r.status for r in store.runs()] == ["written"]


def test_the_latest_row_wins_in_every_reader(tmp_path: Path) -> None:
    """A (codec, setting, image) stored twice under two keys (a new library version): the later row is
    what tables, set metrics and study selections show."""
    from gcbench.study.selection import select

    old = [task("old-a", "a", 10, "i1", bpp=0.5, values={"psnr": 30.0}),
           task("b1", "b", 10, "i1", bpp=0.5, values={"psnr": 29.0})]
    new = [task("new-a", "a", 10, "i1", bpp=0.4, values={"psnr": 31.0})]
    out = write_store(tmp_path / "r", old + new)
    with ResultStore(out) as store:
        for key, fid in (("s-old", 9.0), ("s-new", 7.0)):
            store.write_set_metric(key, codec="a", setting="10", setting_value=10.0, dataset="d", metric="fid",
                                   metric_id="fid-id", values={"fid": fid}, n_items=8, n_images=1)
        selection = select(store, ["a", "b"], settings={"a": "10", "b": "10"})
    rows = per_image(out)
    a = rows[rows.codec == "a"]
    assert len(a) == 1 and a["key"].item() == "new-a" and a["psnr"].item() == 31.0
    assert set_table(out)["fid"].tolist() == [7.0]
    assert selection.chosen[("a", "i1")].key == "new-a"
    # one implementation: no reader keeps its own copy of the rule
    copies = [p for p in PACKAGE.rglob("*.py") if "ORDER BY created" in p.read_text(encoding="utf-8")]
    assert copies == [PACKAGE / "results" / "store.py"]


def test_payload_bytes_are_stored_and_give_bpp_payload(tmp_path: Path) -> None:
    out = write_store(tmp_path / "r", [
        task("k1", "learned", 1, "i1", bpp=1.0, values={"psnr": 30.0}, payload_bytes=1000),
        task("k2", "learned", 1, "i2", bpp=2.0, values={"psnr": 31.0}, payload_bytes=2400),
        task("k3", "jpeg", 50, "i1", bpp=1.5, values={"psnr": 32.0}),  # a classical file is all payload
    ])
    rows = per_image(out).set_index("key")
    assert rows.loc["k1", "payload_bytes"] == 1000 and rows.loc["k1", "bpp_payload"] == pytest.approx(0.8)
    assert rows.loc["k2", "bpp_payload"] == pytest.approx(8 * 2400 / 10_000)
    assert pd.isna(rows.loc["k3", "payload_bytes"]) and rows.loc["k3", "bpp_payload"] == rows.loc["k3", "bpp"]
    s = summary(per_image(out)).set_index("codec")
    assert s.loc["learned", "bpp_payload"] == pytest.approx((0.8 + 1.92) / 2)
    assert s.loc["learned", "bpp"] == pytest.approx(1.5)


# -- a folder written by gcbench 0.1 --------------------------------------------------------------

SCHEMA_V1 = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE runs(
    run_id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL, finished REAL, argv TEXT,
    config TEXT, gcbench_version TEXT, hardware TEXT, status TEXT, summary TEXT);
CREATE TABLE images(
    dataset TEXT, name TEXT, path TEXT, image_sha256 TEXT, height INTEGER, width INTEGER,
    conversions TEXT, status TEXT, error TEXT, run_id INTEGER, PRIMARY KEY(dataset, name));
CREATE TABLE tasks(
    key TEXT PRIMARY KEY, run_id INTEGER, codec TEXT, setting TEXT, setting_value REAL,
    rate_param TEXT, dataset TEXT, image TEXT, image_sha256 TEXT, height INTEGER, width INTEGER,
    status TEXT, error_stage TEXT, error TEXT, n_bytes INTEGER, bpp REAL, bpp_kind TEXT,
    encode_s REAL, decode_s REAL, timing_kind TEXT, bitstream TEXT, codec_spec_hash TEXT,
    codec_versions TEXT, provenance TEXT, created REAL);
CREATE TABLE metric_results(
    task_key TEXT, metric TEXT, metric_id TEXT, status TEXT, "values" TEXT, error TEXT,
    versions TEXT, created REAL, PRIMARY KEY(task_key, metric_id));
CREATE TABLE set_metrics(
    key TEXT PRIMARY KEY, codec TEXT, setting TEXT, setting_value REAL, dataset TEXT,
    metric TEXT, metric_id TEXT, status TEXT, "values" TEXT, n_items INTEGER, error TEXT,
    flags TEXT, versions TEXT, created REAL);
CREATE INDEX tasks_by_codec ON tasks(codec, setting);
INSERT INTO meta VALUES('schema', '1');
INSERT INTO runs VALUES(1, 1.0, 2.0, '["gcbench", "run"]', '{"target_bpp": [0.5], "codec_specs": []}', '0.1.0',
                        '{}', 'ok', '{}');
INSERT INTO tasks VALUES('k1', 1, 'jpeg', '50', 50.0, 'quality', 'kodak', 'kodim01.png', 'abc', 512, 768, 'ok',
                         NULL, NULL, 24576, 0.5, 'exact', 0.01, 0.01, 'single-shot', 'bitstreams/k1/k1.bin',
                         'spec', '{"Pillow": "10"}', '{}', 3.0);
INSERT INTO metric_results VALUES('k1', 'psnr', 'psnr-id', 'ok', '{"psnr": 31.5}', NULL, '{}', 3.0);
INSERT INTO set_metrics VALUES('s1', 'jpeg', '50', 50.0, 'kodak', 'fid', 'fid-id', 'ok', '{"fid": 12.0}', 8, NULL,
                               '[]', '{}', 3.0);
"""

SELECTION_V1 = {"target_bpp": 0.5, "mode": "nearest", "codec": "jpeg", "dataset": "kodak", "image": "kodim01.png",
                "image_sha256": "abc", "setting": 50, "bpp": 0.5, "status": "ok", "axis": "int 1…95",
                "n_probes": 5, "key": "sel1", "probes": [[50, 0.5], [40, 0.42]]}


def _folder_v1(folder: Path) -> Path:
    """A results folder as gcbench 0.1 left it: schema 1, selections in equal_bitrate.json."""
    folder.mkdir(parents=True)
    with sqlite3.connect(folder / DB_NAME) as conn:
        conn.executescript(SCHEMA_V1)
    conn.close()
    (folder / "equal_bitrate.json").write_text(json.dumps({"version": 1, "selections": [SELECTION_V1]}))
    return folder


def test_a_folder_of_gcbench_01_opens_migrated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gcbench.execution.equal_bitrate import equal_bitrate_table, load_selections

    out = _folder_v1(tmp_path / "old")
    rows = per_image(out)
    assert rows[["codec", "setting", "bpp", "psnr"]].values.tolist() == [["jpeg", "50", 0.5, 31.5]]
    assert pd.isna(rows["payload_bytes"].item()) and rows["bpp_payload"].item() == 0.5
    (selection,) = load_selections(out)
    assert selection == {**SELECTION_V1, "probes": [[50, 0.5], [40, 0.42]]}
    assert equal_bitrate_table(out)[["codec", "setting", "search_bpp", "psnr"]].values.tolist() == [
        ["jpeg", "50", 0.5, 31.5]]
    assert set_table(out)["n_images"].isna().all()  # 0.1 did not record it
    with ResultStore(out, create=False) as store:
        assert store.meta("schema") == str(SCHEMA_VERSION)
        assert len(store.selections()) == 1  # imported once, not again on the next open
    assert main_table(out, capsys).splitlines()[2].startswith("| kodak | jpeg | 50 |")


def main_table(out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert cli(["table", str(out)]) == 0
    return capsys.readouterr().out


def test_an_unreadable_selections_file_of_01_is_named(tmp_path: Path) -> None:
    out = _folder_v1(tmp_path / "old")
    (out / "equal_bitrate.json").write_text(json.dumps({"version": 7, "selections": []}))
    with pytest.raises(StoreError, match="equal_bitrate.json: version 7"):
        ResultStore(out, create=False)
    with sqlite3.connect(out / DB_NAME) as conn:  # nothing was converted half-way
        assert conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("1",)
    conn.close()


# -- damaged and foreign files --------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a real results database (a small run on the sample images)."""
    from gcbench.execution.config import RunConfig
    from gcbench.execution.runner import run

    out = tmp_path_factory.mktemp("real") / "r"
    run(RunConfig(codecs=["jpeg@5,20,40,60,80"], dataset="sample", out=out, metrics=["psnr"], progress=False,
                  write_outputs=False))
    return (out / DB_NAME).read_bytes()


def _damaged(tmp_path: Path, data: bytes) -> tuple[Path, Path]:
    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / DB_NAME).write_bytes(data)
    return folder, folder / DB_NAME


@pytest.mark.parametrize("cut", ["half", "odd"])
def test_a_truncated_database_is_one_clear_error_and_left_untouched(
        tmp_path: Path, real_store: bytes, cut: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = real_store[: len(real_store) // 2] if cut == "half" else real_store[:-1000]
    folder, path = _damaged(tmp_path, data)
    with pytest.raises(StoreError, match=re.escape(str(path)) + ".*truncated"):
        ResultStore(folder, create=False)
    capsys.readouterr()
    assert cli(["table", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err
    assert cli(["run", "--codec", "jpeg@5", "--dataset", "sample", "--out", str(folder), "--metric", "psnr",
                "--no-progress"]) == 2
    assert path.read_bytes() == data and sorted(p.name for p in folder.iterdir()) == [".gcbench.lock", DB_NAME]


def test_a_damaged_page_is_one_clear_error(tmp_path: Path, real_store: bytes) -> None:
    page = int.from_bytes(real_store[16:18], "big")
    data = bytearray(real_store)
    data[page:] = b"\xff" * (len(data) - page)  # every page but the first overwritten, the size kept
    folder, path = _damaged(tmp_path, bytes(data))
    with pytest.raises(StoreError, match=re.escape(str(path)) + " cannot be read"):
        per_image(folder)
    assert path.read_bytes() == bytes(data)


def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "other"
    folder.mkdir()
    path = folder / DB_NAME
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE photos(name TEXT)")
        conn.execute("INSERT INTO photos VALUES('holiday.jpg')")
    conn.close()
    data = path.read_bytes()
    with pytest.raises(StoreError, match=re.escape(str(path)) + " is a SQLite database without gcbench's tables"):
        ResultStore(folder)
    assert cli(["run", "--codec", "jpeg@5", "--dataset", "sample", "--out", str(folder), "--metric", "psnr",
                "--no-progress"]) == 2
    assert "without gcbench's tables" in capsys.readouterr().err
    assert path.read_bytes() == data


def test_a_text_file_named_like_the_database_is_refused_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "text"
    folder.mkdir()
    path = folder / DB_NAME
    path.write_text("results: see the spreadsheet\n")
    with pytest.raises(StoreError, match=re.escape(str(path)) + " is not a SQLite database"):
        ResultStore(folder)
    assert path.read_text() == "results: see the spreadsheet\n"
