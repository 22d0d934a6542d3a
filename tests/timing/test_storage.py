"""Timing samples live in the folder's results database; the CSV is an export; a timing folder of
gcbench 0.1 (the CSV alone) is read and imported; a re-run replaces only the cells it timed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gcbench import timing
from gcbench.core.errors import GcbenchError
from gcbench.results.store import DB_NAME, ResultStore
from gcbench.timing.run import TimingConfig, run_timing


def _time(folder: Path, out: Path, codecs: list[str]) -> None:
    run_timing(TimingConfig(codecs=codecs, dataset=str(folder), out=out, warmup=0, repeats=2, progress=False,
                            hardware_name="test-box"))


def test_samples_are_in_the_database_and_exported(image_folder, tmp_path: Path) -> None:
    folder = image_folder(2, (40, 56))
    out = tmp_path / "t"
    _time(folder, out, ["jpeg@40,80"])
    with ResultStore(out, create=False) as store:
        stored = store.timing_samples()
    assert len(stored) == 2 * 2 * 2 and {r["codec"] for r in stored} == {"jpeg"}
    samples = timing.load_samples(out)  # read back from the database …
    assert samples["encode_s"].tolist() == pytest.approx([r["encode_s"] for r in stored], rel=1e-15)
    (out / DB_NAME).unlink()  # … and, without it, from the CSV export: the same table
    pd.testing.assert_frame_equal(samples, timing.load_samples(out))
    # the export was imported again: the database is the source once more
    with ResultStore(out, create=False) as store:
        assert len(store.timing_samples()) == 8


def test_a_rerun_replaces_only_the_cells_it_timed(image_folder, tmp_path: Path) -> None:
    folder = image_folder(1, (40, 56))
    out = tmp_path / "t"
    _time(folder, out, ["jpeg@40,80"])
    first = timing.load_samples(out)
    _time(folder, out, ["jpeg@80"])
    second = timing.load_samples(out)
    kept = second[second["setting"] == "40"].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, first[first["setting"] == "40"].reset_index(drop=True))
    redone = second[second["setting"] == "80"]
    assert len(redone) == 2 and not redone["encode_s"].isin(first["encode_s"]).all()


def test_a_timing_folder_of_gcbench_01_is_read_and_imported(image_folder, tmp_path: Path) -> None:
    folder = image_folder(1, (40, 56))
    new = tmp_path / "new"
    _time(folder, new, ["jpeg@60"])
    old = tmp_path / "old"
    old.mkdir()
    csv = (new / timing.SAMPLES_FILE).read_text()
    (old / timing.SAMPLES_FILE).write_text(csv)  # what 0.1 left: the CSV file is the whole record
    samples = timing.load_samples(old)
    pd.testing.assert_frame_equal(samples, timing.load_samples(new))
    assert (old / timing.SAMPLES_FILE).read_text() == csv
    with ResultStore(old, create=False) as store:
        assert len(store.timing_samples()) == len(samples)
    assert timing.load_timing(old)["encode_ms_median"].tolist() == timing.load_timing(new)["encode_ms_median"].tolist()


def test_no_samples_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GcbenchError, match="no timing results here"):
        timing.load_samples(tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing created in a folder without timings
