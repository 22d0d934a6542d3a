"""The generic registry, the table of contents, entry-point plugins and lazy imports."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gcbench.core.errors import ConfigError, PluginError, UnknownNameError
from gcbench.core.registry import Registry
from gcbench.codecs.registry import codecs
from gcbench.data.registry import datasets
from gcbench.metrics.registry import metrics


def test_lazy_target_is_imported_only_on_get() -> None:
    reg: Registry[object] = Registry("thing")
    reg.add("decimal", "decimal:Decimal")
    reg.add("missing", "no_such_module_xyz:Thing")
    assert reg.names() == ["decimal", "missing"]  # listing imports nothing
    import decimal

    assert reg.get("decimal") is decimal.Decimal
    with pytest.raises(ModuleNotFoundError):
        reg.get("missing")


def test_duplicates_are_refused_and_unknown_names_get_suggestions() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("alpha", 1)
    with pytest.raises(ConfigError, match="registered twice"):
        reg.add("alpha", 2)
    reg.add("alphabet", 3)
    with pytest.raises(UnknownNameError) as err:
        reg.get("alpah")
    assert err.value.suggestions[0] == "alpha"
    assert "Did you mean 'alpha'" in str(err.value)
    with pytest.raises(UnknownNameError, match="Valid names: alpha, alphabet"):
        reg.get("zzz")


def test_wildcard_filter() -> None:
    assert codecs.names("jpeg*")[:3] == ["jpeg", "jpeg2000", "jpeg444"]
    assert all(n.startswith("jpeg") for n in codecs.names("jpeg*"))


def test_validation_failure_names_the_entry() -> None:
    reg: Registry[object] = Registry("metric", validate=lambda name, obj: (_ for _ in ()).throw(TypeError("nope")))
    reg.add("bad", 42, origin="plugin fake 1.0")
    with pytest.raises(PluginError, match="'bad' from plugin fake 1.0 is invalid: nope"):
        reg.get("bad")


def test_builtin_codecs_metrics_datasets_are_listed() -> None:
    assert {"jpeg", "jpeg444", "webp", "jpeg2000", "avif", "heic", "heic444", "jpegxl"} <= set(codecs.names())
    assert {"psnr", "ms-ssim"} <= set(metrics.names())
    assert {"kodak", "sample"} <= set(datasets.names())


def test_unknown_codec_suggestion() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'jpeg'"):
        codecs.get("jepg")


@pytest.mark.parametrize("name", metrics.names())
def test_every_metric_declares_itself(name: str) -> None:
    cls = metrics.get(name)
    assert cls.kind in ("pair", "noref", "set", "task")
    assert cls.columns and all(isinstance(c.higher_is_better, bool) for c in cls.columns)


PLUGIN_CODE = '''
import numpy as np
from gcbench.codecs.base import Codec

class PlainCodec(Codec):
    """Raw pixels as the bitstream (a lossless test plugin)."""
    rate_param = "level"
    default_settings = (1, 2)
    rate_increases_with_setting = True

    def encode(self, image, setting, side=None):
        h, w, _ = image.shape
        return h.to_bytes(4, "big") + w.to_bytes(4, "big") + image.tobytes()

    def decode(self, data, size=None):
        h, w = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big")
        return np.frombuffer(data[8:], np.uint8).reshape(h, w, 3).copy()

class NotACodec:
    pass
'''


def _install_plugin(tmp_path: Path, entries: str) -> Path:
    (tmp_path / "plainplugin.py").write_text(PLUGIN_CODE)
    dist = tmp_path / "plainplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: plainplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(entries)
    return tmp_path


def _fresh_codec_registry() -> Registry:
    from gcbench.codecs.registry import new_codec_registry

    return new_codec_registry()


def test_entry_point_plugin_is_loaded_validated_and_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from gcbench.codecs.spec import build_codec

    root = _install_plugin(tmp_path, "[gcbench.codecs]\nplain = plainplugin:PlainCodec\nbroken = plainplugin:NotACodec\n")
    monkeypatch.syspath_prepend(str(root))
    reg = _fresh_codec_registry()
    assert "plain" in reg.names() and "broken" in reg.names()
    assert reg.origin("plain") == "plugin plainplugin 1.0"
    spec = reg.get("plain")
    assert spec.rate_param == "level" and spec.settings == (1, 2)
    codec = build_codec(spec)
    img = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    assert np.array_equal(codec.decode(codec.encode(img, 1)), img)
    with pytest.raises(PluginError, match="'broken'.*plainplugin 1.0.*must be a gcbench.Codec subclass"):
        reg.get("broken")


def test_plugin_autoload_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _install_plugin(tmp_path, "[gcbench.codecs]\nplain = plainplugin:PlainCodec\n")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("GCBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "plain" not in _fresh_codec_registry().names()


def test_plugin_cannot_shadow_a_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _install_plugin(tmp_path, "[gcbench.codecs]\njpeg = plainplugin:PlainCodec\n")
    monkeypatch.syspath_prepend(str(root))
    reg = _fresh_codec_registry()
    with pytest.warns(UserWarning, match="already taken"):
        reg.names()
    assert reg.get("jpeg").adapter == "pillow"


@pytest.mark.parametrize("argv", [["--help"], ["ls", "codecs"], ["ls", "metrics"], ["ls", "datasets"], ["ls", "recipes"],
                                  ["ls", "weights"], ["run", "--help"]])
def test_cli_help_and_ls_do_not_import_torch(argv: list[str]) -> None:
    code = textwrap.dedent(f"""
        import sys
        from gcbench.cli import main
        try:
            main({argv!r})
        except SystemExit:
            pass
        heavy = [m for m in ("torch", "torchvision", "lpips", "pyiqa", "compressai", "ray", "mmseg") if m in sys.modules]
        print("HEAVY", heavy)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]


def test_public_api_is_exactly_the_curated_list() -> None:
    import gcbench

    expected = {
        "Availability", "Codec", "CodecSpec", "Column", "GcbenchError", "Metric", "Registry", "ResultStore",
        "RunConfig", "codecs", "datasets", "get_codec", "get_metric", "load_dataset", "load_image", "metrics",
        "per_image", "plot_rd", "run", "summary", "__version__",
    }
    assert set(gcbench.__all__) == expected
    for name in gcbench.__all__:
        assert getattr(gcbench, name) is not None
