"""Tables and exports, the plot, and the thin CLI over them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gcbench.cli import main
from gcbench.core.errors import ConfigError, GcbenchError
from gcbench.execution.runner import RunConfig, run
from gcbench.results.views import per_image, summary, summary_table, to_markdown, write_table


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("views") / "r"
    run(RunConfig(codecs=["jpeg@5,40,90", "webp@40"], dataset="sample", out=out, progress=False))
    return out


def test_per_image_is_tidy(results: Path) -> None:
    df = per_image(results)
    assert len(df) == 12 and not df.duplicated(["codec", "setting", "image"]).any()
    # numeric settings sort numerically (5 before 40 before 90), not as text
    assert df[df.codec == "jpeg"]["setting"].drop_duplicates().tolist() == ["5", "40", "90"]
    assert {"jpeg", "webp"} == set(df.codec) and (df.rate_param == "quality").all()
    assert df["codec_versions"].str.contains("libjpeg").any()


def test_summary_counts_failures_and_keeps_the_setting(results: Path) -> None:
    s = summary(per_image(results))
    assert s["setting"].tolist() == ["5", "40", "90", "40"]
    assert s["setting_value"].tolist() == [5.0, 40.0, 90.0, 40.0]
    assert (s["n_images"] == 3).all() and (s["n_failed"] == 0).all()
    assert s[s.codec == "jpeg"]["bpp"].is_monotonic_increasing


@pytest.mark.parametrize("fmt", ["csv", "md", "parquet", "tex"])
def test_exports(results: Path, tmp_path: Path, fmt: str) -> None:
    s = summary_table(results)
    path = write_table(s, tmp_path / f"summary.{fmt}")
    if fmt == "csv":
        back = pd.read_csv(path)
        assert back["psnr"].tolist() == pytest.approx(s["psnr"].tolist(), rel=1e-12)
    elif fmt == "parquet":
        pd.testing.assert_frame_equal(pd.read_parquet(path), s)
    elif fmt == "md":
        text = path.read_text()
        assert text.splitlines()[0].startswith("| dataset | codec | setting |") and text.count("\n") == 2 + len(s)
    else:
        assert "\\begin{tabular}" in path.read_text()
    with pytest.raises(ConfigError, match="unknown table format"):
        write_table(s, tmp_path / "x.xlsx")


def test_markdown_escapes_pipes() -> None:
    md = to_markdown(pd.DataFrame({"a": ["x|y"], "b": [1.5]}))
    assert "x\\|y" in md and "1.5000" in md


def test_cli_table_plot_ls_validate(results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", str(results), "--format", "csv"]) == 0
    csv = capsys.readouterr().out
    assert csv.splitlines()[0].split(",")[:9] == [
        "dataset", "codec", "setting", "setting_value", "rate_param", "n_images", "n_failed", "bpp_kind", "bpp"]
    assert {"psnr", "ms_ssim", "ms_ssim_db"} <= set(csv.splitlines()[0].split(","))
    assert main(["table", str(results), "--per-image", "--format", "parquet", "-o", str(tmp_path / "p.parquet")]) == 0
    assert len(pd.read_parquet(tmp_path / "p.parquet")) == 12
    assert main(["table", str(results), "--failures"]) == 0
    assert main(["plot", str(results), "--out", str(tmp_path / "plot"), "--format", "png"]) == 0
    assert (tmp_path / "plot.png").stat().st_size > 10_000
    assert main(["ls", "codecs", "jpeg*"]) == 0
    assert "jpeg444" in capsys.readouterr().out
    assert main(["validate"]) == 0


def test_cli_errors_are_messages_not_tracebacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", str(tmp_path / "nothing-here")]) == 2
    assert "no gcbench results here" in capsys.readouterr().err
    assert main(["run", "--codec", "jpeg"]) == 2  # missing --dataset and --out
    assert "missing dataset (--dataset), out (--out)" in capsys.readouterr().err
    assert main(["run", "--codec", "jpeg", "--dataset", "sample", "--out", str(tmp_path / "o"),
                 "--codec-option", "jpeg"]) == 2
    assert "CODEC.KEY=VALUE" in capsys.readouterr().err
    with pytest.raises(GcbenchError):
        run(RunConfig(codecs=["jpeg", "jpeg@5"], dataset="sample", out=tmp_path / "o2"))


def test_codec_option_override_reaches_the_codec(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["run", "--codec", "jpeg@50", "--dataset", "sample", "--out", str(a), "--metric", "psnr",
                 "--no-progress"]) == 0
    assert main(["run", "--codec", "jpeg@50", "--dataset", "sample", "--out", str(b), "--metric", "psnr",
                 "--no-progress", "--codec-option", 'jpeg.save.subsampling="4:4:4"']) == 0
    # a different spec is a different codec identity, with more bytes at the same quality
    assert (per_image(b)["n_bytes"].values > per_image(a)["n_bytes"].values).all()
