"""``gcbench timing`` resolves codecs exactly as ``gcbench run`` does: settings checked against the
codec's rate axis, availability, the codec's preflight and ``--binary``, with the same messages and
exit code 2 before any work."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from gcbench.cli import main
from gcbench.codecs.pillow import PillowCodec
from gcbench.core.errors import WeightsError

FAKE = """#!{python}
import shutil, sys
if sys.argv[1:] == ["--version"]:
    print("fakeprog 0.1")
    sys.exit(0)
shutil.copyfile(sys.argv[1], sys.argv[2])  # a lossless "codec"; the setting is ignored
"""

SPEC = """adapter = "external"
rate_param = "q"
rate_increases_with_setting = true
settings = [1]
[options]
timeout = 60
[options.binaries.fakeprog]
version_args = ["--version"]
install = "the test writes it"
[options.encode]
command = ["{fakeprog}", "{input}", "{output}", "{setting}"]
input = "png"
suffix = ".png"
[options.decode]
command = ["{fakeprog}", "{input}", "{output}"]
output = "png"
"""


class NeedsWeights(PillowCodec):
    """JPEG whose pretrained file is missing: its preflight says so, as a learned codec's does."""

    def preflight(self, settings):
        raise WeightsError("codec needs-weights: weights file model.pth is missing; put it in $GCBENCH_WEIGHTS")


def _errors(capsys: pytest.CaptureFixture[str], *argvs: list[str]) -> list[str]:
    """Exit code 2 for every command line; their error lines."""
    lines = []
    for argv in argvs:
        assert main(argv) == 2, argv
        lines.append([x for x in capsys.readouterr().err.splitlines() if x.startswith("gcbench: error:")][-1])
    return lines


def _both(tmp_path: Path, data: Path, *extra: str) -> tuple[list[str], list[str]]:
    common = ["--dataset", str(data), "--no-progress", *extra]
    return (["run", *common, "--out", str(tmp_path / "run")],
            ["timing", *common, "--out", str(tmp_path / "timing"), "--repeats", "1", "--warmup", "0"])


@pytest.mark.parametrize("codec, message", [("jpeg@500", "500 is outside 0–100"), ("jpeg@abc", "is not an integer")])
def test_settings_off_the_rate_axis_stop_run_and_timing(tmp_path: Path, image_folder, capsys, codec: str,
                                                        message: str) -> None:
    run_argv, timing_argv = _both(tmp_path, image_folder(1, (16, 16)), "--codec", codec)
    equal_bitrate = run_argv + ["--target-bpp", "0.5", "--no-sweep"]
    got = _errors(capsys, run_argv, timing_argv, equal_bitrate)
    assert message in got[0] and got[0] == got[1] == got[2]
    assert not (tmp_path / "run").exists() and not (tmp_path / "timing").exists()


def test_preflight_and_availability_messages_are_the_same(tmp_path: Path, image_folder, specs: Path, capsys,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (specs / "needs-weights.toml").write_text('base = "jpeg"\nadapter = "test_timing_resolution:NeedsWeights"\n')
    data = image_folder(1, (16, 16))
    got = _errors(capsys, *_both(tmp_path, data, "--codec", "needs-weights@50"))
    assert "weights file model.pth is missing" in got[0] and got[0] == got[1]
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pillow_heif" else real(name, *a))
    got = _errors(capsys, *_both(tmp_path, data, "--codec", "heic"))
    assert "pip install 'gcbench[heif]'" in got[0] and got[0] == got[1]
    assert not (tmp_path / "run").exists() and not (tmp_path / "timing").exists()


def test_binary_option_reaches_timing_as_it_reaches_run(tmp_path: Path, image_folder, specs: Path, capsys) -> None:
    prog = tmp_path / "bin" / "fakeprog"
    prog.parent.mkdir()
    prog.write_text(FAKE.format(python=sys.executable))
    prog.chmod(prog.stat().st_mode | stat.S_IXUSR)
    (specs / "fakecopy.toml").write_text(SPEC)
    data = image_folder(1, (16, 16))
    run_argv, timing_argv = _both(tmp_path, data, "--codec", "fakecopy")
    # not on PATH: the same message from both, naming --binary
    got = _errors(capsys, run_argv, timing_argv)
    assert "program fakeprog not found" in got[0] and got[0] == got[1]
    given = ["--binary", f"fakeprog={prog}"]
    # a name no chosen codec runs is a typo, refused by both
    typo = given + ["--binary", "fakeprg=/x"]
    got = _errors(capsys, run_argv + typo, timing_argv + typo)
    assert "--binary fakeprg: no chosen codec runs a program of that name" in got[0] and got[0] == got[1]
    assert main(run_argv + given + ["--metric", "psnr"]) == 0
    assert main(timing_argv + given) == 0
    meta = json.loads((tmp_path / "timing" / "timing.json").read_text())
    spec = meta["runs"][-1]["codecs"]["fakecopy"]["spec"]
    assert spec["options"]["binaries"]["fakeprog"]["path"] == str(prog)
    assert meta["runs"][-1]["codecs"]["fakecopy"]["versions"]["fakeprog"] == "fakeprog 0.1"
