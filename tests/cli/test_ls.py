"""gcbench ls at a terminal: an aligned table cut to the terminal's width; Markdown on request."""

from __future__ import annotations

import pandas as pd
import pytest

from gcbench.cli import main
from gcbench.cli.ls import text_table

TABLE = pd.DataFrame({
    "codec": ["a-rather-long-codec-name", "jpeg"],
    "settings": [12, 3],
    "status": ["available", "unavailable: install the heif extra (pip install 'gcbench[heif]')"],
    "description": ["x" * 90, "JPEG\nwith a newline"],
})


def test_columns_align_and_numbers_sit_right() -> None:
    lines = text_table(TABLE, 400).splitlines()
    assert lines[0].split() == ["codec", "settings", "status", "description"]
    assert set(lines[1].replace(" ", "")) == {"-"} and len(lines) == 4
    starts = [lines[0].index(h) for h in ("settings", "status", "description")]
    for line in lines[2:]:
        assert all(line[s - 2 : s] == "  " for s in starts)  # every column starts where its header does
    assert lines[2][starts[0] : starts[0] + 8] == "      12"
    assert "JPEG with a newline" in lines[3] and "…" not in text_table(TABLE, 400)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_cut_to_the_width_from_the_right_and_the_name_never(width: int) -> None:
    text = text_table(TABLE, width)
    assert all(len(line) <= width for line in text.splitlines())
    assert "a-rather-long-codec-name" in text and text.count("…") >= 2
    if width >= 120:
        assert "unavailable: install the heif" in text  # the description is cut first


def test_ls_prints_to_the_terminal_width_or_markdown(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "70")
    assert main(["ls", "codecs", "jpeg*"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("codec") and all(len(line) <= 70 for line in out.splitlines())
    assert main(["ls", "datasets", "kodak", "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| dataset | images | found | where | license | description |")
    assert "| kodak | 24 |" in out
