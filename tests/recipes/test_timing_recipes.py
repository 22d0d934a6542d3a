"""Timing recipes: the fast generative compression table (Dalal et al.) loads with its published times,
is listed as runnable, refuses bad keys, compares relative differences (never wall-clock values in
these tests), and runs end to end through `gcbench reproduce` at a tiny size on the CPU."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from gcbench.core.errors import ConfigError
from gcbench.recipes import TimingRecipe, get_recipe, list_recipes
from gcbench.recipes.model import recipe_from_table
from gcbench.recipes.timing_report import comparison
from gcbench.recipes.timing_run import PREPROCESS, Stage, parse_size
from gcbench.timing.clocks import Timed

NAME = "fgc-cityscapes-timing"
PUBLISHED = {"gan-pix2pixhd-global": 0.09475, "gan-fgc-updown": 0.09229, "gan-fgc-dense-9-32": 0.09352,
             "gan-fgc-dense-9-4": 0.09368, "gan-fgc-dense-9-128": 0.09361, "gan-fgc-dense-6-32": 0.09245,
             "gan-fgc-dense-18-32": 0.09484}
NARROW = [f"--codec-option={codec}.kwargs.ngf=4" for codec in PUBLISHED]  # the same layers, 16× narrower


def test_the_shipped_recipe_holds_the_published_table() -> None:
    recipe = get_recipe(NAME)
    assert isinstance(recipe, TimingRecipe)
    assert {m.codec: m.paper_seconds for m in recipe.models} == PUBLISHED
    assert recipe.baseline.codec == "gan-pix2pixhd-global" and recipe.size == (1024, 512)
    assert recipe.input_channels == 36 and recipe.repeats == 50 and recipe.paper_x_baseline == 1.5
    assert recipe.tolerance.column == "diff_pct" and recipe.tolerance.abs > 0 and recipe.tolerance.why


def test_ls_recipes_lists_it_with_its_codecs_and_runs_here() -> None:
    table = list_recipes("fgc-*").set_index("recipe")
    assert table.at[NAME, "status"] == "runnable"
    assert all(codec in table.at[NAME, "codecs"] for codec in PUBLISHED)
    assert "1024×512" in table.at[NAME, "dataset"]


def _table(**over) -> dict:
    table = {"kind": "timing", "title": "t", "citation": "c", "hardware": "h", "statistic": "s",
             "input": {"size": [128, 64], "label_nc": 35, "instance_edges": True},
             "protocol": {"warmup": 0, "repeats": 1},
             "models": [{"codec": "gan-pix2pixhd-global", "paper_seconds": 0.1, "baseline": True},
                        {"codec": "gan-fgc-dense-9-32", "paper_seconds": 0.09}],
             "tolerance": {"diff_pct": {"abs": 5.0, "why": "w"}}}
    table.update(over)
    return table


def test_timing_recipe_keys_are_checked() -> None:
    assert recipe_from_table("ok", _table()).input_channels == 36
    with pytest.raises(ConfigError, match="unknown key 'repeat'. Did you mean 'repeats'"):
        recipe_from_table("x", _table(protocol={"warmup": 0, "repeat": 1}))
    with pytest.raises(ConfigError, match="exactly one of the \\[\\[models\\]\\] must say baseline"):
        recipe_from_table("x", _table(models=[{"codec": "a", "paper_seconds": 1.0}]))
    with pytest.raises(ConfigError, match="'why' is required"):
        recipe_from_table("x", _table(tolerance={"diff_pct": {"abs": 5.0}}))
    with pytest.raises(ConfigError, match="size must be \\[width, height\\]"):
        recipe_from_table("x", _table(input={"size": [128], "label_nc": 35}))
    with pytest.raises(ConfigError, match="kind must be 'curve'"):
        recipe_from_table("x", _table(kind="latency"))
    assert parse_size("1024x512") == (1024, 512)
    with pytest.raises(ConfigError, match="WIDTHxHEIGHT"):
        parse_size("1024")


def _stage(label: str, codec: str, seconds: list[float]) -> Stage:
    return Stage(label, codec, lambda: None, 1_000_000, 1.0, samples=[Timed(s) for s in seconds])


def test_differences_from_the_baseline_are_judged_against_the_published_ones() -> None:
    recipe = recipe_from_table("ok", _table())  # published: 0.1 and 0.09, i.e. -10 %
    stages = [_stage(PREPROCESS, "", [0.3, 0.3]), _stage("G1", "gan-pix2pixhd-global", [0.2, 0.2]),
              _stage("D", "gan-fgc-dense-9-32", [0.17, 0.19])]
    table = comparison(recipe, stages).set_index("codec")
    dense = table.loc["gan-fgc-dense-9-32"]
    assert dense["mean_s"] == pytest.approx(0.18) and dense["diff_pct"] == pytest.approx(-10.0)
    assert dense["paper_diff_pct"] == pytest.approx(-10.0) and dense["held"] is True
    assert table.loc["gan-pix2pixhd-global", "held"] is None and table.loc["gan-pix2pixhd-global", "x_baseline"] == 1
    assert table.loc["", "x_baseline"] == pytest.approx(1.5) and table.loc["", "tolerance"] == "not judged"
    stages[2] = _stage("D", "gan-fgc-dense-9-32", [0.2, 0.2])  # 0 % against -10 %: 10 pp off
    assert comparison(recipe, stages).set_index("codec").loc["gan-fgc-dense-9-32", "held"] is False


def test_reproduce_times_every_generator_and_prints_the_published_column(tmp_path: Path, capsys) -> None:
    from gcbench.cli import main

    out = tmp_path / "fgc"
    code = main(["reproduce", NAME, "--out", str(out), "--size", "128x64", "--warmup", "0", "--repeats", "1",
                 "--threads", "1", "--quiet", *NARROW])
    assert code in (0, 1)  # held or not depends on this machine's speed, which the test does not judge
    printed = capsys.readouterr().out
    assert "paper_s" in printed and "0.09475" in printed and "Absolute times cannot match across hardware" in printed
    table = pd.read_csv(out / "reproduce.csv")
    assert list(table["stage"])[:2] == ["one-hot label preprocessing", "G1 (baseline)"] and len(table) == 8
    models = table[table["codec"].notna()].set_index("codec")
    assert (models["weights"] == "random (architecture timing)").all()
    assert models["gflops"].gt(0).all() and models["mean_s"].gt(0).all()
    assert models.at["gan-pix2pixhd-global", "diff_pct"] == 0
    assert models.at["gan-fgc-dense-9-32", "paper_diff_pct"] == pytest.approx(100 * (0.09352 - 0.09475) / 0.09475)
    # the narrow G1 (ngf = 4): c7s1-4 from 36 channels, d8…d64, 9 R64 blocks, u32…u4, c7s1-3
    narrow = (36 * 4 * 49 + 4 + sum(4 * 2 ** i * 4 * 2 ** (i + 1) * 9 + 4 * 2 ** (i + 1) for i in range(4))
              + 18 * (64 * 64 * 9 + 64) + sum(4 * 2 ** (i + 1) * 4 * 2 ** i * 9 + 4 * 2 ** i for i in range(4))
              + 4 * 3 * 49 + 3)
    assert models.at["gan-pix2pixhd-global", "params_M"] * 1e6 == pytest.approx(narrow)
    samples = pd.read_csv(out / "reproduce_samples.csv")
    assert len(samples) == 8 and samples["gpu_seconds"].isna().all()
    meta = json.loads((out / "reproduce.json").read_text())
    assert meta["size"] == [128, 64] and meta["input_channels"] == 36 and meta["device"] == "cpu"
    assert "Dense-9-32" in (out / "reproduce.md").read_text()
    assert not math.isnan(models.at["gan-fgc-updown", "gflops"])


def test_a_curve_recipe_refuses_timing_options(tmp_path: Path, capsys) -> None:
    from gcbench.cli import main

    assert main(["reproduce", "compressai-kodak-webp", "--out", str(tmp_path / "o"), "--size", "64x64"]) == 2
    assert "apply to timing recipes only" in capsys.readouterr().err
