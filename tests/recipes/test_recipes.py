"""Recipes: shipped ones load and are listed; a recipe checks its keys and its points; a recipe that
cannot run stops before any work naming every missing piece (exit 2); gcbench's own WebP and JPEG
against CompressAI's published Kodak points, through `gcbench reproduce` (exit 0 held, 1 off)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from gcbench.core.errors import ConfigError
from gcbench.recipes import TimingRecipe, Tolerance, get_recipe, list_recipes, recipes
from gcbench.recipes.compare import comparison_table
from gcbench.recipes.model import recipe_from_table

COMPRESSAI_KODAK = Path(__file__).resolve().parents[2] / "references" / "compressai" / "kodak"


@pytest.mark.parametrize("name", recipes.names())
def test_every_shipped_recipe_loads_with_reasons(name: str) -> None:
    recipe = recipes.get(name)
    if isinstance(recipe, TimingRecipe):
        assert recipe.title and recipe.citation and recipe.hardware and recipe.statistic and recipe.conventions
        assert recipe.deviations and recipe.tolerance.why and recipe.baseline.paper_seconds > 0
        return
    assert recipe.title and recipe.citation and recipe.url.startswith("https://") and recipe.conventions
    for entry in recipe.codecs:
        assert entry.protocol and entry.deviations
        assert "bpp" in entry.columns
        assert all(t.why for t in entry.tolerances)


def test_ls_recipes_lists_the_four_sources_and_says_what_is_missing(kodak_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("GCBENCH_DATA", str(kodak_dir.parent))
    table = list_recipes().set_index("recipe")
    for name in ("compressai-kodak-webp", "compressai-kodak-jpeg", "compressai-kodak-bpg", "compressai-kodak-zoo",
                 "hific-kodak", "msillm-kodak"):
        assert name in table.index, name
    assert table.at["compressai-kodak-webp", "status"] == "runnable"
    assert "bpgenc" in table.at["compressai-kodak-bpg", "status"]
    assert "bmshj2018-factorized-prior-1-446d5c7f.pth.tar" in table.at["compressai-kodak-zoo", "status"]
    assert "msillm_target_0.035bpp.ckpt" in table.at["msillm-kodak", "status"]


def _table(**over) -> dict:
    table = {
        "title": "t", "citation": "c", "url": "https://example.org", "dataset": "kodak", "metrics": ["psnr"],
        "codecs": [{"codec": "webp", "settings": list(range(5, 100, 5)), "reference": "compressai/kodak/webp",
                    "protocol": "p", "deviations": ["d"],
                    "tolerance": {"bpp": {"rel": 1e-12, "why": "same bytes"}, "psnr": {"abs": 2e-7, "why": "f32"}}}],
    }
    table.update(over)
    return table


def test_recipe_keys_and_points_are_checked() -> None:
    assert recipe_from_table("ok", _table()).codecs[0].argument.startswith("webp@5,10,15")
    with pytest.raises(ConfigError, match="unknown key 'metric'. Did you mean 'metrics'"):
        recipe_from_table("x", _table(metric=["psnr"]))
    bad = _table()
    bad["codecs"][0]["settings"] = [5, 10]
    with pytest.raises(ConfigError, match="2 settings for the 19 published points"):
        recipe_from_table("x", bad)
    bad = _table()
    bad["codecs"][0]["tolerance"]["psnr"] = {"abs": 0.1}
    with pytest.raises(ConfigError, match="'why' is required"):
        recipe_from_table("x", bad)
    bad = _table()
    bad["codecs"][0]["tolerance"]["lpips"] = {"abs": 0.1, "why": "w"}
    with pytest.raises(ConfigError, match="has no column lpips"):
        recipe_from_table("x", bad)
    bad = _table()
    del bad["codecs"][0]["tolerance"]["bpp"]
    with pytest.raises(ConfigError, match="add a bpp tolerance"):
        recipe_from_table("x", bad)
    bad = _table()
    bad["codecs"][0]["rate"] = "bytes"
    with pytest.raises(ConfigError, match="unknown rate column"):
        recipe_from_table("x", bad)


def test_tolerance_is_absolute_plus_relative() -> None:
    t = Tolerance("bpp", "why", abs=0.01, rel=0.1)
    assert t.limit(2.0) == pytest.approx(0.21)
    assert t.holds(2.0, 2.2) and not t.holds(2.0, 2.22) and t.holds(2.0, 1.8)
    assert not t.holds(2.0, math.nan)
    assert t.describe() == "±0.01 + ±10 %" and Tolerance("x", "w").describe() == "exact"


def test_comparison_pairs_points_with_settings_and_reads_the_chosen_rate() -> None:
    recipe = recipe_from_table("ok", _table())
    published = json.loads((COMPRESSAI_KODAK / "webp.json").read_text())["results"]
    summary = pd.DataFrame({"codec": "webp", "setting": [str(q) for q in range(5, 100, 5)],
                            "bpp": published["bpp"], "psnr": published["psnr"]})
    summary.loc[3, "psnr"] += 3e-7  # just outside ±2e-7
    table = comparison_table(recipe, summary)
    assert len(table) == 38 and table["held"].sum() == 37
    off = table[~table["held"]].iloc[0]
    assert (off["setting"], off["column"]) == ("20", "psnr") and off["delta"] == pytest.approx(3e-7)

    payload = _table()
    payload["codecs"][0]["rate"] = "bpp_payload"
    table = comparison_table(recipe_from_table("p", payload), summary.assign(bpp_payload=summary["bpp"] * 2))
    assert not table[table["column"] == "bpp"]["held"].any()
    assert set(table[table["column"] == "bpp"]["measured_as"]) == {"bpp_payload"}


def _recipe_file(folder: Path, codecs: list[dict], metrics: list[str]) -> Path:
    """A recipe TOML written from ``codecs`` (each: codec, settings, reference, tolerance)."""
    lines = ['title = "test"', 'citation = "test"', 'url = "https://example.org"', 'dataset = "kodak"',
             f"metrics = {json.dumps(metrics)}"]
    for c in codecs:
        lines += ["", "[[codecs]]", f'codec = "{c["codec"]}"', f"settings = {json.dumps(c['settings'])}",
                  f'reference = "{c["reference"]}"', 'protocol = "p"', 'deviations = ["d"]', "[codecs.tolerance]"]
        lines += [f'{col} = {{ {spec}, why = "w" }}' for col, spec in c["tolerance"].items()]
    path = folder / "recipe.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_recipe_that_cannot_run_names_every_missing_piece(tmp_path: Path, capsys) -> None:
    from gcbench.cli import main

    recipe = _recipe_file(tmp_path, [
        {"codec": "bpg", "settings": [47, 42, 37, 32, 27, 22, 17, 12], "reference": "compressai/kodak/bpg",
         "tolerance": {"bpp": "rel = 0.001"}},
        {"codec": "bmshj2018-factorized", "settings": [1, 2, 3, 4, 5, 6, 7, 8],
         "reference": "compressai/kodak/bmshj2018-factorized", "tolerance": {"bpp": "rel = 0.005"}},
    ], ["psnr", "lpips"])
    out = tmp_path / "out"
    # no $GCBENCH_DATA and downloads off (conftest): Kodak is missing too
    assert main(["reproduce", str(recipe), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    for piece in ("codec bpg", "bpgenc", "bpgdec", "codec bmshj2018-factorized",
                  "bmshj2018-factorized-prior-1-446d5c7f.pth.tar", "metric lpips", "alexnet-owt-7be5be79.pth",
                  "dataset kodak"):
        assert piece in err, piece
    assert not out.exists()  # stopped before any work


def _first_points(tmp_path: Path, name: str, key: str, n: int) -> Path:
    """The first ``n`` published points of a CompressAI file as a reference CSV (for a short run)."""
    results = json.loads((COMPRESSAI_KODAK / name).read_text())["results"]
    rows = pd.DataFrame({"name": name, "source": f"CompressAI results/image/kodak/{name}",
                         "bpp": results["bpp"][:n], "psnr": results[key][:n]})
    path = tmp_path / f"{name}.csv"
    rows.to_csv(path, index=False)
    return path


def test_reproduce_holds_for_webp_and_reports_jpeg_off(tmp_path: Path, kodak_dir: Path, capsys) -> None:
    from gcbench.cli import main
    from gcbench.recipes import reproduce

    webp = _first_points(tmp_path, "webp.json", "psnr", 2)
    recipe = _recipe_file(tmp_path, [{"codec": "webp", "settings": [5, 10], "reference": webp.name,
                                      "tolerance": {"bpp": "rel = 1e-12", "psnr": "abs = 2e-7"}}], ["psnr"])
    out = tmp_path / "webp"
    assert main(["reproduce", str(recipe), "--out", str(out), "--data-root", str(kodak_dir), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "every point held" in printed and (out / "reproduce.md").is_file() and (out / "reproduce.png").is_file()
    table = pd.read_csv(out / "reproduce.csv")
    assert len(table) == 4 and table["held"].all()
    again = reproduce(str(recipe), out, data_root=str(kodak_dir), progress=False)  # resumes: nothing runs again
    assert (again.run.n_ok, again.run.n_skipped) == (0, 48) and again.held

    jpeg = _first_points(tmp_path, "jpeg.json", "psnr-rgb", 2)
    recipe = _recipe_file(tmp_path, [{"codec": "jpeg", "settings": [5, 10], "reference": jpeg.name,
                                      "tolerance": {"bpp": "rel = 1e-12", "psnr": "abs = 2e-7"}}], ["psnr"])
    assert main(["reproduce", str(recipe), "--out", str(tmp_path / "jpeg"), "--data-root", str(kodak_dir),
                 "--quiet"]) == 1  # a newer libjpeg: +0.07 dB at quality 5
    assert "NOT reproduced" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("name", ["compressai-kodak-webp", "compressai-kodak-jpeg"])
def test_shipped_recipe_holds_on_every_published_point(name: str, tmp_path: Path, kodak_dir: Path) -> None:
    from gcbench.recipes import reproduce

    report = reproduce(get_recipe(name), tmp_path / name, jobs=2, data_root=str(kodak_dir), progress=False)
    assert len(report.table) == 19 * len(report.recipe.codecs[0].tolerances)
    assert report.table["held"].all(), report.table[~report.table["held"]].to_string()
    assert report.held
