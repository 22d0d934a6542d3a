"""One config: RunConfig holds every run option (learned codecs' device and random weights included),
loads from TOML, command-line flags override the file, unknown keys are refused with the valid ones,
defaults come from the one defaults table, and the resolved config is stored with the run."""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gcbench.cli import build_parser, main
from gcbench.codecs.base import Codec, Encoded
from gcbench.core import defaults
from gcbench.core.errors import ConfigError
from gcbench.execution.config import CONFIG_KEYS, RunConfig
from gcbench.execution.runner import prepare, run
from gcbench.results.views import per_image


class DeviceProbeCodec(Codec):
    """A learned codec's flags without a network: raw pixels; the row's provenance says where it ran."""

    accepts_device = True
    accepts_random_weights = True

    def encode(self, image, setting, side=None):
        h, w = image.shape[:2]
        info = {"device": self.spec.options.get("device", "cpu"),
                "random_weights": bool(self.spec.options.get("random_weights", False))}
        return Encoded(struct.pack("<II", h, w) + np.ascontiguousarray(image).tobytes(), info=info)

    def decode(self, data, size=None):
        h, w = struct.unpack("<II", data[:8])
        return np.frombuffer(data[8:], np.uint8).reshape(h, w, 3).copy()


@pytest.fixture
def probe_spec(specs: Path) -> str:
    (specs / "probe.toml").write_text('adapter = "test_run_config:DeviceProbeCodec"\nrate_param = "mode"\n'
                                      'settings = ["raw"]\nrate_increases_with_setting = true\n')
    return "probe"


@pytest.fixture
def two_kodak(kodak_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "kodak2"
    folder.mkdir()
    for p in sorted(kodak_dir.glob("*.png"))[:2]:
        (folder / p.name).symlink_to(p)
    return folder


def _provenance(out: Path) -> list[dict]:
    with sqlite3.connect(out / "gcbench.sqlite") as conn:
        return [json.loads(p) for (p,) in conn.execute("SELECT provenance FROM tasks")]


def _stored_config(out: Path) -> dict:
    with sqlite3.connect(out / "gcbench.sqlite") as conn:
        return json.loads(conn.execute("SELECT config FROM runs ORDER BY run_id DESC").fetchone()[0])


def test_device_and_random_weights_reach_learned_codecs_from_python(tmp_path: Path, image_folder,
                                                                    probe_spec: str) -> None:
    images = image_folder(1, (24, 32))
    config = RunConfig(codecs=[probe_spec, "jpeg@50"], dataset=str(images), out=tmp_path / "o", metrics=["psnr"],
                       device="cuda", random_weights=False, progress=False, write_outputs=False)
    plans = {p.spec.name: p for p in prepare(config).codecs}
    assert plans[probe_spec].spec.options["device"] == "cuda"
    assert "device" not in plans["jpeg"].spec.options  # a codec without a device keeps its key
    report = run(RunConfig(codecs=[probe_spec], dataset=str(images), out=tmp_path / "o", metrics=["psnr"],
                           device="cuda:1", random_weights=True, progress=False, write_outputs=False))
    assert not report.failed
    assert _provenance(tmp_path / "o") == [{"device": "cuda:1", "random_weights": True}]
    spec = _stored_config(tmp_path / "o")["codec_specs"][0]
    assert spec["options"]["device"] == "cuda:1" and spec["options"]["random_weights"] is True
    with pytest.raises(ConfigError, match="--random-weights applies to learned codecs only"):
        prepare(RunConfig(codecs=["jpeg"], dataset=str(images), out=tmp_path / "x", random_weights=True))


def test_a_toml_file_runs_like_the_flags(tmp_path: Path, two_kodak: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp.toml").write_text(
        f'codecs = ["jpeg@40,80"]\nmetrics = ["psnr"]\ndataset = "{two_kodak}"\nout = "res"\nprogress = false\n'
        "bpp_tolerance = 0.02\n[codec_options.jpeg.save]\noptimize = true\n")
    assert main(["run", "--config", "exp.toml"]) == 0
    df = per_image(tmp_path / "res")
    assert len(df) == 4 and sorted(df["setting"].unique()) == ["40", "80"] and df["psnr"].notna().all()
    # the same run from flags gives the same rows (same keys: same spec, options included)
    assert main(["run", "--codec", "jpeg@40,80", "--metric", "psnr", "--dataset", str(two_kodak), "--out", "flags",
                 "--codec-option", "jpeg.save.optimize=true", "--no-progress"]) == 0
    cols = ["key", "codec", "setting", "image", "n_bytes", "psnr"]
    pd.testing.assert_frame_equal(df[cols], per_image(tmp_path / "flags")[cols])
    stored = _stored_config(tmp_path / "res")
    assert stored["codecs"] == ["jpeg@40,80"] and stored["metrics"] == ["psnr"] and stored["bpp_tolerance"] == 0.02
    assert stored["codec_options"] == {"jpeg": {"save": {"optimize": True}}}
    assert stored["argv"] == ["gcbench", "run", "--config", "exp.toml"]
    assert set(CONFIG_KEYS) <= set(stored)  # every option, resolved


def test_flags_override_the_file(tmp_path: Path, two_kodak: Path) -> None:
    path = tmp_path / "exp.toml"
    path.write_text(f'codecs = ["jpeg@40,80"]\nmetrics = ["psnr"]\ndataset = "{two_kodak}"\nout = "{tmp_path / "a"}"\n'
                    'jobs = 2\ntarget_bpp = [0.5]\n[codec_options.jpeg.save]\noptimize = true\n')
    args = build_parser().parse_args(["run", "--config", str(path), "--codec", "webp@50", "--out", str(tmp_path / "b"),
                                      "--codec-option", "webp.method=6", "--jobs", "1", "--bpp-tolerance", "0.1"])
    args.argv = []
    from gcbench.cli.run import config_from_args

    config = config_from_args(args)
    assert config.codecs == ["webp@50"] and config.out == str(tmp_path / "b") and config.jobs == 1
    assert config.metrics == ["psnr"] and config.target_bpp == [0.5] and config.bpp_tolerance == 0.1
    # tables merge key by key, the flag winning
    assert config.codec_options == {"jpeg": {"save": {"optimize": True}}, "webp": {"method": 6}}
    assert RunConfig.from_toml(path, jobs=3).jobs == 3 and RunConfig.from_toml(path).jobs == 2


def test_unknown_keys_and_wrong_types_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "exp.toml"
    path.write_text('codec = ["jpeg"]\ndataset = "sample"\nout = "o"\n')
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'codec'" in err and "Did you mean 'codecs'?" in err
    assert "Valid keys: codecs, dataset, out, metrics, jobs" in err and "random_weights" in err
    path.write_text('codecs = ["jpeg"]\ndataset = "sample"\nout = "o"\njobs = "two"\n')
    assert main(["run", "--config", str(path)]) == 2
    assert "jobs must be an integer, got 'two'" in capsys.readouterr().err
    path.write_text('codecs = ["jpeg"]\ndataset = "sample"\n')
    assert main(["run", "--config", str(path)]) == 2
    assert "missing out (--out)" in capsys.readouterr().err
    assert main(["run", "--config", str(tmp_path / "none.toml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["run", "--dataset", "sample", "--out", str(tmp_path / "x")]) == 2
    assert "missing codecs (--codec)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and not (tmp_path / "x").exists()


def test_cli_defaults_are_the_defaults_table(capsys: pytest.CaptureFixture[str]) -> None:
    from gcbench.cli.run import config_from_args

    args = build_parser().parse_args(["run", "--codec", "jpeg", "--dataset", "sample", "--out", "x"])
    args.argv = []
    config = config_from_args(args)
    assert (config.jobs, config.device, config.executor) == (defaults.JOBS, defaults.DEVICE, defaults.EXECUTOR)
    assert config.metrics == list(defaults.METRICS) and config.target_mode == defaults.TARGET_MODE
    assert config.bpp_tolerance == defaults.BPP_TOLERANCE and config.random_weights is False
    for field in ("jobs", "device", "executor", "metrics", "target_mode", "bpp_tolerance"):
        assert getattr(config, field) == getattr(RunConfig(codecs=["jpeg"], dataset="d", out="o"), field)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    text = capsys.readouterr().out
    assert f"default {defaults.BPP_TOLERANCE:g}" in text and f"default {defaults.JOBS}" in text


def test_config_values_are_checked_before_any_work(tmp_path: Path) -> None:
    base = {"codecs": ["jpeg@50"], "dataset": "sample", "out": tmp_path / "o"}
    for bad, message in (({"jobs": 0}, "--jobs must be at least 1"), ({"target_bpp": [-1.0]}, "positive number"),
                         ({"bpp_tolerance": 1.5}, "--bpp-tolerance"), ({"target_mode": "closest"}, "unknown target mode"),
                         ({"sweep": False}, "--no-sweep leaves nothing to run"),
                         ({"metric_options": {"lpips": {"net": "vgg"}}}, "not among the metrics run")):
        with pytest.raises(ConfigError, match=message):
            run(RunConfig(**base, **bad))
    assert not (tmp_path / "o").exists()
