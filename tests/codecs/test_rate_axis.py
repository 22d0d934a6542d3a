"""Rate axes: every spec says what its setting is; a setting off the axis is refused with the range."""

from __future__ import annotations

from pathlib import Path

import pytest

from gcbench.codecs.rate_axis import RateAxis
from gcbench.codecs.registry import codecs
from gcbench.codecs.spec import load_spec, spec_from_dict
from gcbench.core.errors import ConfigError, PluginError

HEAD = 'adapter = "pillow"\nrate_param = "quality"\nrate_increases_with_setting = true\n'


@pytest.mark.parametrize(
    "name, setting, message",
    [
        ("jpeg", 500, "jpeg: quality 500 is outside 0–100"),
        ("jpeg", -1, "jpeg: quality -1 is outside 0–100"),
        ("jpeg", "abc", "jpeg: quality 'abc' is not an integer"),
        ("jpeg", 50.5, "jpeg: quality 50.5 is not an integer"),
        ("jpeg444", 101, "jpeg444: quality 101 is outside 0–100"),  # inherited through base
        ("bpg", 52, "bpg: qp 52 is outside 0–51"),
        ("aom-av1", 64, "aom-av1: cq_level 64 is outside 0–63"),
        ("cheng2020-attn", 7, "cheng2020-attn: quality 7 is outside 1–6"),
        ("mbt2018", 0, "mbt2018: quality 0 is outside 1–8"),
        ("opj", 0, "opj: ratio 0 is not > 0"),
        ("opj", "x", "opj: ratio 'x' is not a number"),
        ("png", 10, "png: compress_level 10 is outside 0–9"),
        ("gan-hific", 0, "gan-hific: model 0 is not ≥ 1"),
    ],
)
def test_settings_off_the_axis_are_refused_with_the_range(name: str, setting: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        codecs.get(name).check_setting(setting)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "name, setting",
    [("jpeg", 0), ("jpeg", 100), ("bpg", 51), ("opj", 0.5), ("opj", 480), ("cwebp", 72.5), ("cjxl", 0.0),
     ("mbt2018", 8), ("msillm", 6), ("gan-hific", 3)],
)
def test_settings_on_the_axis_pass(name: str, setting: object) -> None:
    codecs.get(name).check_setting(setting)


def test_a_spec_without_an_axis_accepts_any_setting() -> None:
    spec = spec_from_dict({"adapter": "pillow", "rate_param": "q", "settings": [1],
                           "rate_increases_with_setting": True}, default_name="free")
    assert not spec.rate_axis.declared and spec.rate_axis.describe() == "undeclared"
    spec.check_setting(10_000)
    spec.check_setting("anything")


def test_enumerated_axis(tmp_path: Path) -> None:
    path = tmp_path / "preset.toml"
    path.write_text(HEAD + 'settings = ["fast"]\nsetting_type = "str"\nsetting_choices = ["fast", "slow"]\n')
    spec = load_spec(path)
    spec.check_setting("slow")
    with pytest.raises(ConfigError, match="preset: quality 'medium' is not one of 'fast', 'slow'"):
        spec.check_setting("medium")


@pytest.mark.parametrize(
    "axis, message",
    [
        ('settings = [500]\nsetting_type = "int"\nsetting_min = 0\nsetting_max = 100\n',
         r"default setting quality 500 is outside 0–100 \(the spec's own rate axis: int 0–100\)"),
        ('settings = [1]\nsetting_type = "integer"\n', "setting_type must be one of int, float, str"),
        ('settings = [1]\nsetting_min = 0\n', "setting_min given without setting_type"),
        ('settings = [1]\nsetting_type = "int"\nsetting_min = 5\nsetting_max = 1\n', "is not below setting_max"),
        ('settings = [1]\nsetting_type = "int"\nsetting_min = 0.5\n', "setting_min must be an integer"),
        ('settings = [1]\nsetting_type = "float"\nsetting_min_exclusive = true\n', "needs a setting_min"),
        ('settings = [1]\nsetting_type = "int"\nsetting_choices = [1]\nsetting_max = 3\n', "either setting_choices"),
        ('settings = [1]\nsetting_type = "int"\nsetting_choices = ["a"]\n', "entry 'a' is not an integer"),
        ('settings = ["b"]\nsetting_type = "str"\nsetting_choices = ["a"]\n', "default setting quality 'b' is not one of 'a'"),
        ('settings = [0]\nsetting_type = "float"\nsetting_min = 0\nsetting_min_exclusive = true\n', "0 is not > 0"),
    ],
)
def test_bad_declarations_are_spec_errors(tmp_path: Path, axis: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(HEAD + axis)
    with pytest.raises(ConfigError, match=message) as info:
        load_spec(path)
    assert str(path) in str(info.value)


def test_the_axis_is_inherited_and_overridable(tmp_path: Path) -> None:
    (tmp_path / "fine.toml").write_text('base = "jpeg"\nsettings = [91]\nsetting_min = 90\n')
    spec = load_spec(tmp_path / "fine.toml")
    assert spec.rate_axis == RateAxis("int", 90, 100)
    with pytest.raises(ConfigError, match="fine: quality 89 is outside 90–100"):
        spec.check_setting(89)


def test_the_axis_survives_a_stored_run_config() -> None:
    """Reports and studies rebuild specs from the run config (lists, not tuples)."""
    import json

    from gcbench.codecs.spec import CodecSpec

    spec = codecs.get("opj")
    again = CodecSpec(**json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.rate_axis == spec.rate_axis and again.spec_hash() == spec.spec_hash()


def test_the_axis_is_not_part_of_the_task_key() -> None:
    """Declaring an axis changes no stored result: the spec hash ignores it."""
    from dataclasses import replace

    spec = codecs.get("jpeg")
    assert replace(spec, setting_type="", setting_min=None, setting_max=None).spec_hash() == spec.spec_hash()


def test_plugin_codecs_declare_their_axis_as_class_attributes() -> None:
    from gcbench.codecs.pillow import PillowCodec
    from gcbench.codecs.spec import spec_from_plugin

    class Declared(PillowCodec):
        rate_param = "quality"
        default_settings = [10]
        rate_increases_with_setting = True
        setting_type = "int"
        setting_min = 0
        setting_max = 100

    spec = spec_from_plugin("declared", Declared)
    assert spec.rate_axis.describe() == "int 0–100"
    with pytest.raises(ConfigError, match="declared: quality 101 is outside 0–100"):
        spec.check_setting(101)

    class Wrong(Declared):
        default_settings = [200]

    with pytest.raises(PluginError, match="default setting quality 200 is outside 0–100"):
        spec_from_plugin("wrong", Wrong)


def test_validate_reports_a_bad_declaration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gcbench.cli import main

    path = tmp_path / "bad.toml"
    path.write_text(HEAD + 'settings = [500]\nsetting_type = "int"\nsetting_min = 0\nsetting_max = 100\n'
                    '[options]\nformat = "JPEG"\n')
    assert main(["validate", str(path)]) == 2
    assert "default setting quality 500 is outside 0–100" in capsys.readouterr().err
