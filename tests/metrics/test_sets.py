"""Named metric sets: what --metric-set jpeg-ai runs here, and one warning line per metric it cannot."""

from __future__ import annotations

import importlib.util

import pytest

from gcbench.core.errors import UnknownNameError
from gcbench.metrics.registry import metrics
from gcbench.metrics.sets import METRIC_SETS, expand_metric_set


def test_jpeg_ai_runs_what_is_installed_and_names_the_rest() -> None:
    names, warnings = expand_metric_set("jpeg-ai")
    assert names == ["ms-ssim", "pyiqa:vif", "pyiqa:fsim", "pyiqa:nlpd", "psnr-yuv"]
    assert all(n in metrics for n in names)
    assert len(warnings) == 3 and all("\n" not in w for w in warnings)
    for label in ("IW-SSIM", "PSNR-HVS-M", "VMAF"):
        assert sum(f"jpeg-ai: {label} left out: " in w for w in warnings) == 1
    labels = [e.label for e in METRIC_SETS["jpeg-ai"]]
    assert labels == ["MS-SSIM", "IW-SSIM", "VIF", "FSIM", "NLPD", "PSNR-HVS-M", "VMAF", "YUV PSNR"]


def test_without_pyiqa_its_metrics_are_named_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "pyiqa" else real(n, *a))
    names, warnings = expand_metric_set("jpeg-ai")
    assert names == ["ms-ssim", "psnr-yuv"]
    for label in ("VIF (pyiqa:vif)", "FSIM (pyiqa:fsim)", "NLPD (pyiqa:nlpd)"):
        (line,) = [w for w in warnings if label in w]
        assert "gcbench[niqe]" in line


def test_unknown_set() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'jpeg-ai'"):
        expand_metric_set("jpegai")


def test_cli_expands_the_set_before_the_config(capsys: pytest.CaptureFixture[str]) -> None:
    from gcbench.cli import build_parser
    from gcbench.cli.run import config_from_args

    args = build_parser().parse_args(["run", "--codec", "png", "--dataset", "x", "--out", "y", "--metric", "lpips",
                                      "--metric-set", "jpeg-ai", "--metric-option", "pyiqa:fsim.chromatic=false"])
    args.argv = []
    config = config_from_args(args)
    assert config.metrics == ["lpips", "ms-ssim", "pyiqa:vif", "pyiqa:fsim", "pyiqa:nlpd", "psnr-yuv"]
    assert config.metric_options == {"pyiqa:fsim": {"chromatic": False}}
    assert capsys.readouterr().err.count("metric set jpeg-ai: ") == 3
    plain = build_parser().parse_args(["run", "--codec", "png", "--dataset", "x", "--out", "y"])
    plain.argv = []
    assert config_from_args(plain).metrics == ["psnr", "ms-ssim"]
