"""Published curves shipped with gcbench: every name loads in gcbench's columns, the conversion
keeps the authors' numbers, names resolve in the commands that take ``--reference``, and
gcbench's own WebP and JPEG reproduce CompressAI's published Kodak points."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gcbench.analysis.bundled_references import list_references, load_bundled, references, references_folder
from gcbench.analysis.references import load_references
from gcbench.core.errors import ConfigError, UnknownNameError

GCBENCH_COLUMNS = {"bpp", "psnr", "ms_ssim", "ms_ssim_db", "lpips", "dists", "fid", "fid_swav", "kid", "niqe"}


@pytest.mark.parametrize("name", references.names())
def test_every_shipped_curve_loads_in_gcbench_columns(name: str) -> None:
    ref = references.get(name)
    curve = load_bundled(name)
    assert curve.name == name and curve.dataset == ref.dataset == name.split("/")[1]
    assert set(curve.points.columns) <= GCBENCH_COLUMNS
    assert {"bpp", "psnr", "ms_ssim", "ms_ssim_db"} <= set(curve.points.columns)
    assert (curve.points["bpp"] > 0).all() and curve.points["bpp"].is_monotonic_increasing
    assert len(ref.commit) == 40 and int(ref.commit, 16) >= 0
    assert ref.licence and ref.citation and ref.url.startswith("https://") and ref.bpp
    assert ref.file.is_file() and curve.file_sha256 and ref.upstream_file in curve.source


def _upstream_json(name: str) -> dict:
    return json.loads((references_folder() / "compressai" / "kodak" / name).read_text())["results"]


@pytest.mark.parametrize("curve, file, psnr_key, ssim_key", [
    ("compressai/kodak/jpeg", "jpeg.json", "psnr-rgb", "ms-ssim-rgb"),
    ("compressai/kodak/webp", "webp.json", "psnr", "ms-ssim"),
    ("compressai/kodak/mbt2018-ms-ssim", "compressai-mbt2018_ms-ssim_cpu.json", "psnr-rgb", "ms-ssim-rgb"),
])
def test_compressai_columns_are_the_published_numbers(curve: str, file: str, psnr_key: str, ssim_key: str) -> None:
    raw = _upstream_json(file)
    points = load_bundled(curve).points
    order = np.argsort(raw["bpp"])
    np.testing.assert_array_equal(points["bpp"], np.asarray(raw["bpp"])[order])
    np.testing.assert_array_equal(points["psnr"], np.asarray(raw[psnr_key])[order])
    np.testing.assert_array_equal(points["ms_ssim"], np.asarray(raw[ssim_key])[order])
    # dB of the MEAN MS-SSIM, written out independently of gcbench's to_db
    expected_db = [-10 * math.log10(1 - v) for v in np.asarray(raw[ssim_key])[order]]
    np.testing.assert_allclose(points["ms_ssim_db"], expected_db, rtol=1e-15)
    assert "encoding_time" not in points.columns and "encode_s" not in points.columns


def test_csv_sources_select_their_rows_and_drop_empty_columns() -> None:
    hific = pd.read_csv(references_folder() / "hific" / "data.csv")
    kodak = hific[hific["dataset"] == "kodak"]
    points = load_bundled("hific/kodak/hific").points
    assert len(points) == 3
    np.testing.assert_array_equal(points["lpips"], kodak["LPIPS"].to_numpy())
    np.testing.assert_array_equal(points["niqe"], kodak["NIQE"].to_numpy())
    assert "fid" not in points.columns  # HiFiC reports no FID on Kodak's 24 images
    assert "fid" in load_bundled("hific/clic2020/hific").points.columns

    msillm = pd.read_csv(references_folder() / "msillm" / "results.csv")
    for slug, model, n in (("ms-illm", "MS-ILLM", 6), ("no-gan", "No-GAN", 8)):
        rows = msillm[(msillm["model"] == model) & (msillm["dataset"] == "div2k")]
        points = load_bundled(f"msillm/div2k/{slug}").points
        assert len(points) == n
        np.testing.assert_array_equal(points["kid"], rows.sort_values("bpp")["kid"].to_numpy())


def test_names_and_wildcards_resolve_where_files_did() -> None:
    assert [c.name for c in load_references("compressai/kodak/webp")] == ["compressai/kodak/webp"]
    zoo = load_references("compressai/kodak/cheng2020-*")
    assert sorted(c.name for c in zoo) == [f"compressai/kodak/cheng2020-{m}" for m in
                                           ("anchor", "anchor-ms-ssim", "attn", "attn-ms-ssim")]
    with pytest.raises(UnknownNameError, match="Did you mean 'compressai/kodak/webp'"):
        load_references("compressai/kodak/wepb")
    with pytest.raises(ConfigError, match="no shipped reference curve matches"):
        load_references("nothing/*")
    with pytest.raises(ConfigError, match="reference file missing.json not found"):
        load_references("missing.json")


def test_list_references_names_the_four_sources() -> None:
    table = list_references()
    assert {"compressai/kodak/webp", "compressai/kodak/bpg", "compressai/kodak/mbt2018",
            "hific/kodak/hific", "msillm/kodak/ms-illm"} <= set(table["reference"])
    row = table.set_index("reference").loc["msillm/kodak/ms-illm"]
    assert row["points"] == 6 and "pickle" in row["bpp"] and row["licence"].startswith("MIT")


def test_plot_and_bdrate_take_a_shipped_name(tmp_path: Path, kodak_dir: Path, capsys: pytest.CaptureFixture) -> None:
    from gcbench import RunConfig, run
    from gcbench.cli import main

    out = tmp_path / "k"
    run(RunConfig(codecs=["webp@10,30,50,75"], dataset=str(kodak_dir), out=out, metrics=["psnr"],
                  max_images=2, progress=False, write_outputs=False))
    assert main(["plot", str(out), "--reference", "compressai/kodak/webp", "--format", "svg"]) == 0
    svg = (out / "rd.svg").read_text()
    assert "compressai/kodak/webp [published]" in svg
    capsys.readouterr()
    assert main(["bdrate", str(out), "--anchor", "webp", "--metric", "psnr", "--method", "pchip",
                 "--reference", "compressai/kodak/jpeg", "--format", "csv"]) == 0
    table = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert (table["series"] == "compressai/kodak/jpeg [published]").any()


def _published(name: str) -> pd.DataFrame:
    return load_bundled(name).points


@pytest.mark.slow
def test_gcbench_webp_and_jpeg_reproduce_compressai_kodak(tmp_path: Path, kodak_dir: Path) -> None:
    """All 24 images, CompressAI's 19 qualities (5, 10, …, 95; its JSON lists the points in that order)."""
    from gcbench import RunConfig, run
    from gcbench.results.views import summary_table

    qualities = ",".join(str(q) for q in range(5, 100, 5))
    report = run(RunConfig(codecs=[f"webp@{qualities}", f"jpeg@{qualities}"], dataset=str(kodak_dir),
                           out=tmp_path, metrics=["psnr"], progress=False, write_outputs=False))
    assert not report.failed
    table = summary_table(tmp_path).sort_values("setting_value")
    assert set(table["n_images"]) == {24}

    webp = table[table["codec"] == "webp"]
    published = _upstream_json("webp.json")  # in quality order, as CompressAI wrote it
    # bpp: the same bytes for every image (only the summation order of the mean may differ)
    np.testing.assert_allclose(webp["bpp"], published["bpp"], rtol=1e-15, atol=0)
    # PSNR: every digit CompressAI's float32 MSE carries (measured differences ≤ 1.1e-7 dB)
    np.testing.assert_allclose(webp["psnr"], published["psnr"], rtol=0, atol=2e-7)

    jpeg = table[table["codec"] == "jpeg"]
    published = _upstream_json("jpeg.json")
    # a newer libjpeg(-turbo): files up to 0.28 % smaller, PSNR +0.004…+0.133 dB
    np.testing.assert_allclose(jpeg["bpp"], published["bpp"], rtol=3e-3)
    assert (np.abs(jpeg["psnr"].to_numpy() - np.asarray(published["psnr-rgb"])) <= 0.15).all()


def test_shipped_files_are_the_copies_recorded_in_sha256sums() -> None:
    import hashlib

    folder = references_folder()
    listed = {}
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    used = {str(references.get(n).file.relative_to(folder)) for n in references.names()}
    assert used <= set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
