"""Plots: a panel per declared metric with its direction, several runs, published curves with
provenance, flagged set-metric values, per-image scatter, the distortion–perception plane."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gcbench.analysis import plots
from gcbench.core.errors import ConfigError
from gcbench.metrics.base import Column, PairMetric, SetMetric, SetResult
from gcbench.analysis.references import load_references


class _Distance(PairMetric):
    """Lower is better; the column's name says nothing about it."""

    name = "t-distance"
    columns = (Column("t_score", higher_is_better=False, label="T score"),)

    def compute(self, original, reconstruction):
        diff = original.astype(np.float64) - reconstruction
        return {"t_score": float(np.abs(diff).mean())}


class _SetScore(SetMetric):
    name = "t-set"
    columns = (Column("t_set_value", higher_is_better=False, label="T set"),)

    def item_features(self, original, reconstruction, context):  # pragma: no cover - not run here
        return np.zeros(1)

    def finalize(self, features, references):  # pragma: no cover - not run here
        return SetResult({"t_set_value": 0.0}, n_items=len(features))


@pytest.fixture
def test_metrics():
    from gcbench.metrics.registry import metrics

    metrics.add("t-distance", _Distance, replace=True)
    metrics.add("t-set", _SetScore, replace=True)
    yield
    metrics.remove("t-distance")
    metrics.remove("t-set")


def _curves() -> pd.DataFrame:
    rows = []
    for codec, shift in (("A", 0.0), ("B", 1.0)):
        for i, bpp in enumerate((0.15, 0.3, 0.6, 1.2)):
            rows.append({"dataset": "d", "codec": codec, "series": codec, "setting": str(i), "n_images": 4,
                         "bpp": bpp, "psnr": 28 + 4 * np.log2(bpp / 0.15) + shift,
                         "t_score": 10 / (1 + 4 * bpp) - shift / 2, "mystery": float(i),
                         "t_set_value": 40 / (1 + bpp) - shift,
                         "t_set_flags": "only 8 patches (< 2048)" if i == 0 else ""})
    return pd.DataFrame(rows)


def test_panels_and_directions_from_declarations(test_metrics: None) -> None:
    fig = plots.rd_figure(_curves())
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    titles = [ax.get_title() for ax in axes]
    assert titles == ["PSNR (higher is better)", "T score (lower is better)", "T set (lower is better)"]
    assert not axes[0].yaxis_inverted()
    assert axes[1].yaxis_inverted() and axes[2].yaxis_inverted()
    assert "mystery" not in " ".join(titles)  # undeclared: its direction is unknown, so it is not drawn
    assert [ax.get_ylabel() for ax in axes][:2] == ["PSNR [dB]", "T score"]


def test_flagged_set_values_are_hollow_and_explained(test_metrics: None) -> None:
    fig = plots.rd_figure(_curves(), ["t_set_value"])
    ax = fig.axes[0]
    hollow = [line for line in ax.get_lines() if line.get_markerfacecolor() == "white"]
    assert len(hollow) == 2  # the flagged first point of each codec
    assert {float(line.get_xdata()[0]) for line in hollow} == {0.15}
    notes = " ".join(t.get_text() for t in ax.texts)
    assert "only 8 patches (< 2048)" in notes and "hollow" in notes


def test_error_bars_from_intervals(test_metrics: None) -> None:
    curves = _curves()
    ci = pd.DataFrame([{"dataset": "d", "series": "A", "setting": str(i), "column": "psnr",
                        "ci_lo": v - 0.5, "ci_hi": v + 0.25} for i, v in enumerate(curves[curves.codec == "A"]["psnr"])])
    ax = plots.rd_figure(curves, ["psnr"], ci=ci).axes[0]
    bars = [c for c in ax.collections if c.__class__.__name__ == "LineCollection"]
    assert len(bars) == 1
    segments = bars[0].get_segments()
    assert len(segments) == 4
    assert [round(s[1][1] - s[0][1], 6) for s in segments] == [0.75] * 4


def test_references_json_and_csv(tmp_path: Path, test_metrics: None) -> None:
    # CompressAI's published-results layout (their results/image/kodak/jpeg.json, first points)
    compressai = {"name": "JPEG (CompressAI)", "description": "JPEG. Pillow version 7.1.2",
                  "url": "https://github.com/InterDigitalInc/CompressAI/blob/master/results/image/kodak/jpeg.json",
                  "results": {"psnr-rgb": [23.779894921045457, 26.57723034342358, 28.042246379237767],
                              "bpp": [0.22115325927734372, 0.32661437988281244, 0.42312622070312506]}}
    (tmp_path / "ref.json").write_text(json.dumps(compressai))
    (tmp_path / "ref.csv").write_text("# read from a paper's figure\nname,source,dataset,bpp,t_score\n"
                                      "Paper X,Doe et al. 2024 Fig. 3,d,0.2,8.0\nPaper X,Doe et al. 2024 Fig. 3,d,0.5,5.5\n")
    refs = load_references(tmp_path / "ref.json", {"psnr-rgb": "psnr"}) + load_references(tmp_path / "ref.csv")
    assert [r.name for r in refs] == ["JPEG (CompressAI)", "Paper X"]
    assert "Pillow version 7.1.2" in refs[0].provenance and "github.com/InterDigitalInc" in refs[0].provenance
    import hashlib

    assert refs[1].dataset == "d"
    assert refs[1].file_sha256 == hashlib.sha256((tmp_path / "ref.csv").read_bytes()).hexdigest()
    fig = plots.rd_figure(_curves(), ["psnr", "t_score"], references=refs)
    psnr_ax, t_ax = fig.axes[:2]
    ref_line = next(line for line in psnr_ax.get_lines() if line.get_label() == "JPEG (CompressAI) [published]")
    assert np.allclose(ref_line.get_xdata(), compressai["results"]["bpp"])
    assert np.allclose(ref_line.get_ydata(), compressai["results"]["psnr-rgb"])
    assert any(line.get_label() == "Paper X [published]" for line in t_ax.get_lines())
    assert not any("Paper X" in line.get_label() for line in psnr_ax.get_lines())  # no psnr in that file
    footer = " ".join(t.get_text() for t in fig.texts)
    assert "Doe et al. 2024 Fig. 3" in footer and refs[1].file_sha256[:12] in footer


def test_reference_files_must_say_where_they_come_from(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"name": "X", "points": {"bpp": [0.1, 0.2], "psnr": [30, 31]}}))
    with pytest.raises(ConfigError, match="source"):
        load_references(tmp_path / "a.json")
    (tmp_path / "b.csv").write_text("name,bpp,psnr\nX,0.1,30\nX,0.2,31\n")
    with pytest.raises(ConfigError, match="source"):
        load_references(tmp_path / "b.csv")
    (tmp_path / "c.json").write_text(json.dumps({"name": "X", "source": "s", "points": {"psnr": [30, 31]}}))
    with pytest.raises(ConfigError, match="bpp"):
        load_references(tmp_path / "c.json")
    (tmp_path / "d.txt").write_text("")
    with pytest.raises(ConfigError, match=".csv or .json"):
        load_references(tmp_path / "d.txt")


def test_per_image_scatter_with_mean_curve() -> None:
    rng = np.random.default_rng(0)
    rows = [{"dataset": "d", "codec": c, "series": c, "setting": str(s), "image": f"i{k}", "status": "ok",
             "bpp": b * rng.uniform(0.8, 1.2), "psnr": 30 + s + rng.normal()}
            for c in ("A", "B") for s, b in enumerate((0.2, 0.5, 1.0)) for k in range(5)]
    df = pd.DataFrame(rows)
    curves = df.groupby(["dataset", "codec", "series", "setting"], as_index=False)[["bpp", "psnr"]].mean()
    ax = plots.per_image_figure(df, ["psnr"], curves=curves).axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(df)
    mean_a = next(line for line in ax.get_lines() if line.get_label().startswith("A (mean of 5 images)"))
    want = curves[curves.series == "A"].sort_values("bpp")
    assert np.allclose(mean_a.get_xdata(), want["bpp"]) and np.allclose(mean_a.get_ydata(), want["psnr"])


def test_distortion_perception_plane(test_metrics: None) -> None:
    from scipy.interpolate import PchipInterpolator

    curves = _curves()
    points, rates = plots.equal_rate_points(curves, "psnr", "t_set_value", rates=[0.25, 0.5, 2.0])
    assert rates == [0.25, 0.5, 2.0]
    assert 2.0 not in set(points["bpp"])  # outside every curve: not extrapolated
    for name, g in curves.groupby("series"):
        lb = np.log10(g["bpp"])
        for col in ("psnr", "t_set_value"):
            f = PchipInterpolator(lb, g[col])
            got = points[points.series == name].set_index("bpp")[col]
            assert np.allclose(got.to_numpy(), f(np.log10(got.index.to_numpy())))
    fig = plots.distortion_perception_figure(curves, "psnr", "t_set_value")
    ax = fig.axes[0]
    assert not ax.xaxis_inverted() and ax.yaxis_inverted()  # better is right and up
    assert "flags" in " ".join(t.get_text() for t in ax.texts)


def test_several_runs_on_one_figure(image_folder, tmp_path: Path) -> None:
    from gcbench.execution.runner import RunConfig, run

    images = image_folder(2, (96, 128))
    for name in ("a", "b"):
        run(RunConfig(codecs=["jpeg@20,50,80" if name == "a" else "jpeg@30,60,90"], dataset=str(images),
                      out=tmp_path / name, metrics=["psnr"], progress=False))
        assert (tmp_path / name / "rd.png").is_file() and (tmp_path / name / "rd.svg").is_file()
    fig = plots.rd_figure([tmp_path / "a", tmp_path / "b"])
    labels = {line.get_label() for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")}
    assert labels == {"jpeg (a)", "jpeg (b)"}
    written = plots.plot_rd([tmp_path / "a", tmp_path / "b"], tmp_path / "both", formats=("png",))
    assert written == [tmp_path / "both.png"] and written[0].stat().st_size > 1000
