from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gcbench.data.datasets import load_dataset
from gcbench.core.errors import DatasetError, UnknownNameError


def test_kodak_by_name_from_gcbench_data(kodak_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCBENCH_DATA", str(kodak_dir.parent))
    ds = load_dataset("kodak")
    assert ds.name == "kodak" and len(ds) == 24
    assert [r.name for r in ds.images][:2] == ["kodim01.png", "kodim02.png"]
    assert ds.manifest is not None and ds.manifest.url.startswith("https://")


def test_kodak_with_an_explicit_root(kodak_dir: Path) -> None:
    assert len(load_dataset("kodak", root=kodak_dir)) == 24


def test_missing_and_altered_files_are_named(kodak_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "kodak"
    shutil.copytree(kodak_dir, root)
    (root / "kodim05.png").unlink()
    with open(root / "kodim07.png", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    with pytest.raises(DatasetError) as err:
        load_dataset("kodak", root=root)
    assert "missing: kodim05.png" in str(err.value)
    assert "altered file): kodim07.png" in str(err.value)


def test_kodak_absent_offline_says_where_to_put_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCBENCH_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(DatasetError, match=r"not found .*downloads are off.*\$GCBENCH_DATA/kodak"):
        load_dataset("kodak")


def test_bundled_sample_and_any_folder(sample_dir: Path, image_folder) -> None:
    ds = load_dataset("sample")
    assert len(ds) == 3 and ds.root.resolve() == sample_dir.resolve()
    folder = image_folder(2)
    (folder / "notes.txt").write_text("not an image, not listed")
    assert [r.name for r in load_dataset(str(folder)).images] == ["img00.png", "img01.png"]


def test_unknown_dataset_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'kodak'"):
        load_dataset("kodac")
    with pytest.raises(DatasetError, match="no image files"):
        load_dataset(str(tmp_path))
