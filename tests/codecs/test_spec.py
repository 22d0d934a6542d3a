"""Codec specs are data: inheritance, checks, and a new variant as one TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gcbench.codecs.spec import build_codec, load_spec
from gcbench.core.errors import ConfigError
from gcbench.codecs.registry import codecs


def test_variant_inherits_and_overrides() -> None:
    base, variant = codecs.get("jpeg"), codecs.get("jpeg444")
    assert variant.adapter == base.adapter == "pillow"
    assert variant.settings == base.settings and variant.rate_param == "quality"
    assert base.options["save"]["subsampling"] == "4:2:0"
    assert variant.options["save"]["subsampling"] == "4:4:4"
    assert variant.options["format"] == "JPEG"
    assert variant.spec_hash() != base.spec_hash()


@pytest.mark.parametrize(
    "text, message",
    [
        ('adapter = "pillow"\nrate_param = "q"\nrate_increases_with_setting = true\n', "missing required key 'settings'"),
        ('adapter = "pillow"\nrate_param = "q"\nsettings = [1]\n', "rate_increases_with_setting"),
        ('adapter = "pillow"\nrate_param = "q"\nsettings = []\nrate_increases_with_setting = true\n', "non-empty list"),
        ('adapter = "pillow"\nrate_param = "q"\nsettings = [1]\nrate_increases_with_setting = true\nqualty = 3\n', "unknown key"),
        ('base = "nonexistent"\n', "base spec 'nonexistent' not found"),
        ("adapter = \n", "not valid TOML"),
    ],
)
def test_malformed_specs_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_spec(path)


def test_inheritance_loop_is_detected(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('base = "b"\n')
    (tmp_path / "b.toml").write_text('base = "a"\n')
    with pytest.raises(ConfigError, match="loops"):
        load_spec(tmp_path / "a.toml")


def test_adapter_options_are_checked_when_built(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('adapter = "pillow"\nrate_param = "quality"\nsettings = [1]\nrate_increases_with_setting = true\n'
                    '[options]\nformat = "GIFF"\n')
    with pytest.raises(ConfigError, match="format must be one of"):
        build_codec(load_spec(path))


def test_new_variant_is_one_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_dir: Path) -> None:
    """A user's JPEG 4:4:4 at other qualities: one file on GCBENCH_CODEC_PATH, no code."""
    from gcbench.codecs import registry
    from gcbench.execution.runner import RunConfig, run
    from gcbench.results.views import per_image

    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "jpeg444-fine.toml").write_text(
        'base = "jpeg444"\ndescription = "JPEG 4:4:4 fine steps"\nsettings = [91, 93]\n'
    )
    monkeypatch.setenv("GCBENCH_CODEC_PATH", str(tmp_path / "specs"))
    fresh = registry.new_codec_registry()
    monkeypatch.setattr(registry, "codecs", fresh)
    assert fresh.get("jpeg444-fine").options["save"]["subsampling"] == "4:4:4"
    run(RunConfig(codecs=["jpeg444-fine"], dataset=str(sample_dir), out=tmp_path / "out", metrics=["psnr"],
                  progress=False, write_outputs=False))
    df = per_image(tmp_path / "out")
    assert sorted(df["setting"].unique()) == ["91", "93"] and (df["status"] == "ok").all()
