from __future__ import annotations

from pathlib import Path

import pytest

from gcbench.core.atomic import atomic_path, write_bytes, write_text


def test_written_whole_and_nothing_left_beside(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.bin"
    write_bytes(target, b"abc")
    write_text(tmp_path / "t.txt", "ü")
    assert target.read_bytes() == b"abc" and (tmp_path / "t.txt").read_text(encoding="utf-8") == "ü"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.bin"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
