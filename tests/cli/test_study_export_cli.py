"""gcbench study export at a terminal: a codec run at one setting needs none; a missing choice is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from study.study_helpers import make_results

from gcbench.cli import main


@pytest.fixture(scope="module")
def one_and_three(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """jpeg at one setting, webp at three, on three small images."""
    root = tmp_path_factory.mktemp("export-cli")
    return make_results(root, ["jpeg@40", "webp@20,50,80"], ["a.png", "b.png", "c.png"])


def _export(results: Path, out: Path, *args: str) -> int:
    return main(["study", "export", str(results), "--out", str(out), "--participants", "1", "--crop-size", "64",
                 "--seed", "3", "--catch-rate", "0", *args])


def test_the_only_setting_is_picked(one_and_three: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert _export(one_and_three, tmp_path / "s", "--codec", "jpeg", "--codec", "webp@50") == 0
    key = json.loads((tmp_path / "s" / "study-key.json").read_text())
    assert key["selection"]["settings"] == {"jpeg": "40", "webp": "50"}


def test_the_error_names_what_is_missing(one_and_three: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _export(one_and_three, tmp_path / "s", "--codec", "jpeg", "--codec", "webp") == 2
    err = capsys.readouterr().err
    assert "no setting given for codec 'webp' (stored settings: 20, 50, 80); add --setting webp=VALUE" in err
    assert "'jpeg'" not in err and "not both" not in err
    assert _export(one_and_three, tmp_path / "t", "--codec", "jpeg", "--codec", "webp", "--bpp", "0.5") == 0
