"""Summary conventions: MS-SSIM in dB of the mean (CompressAI's), quality axes only in BD tables and
plots, infinite (lossless) values reported rather than dropped silently, a capped PSNR, set
metrics over fewer images flagged, and the rate column selectable (bpp or bpp_payload)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gcbench.analysis.bjontegaard import bd_rate, bd_results_table, bd_table, summary_ci
from gcbench.cli import main as cli
from gcbench.core.errors import ConfigError
from gcbench.results.curves import load_results
from gcbench.results.store import ResultStore
from gcbench.results.views import per_image, summary, summary_table
from results.store_helpers import task, write_store


# -- MS-SSIM in dB of the mean, on real Kodak JPEG data ---------------------------------------------

@pytest.fixture(scope="module")
def kodak_jpeg(tmp_path_factory: pytest.TempPathFactory, kodak_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("kodak") / "jpeg"
    assert cli(["run", "--codec", "jpeg@5,15,40,75", "--dataset", str(kodak_dir), "--max-images", "4",
                "--metric", "ms-ssim", "--out", str(out), "--no-progress", "--no-outputs"]) == 0
    return out


def test_ms_ssim_db_is_db_of_the_mean(kodak_jpeg: Path) -> None:
    rows = per_image(kodak_jpeg)
    table = summary_table(kodak_jpeg).set_index("setting")
    for setting, g in rows.groupby("setting"):
        # per image, each image's own dB
        assert g["ms_ssim_db"].to_numpy() == pytest.approx(-10 * np.log10(1 - g["ms_ssim"].to_numpy()), rel=1e-12)
        want = -10 * math.log10(1 - g["ms_ssim"].mean())  # CompressAI: dB of the mean MS-SSIM
        got = table.loc[setting, "ms_ssim_db"]
        assert got == pytest.approx(want, rel=1e-12)
        # and not the mean of per-image dB, which is larger (the dB curve is convex) by a visible margin
        assert g["ms_ssim_db"].mean() - got > 0.01
        assert table.loc[setting, "ms_ssim"] == pytest.approx(g["ms_ssim"].mean(), rel=1e-12)


def test_ms_ssim_db_of_the_mean_in_intervals_bd_and_plots(kodak_jpeg: Path) -> None:
    results = load_results(kodak_jpeg)
    ci = summary_ci(results.per_image, columns=["ms_ssim_db"], bootstrap=200, seed=1)
    table = summary_table(kodak_jpeg).set_index("setting")
    for r in ci.itertuples():
        assert r.mean == pytest.approx(table.loc[r.setting, "ms_ssim_db"], rel=1e-12)
        assert r.ci_lo <= r.mean <= r.ci_hi
    from gcbench.analysis.plots import rd_figure

    fig = rd_figure(kodak_jpeg, ["ms_ssim_db"])
    ys = sorted(fig.axes[0].lines[0].get_ydata())
    assert ys == pytest.approx(sorted(table["ms_ssim_db"]), rel=1e-12)


def test_declared_summary_transforms() -> None:
    from gcbench.metrics.base import column_index

    decl = column_index()
    assert decl["ms_ssim_db"].summary_of == ("ms_ssim", "db") and decl["ssim_db"].summary_of == ("ssim", "db")
    assert decl["psnr"].summary_of is None


# -- quality axes only --------------------------------------------------------------------------

def _curves(columns: dict[str, list[float]]) -> pd.DataFrame:
    rate = [0.1, 0.2, 0.4, 0.8]
    frames = []
    for series, shift in (("A", 0.0), ("B", 0.1)):
        frames.append(pd.DataFrame({"dataset": "d", "codec": series, "series": series,
                                    "setting": ["1", "2", "3", "4"], "bpp": rate,
                                    **{c: [v + shift for v in vs] for c, vs in columns.items()}}))
    return pd.concat(frames, ignore_index=True)


def test_columns_that_are_not_quality_axes_stay_out_of_bd_tables_and_plots() -> None:
    from gcbench.analysis.plots import plot_columns

    curves = _curves({"fid": [40, 30, 20, 10], "kid": [0.04, 0.03, 0.02, 0.01], "kid_std": [1e-3] * 4,
                      "niqe": [8, 7, 6, 5], "niqe_original": [3.0] * 4})
    table = bd_table(curves, "A", methods=("pchip",))
    assert set(table["metric"]) == {"fid", "kid", "niqe"}
    assert plot_columns(curves) == ["fid", "kid", "niqe"]
    with pytest.raises(ConfigError, match="not quality axes"):
        bd_table(curves, "A", columns=["kid_std"])


# -- infinite values and the capped PSNR ----------------------------------------------------------

def _lossless_store(folder: Path) -> Path:
    """Codec 'ref' on two images; 'mixed' whose highest setting is lossless on one of them."""
    records = []
    for codec, base in (("ref", 28.0), ("mixed", 29.0)):
        for s, bpp in zip((1, 2, 3, 4), (0.25, 0.5, 1.0, 2.0), strict=True):
            for image, extra in (("i1", 0.0), ("i2", 1.0)):
                psnr = math.inf if (codec == "mixed" and s == 4 and image == "i1") else base + 4 * s + extra
                records.append(task(f"{codec}-{s}-{image}", codec, s, image, bpp=bpp * (1 + extra / 10),
                                    values={"psnr": psnr}))
    return write_store(folder, records)


def test_a_lossless_image_is_reported_not_dropped_silently(tmp_path: Path) -> None:
    out = _lossless_store(tmp_path / "r")
    s = summary_table(out).set_index(["codec", "setting"])
    assert s.loc[("mixed", "4"), "psnr"] == math.inf
    assert s.loc[("mixed", "4"), "flags"] == "psnr infinite: 1 of 2 images lossless"
    assert s.loc[("mixed", "3"), "flags"] == "" and s.loc[("ref", "4"), "flags"] == ""
    table, _ = bd_results_table(load_results(out), "ref", methods=("pchip",))
    row = table[table["metric"] == "psnr"].iloc[0]
    assert "test mixed point 4 dropped: psnr = inf" in row["warnings"] and row["n_test"] == 3
    from gcbench.analysis.plots import rd_figure

    notes = [t.get_text() for ax in rd_figure(out, ["psnr"]).axes for t in ax.texts]
    assert any("mixed @ 4: psnr infinite (lossless), not drawn" in t for t in notes)


def test_psnr_cap_keeps_the_lossless_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _lossless_store(tmp_path / "r")
    s = summary_table(out, psnr_cap=100).set_index(["codec", "setting"])
    assert s.loc[("mixed", "4"), "psnr_capped"] == pytest.approx((100 + 29 + 16 + 1) / 2)
    assert s.loc[("mixed", "3"), "psnr_capped"] == s.loc[("mixed", "3"), "psnr"]
    table, _ = bd_results_table(load_results(out, psnr_cap=100), "ref", methods=("pchip",))
    row = table[table["metric"] == "psnr_capped"].iloc[0]
    assert row["n_test"] == 4 and "dropped" not in row["warnings"]
    curves = load_results(out, psnr_cap=100).curves
    a, t = curves[curves.codec == "ref"], curves[curves.codec == "mixed"]
    assert row["bd_rate"] == pytest.approx(bd_rate(a["bpp"], a["psnr_capped"], t["bpp"], t["psnr_capped"]).value)
    capsys.readouterr()
    assert cli(["bdrate", str(out), "--anchor", "ref", "--metric", "psnr_capped", "--psnr-cap", "100",
                "--format", "csv"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3  # header, pchip, akima
    with pytest.raises(ConfigError, match="--psnr-cap"):
        summary_table(out, psnr_cap=-1)


# -- set metrics over fewer images --------------------------------------------------------------

def test_a_set_metric_over_fewer_images_is_flagged_with_the_count(tmp_path: Path) -> None:
    records = [task(f"k{i}", "jpeg", 10, f"i{i}", bpp=0.3, values={"psnr": 30.0}) for i in range(3)]
    records += [task(f"m{i}", "jpeg", 20, f"i{i}", bpp=0.6, values={"psnr": 33.0}) for i in range(3)]
    records[2] = task("k2", "jpeg", 10, "i2", bpp=0.3, status="error")
    out = write_store(tmp_path / "r", records)
    with ResultStore(out) as store:
        for setting, n in (("10", 2), ("20", 3)):
            store.write_set_metric(f"fid-{setting}", codec="jpeg", setting=setting, setting_value=float(setting),
                                   dataset="d", metric="fid", metric_id="fid-id", values={"fid": 10.0}, n_items=16,
                                   flags=["only 16 patches (< 2048)"], n_images=n)
    s = summary_table(out).set_index("setting")
    assert s.loc["10", "fid_flags"] == "only 16 patches (< 2048); computed over 2 of 3 images"
    assert s.loc["20", "fid_flags"] == "only 16 patches (< 2048)"


# -- the rate column ----------------------------------------------------------------------------

def test_rate_column_is_selectable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = []
    for codec, gain, payload_share in (("a", 0.0, 0.9), ("b", 1.0, 0.5)):
        for s, bpp in zip((1, 2, 3, 4), (0.25, 0.5, 1.0, 2.0), strict=True):
            records.append(task(f"{codec}{s}", codec, s, "i1", bpp=bpp, values={"psnr": 30 + 5 * s + gain},
                                payload_bytes=round(bpp * payload_share * 10_000 / 8)))
    out = write_store(tmp_path / "r", records)
    curves = summary(per_image(out)).assign(series=lambda d: d["codec"])
    by_file = bd_table(curves, "a", columns=["psnr"], methods=("pchip",))["bd_rate"].item()
    by_payload = bd_table(curves, "a", columns=["psnr"], methods=("pchip",), rate="bpp_payload")["bd_rate"].item()
    a, b = curves[curves.codec == "a"], curves[curves.codec == "b"]
    assert by_payload == pytest.approx(bd_rate(a["bpp_payload"], a["psnr"], b["bpp_payload"], b["psnr"]).value)
    assert by_payload < by_file - 20  # b's payload is a much smaller share of its file
    with pytest.raises(ConfigError, match="unknown rate column"):
        bd_table(curves, "a", rate="bytes")
    from gcbench.analysis.plots import rd_figure

    assert rd_figure(out, ["psnr"], rate="bpp_payload").axes[0].get_xlabel() == "payload bits per pixel (bpp_payload)"
    capsys.readouterr()
    assert cli(["bdrate", str(out), "--anchor", "a", "--metric", "psnr", "--method", "pchip", "--rate",
                "bpp_payload", "--format", "csv"]) == 0
    printed = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert printed["bd_rate"].item() == pytest.approx(by_payload)
    assert cli(["plot", str(out), "--rate", "bpp_payload", "--out", str(tmp_path / "p"), "--format", "png"]) == 0
