"""pyiqa:NAME against pyiqa itself on real Kodak crops; declarations from pyiqa's presets; downloads
only through gcbench (offline: a clear error naming the file); pyiqa imported only when used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from metrics.fresh_python import fresh_python
from PIL import Image

from gcbench import weights
from gcbench.core.errors import ConfigError, UnknownNameError, WeightsError
from gcbench.metrics import iqa
from gcbench.metrics.registry import get_metric, metrics

WEIGHT_FREE = ("fsim", "vif", "gmsd", "nlpd", "vsi", "cw_ssim", "piqe")
CROPS = (("kodim03.png", (64, 96, 256, 288)), ("kodim19.png", (200, 40, 392, 296)))  # (left, top, right, bottom)


@pytest.fixture(scope="module")
def crop_files(kodak_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, Path]]:
    """Original crops and their JPEG (quality 25) reconstructions, as PNG files pyiqa reads itself."""
    import io

    folder = tmp_path_factory.mktemp("iqa")
    out = []
    for name, box in CROPS:
        crop = Image.open(kodak_dir / name).convert("RGB").crop(box)
        buf = io.BytesIO()
        crop.save(buf, format="JPEG", quality=25)
        original, recon = folder / f"orig-{name}", folder / f"recon-{name}"
        crop.save(original)
        Image.open(buf).convert("RGB").save(recon)
        out.append((original, recon))
    return out


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("name", WEIGHT_FREE)
def test_equals_pyiqa_on_kodak_crops(name: str, crop_files: list[tuple[Path, Path]]) -> None:
    import pyiqa

    direct = pyiqa.create_metric(name, device="cpu")
    metric = get_metric(f"pyiqa:{name}")
    column = metric.columns[0].name
    for original, recon in crop_files:
        if metric.kind == "pair":
            expected = float(direct(str(recon), str(original)))
            got = metric.compute(_rgb(original), _rgb(recon))[column]
        else:
            expected = float(direct(str(recon)))
            got = metric.compute(None, _rgb(recon))[column]
        assert got == pytest.approx(expected, abs=1e-5)
        assert np.isfinite(got)


def test_declarations_come_from_pyiqa_presets() -> None:
    configs = iqa.pyiqa_configs()
    for name in ("fsim", "gmsd", "nlpd", "piqe", "vif", "musiq", "lpips-vgg+"):
        cls = metrics.get(f"pyiqa:{name}")
        (column,) = cls.columns
        assert column.higher_is_better is (not configs[name].get("lower_better", False))
        assert cls.kind == ("pair" if configs[name]["metric_mode"] == "FR" else "noref")
    assert metrics.get("pyiqa:gmsd").columns[0].higher_is_better is False  # pyiqa: lower_better
    assert metrics.get("pyiqa:fsim").columns[0].name == "pyiqa_fsim"
    fsim, vif = metrics.get("pyiqa:fsim").columns[0], metrics.get("pyiqa:vif").columns[0]
    assert (fsim.minimum, fsim.maximum) == (0.0, 1.0)  # pyiqa: "0, 1"
    assert (vif.minimum, vif.maximum) == (0.0, None)  # pyiqa: "0, ~1" (approximate: not a bound)
    assert metrics.get("pyiqa:lpips-vgg+").columns[0].name == "pyiqa_lpips_vggplus"
    assert iqa.score_bounds("~0, ~100") == (None, None) and iqa.score_bounds("quality: 0, 1; rank: 0, 2") == (None, None)


def test_family_resolution_and_errors() -> None:
    assert "pyiqa:fsim" in metrics and "pyiqa:nope" not in metrics
    assert "pyiqa:fsim" not in metrics.names()  # members are resolved, not listed
    assert "pyiqa:fsim" in metrics.family_names() and "pyiqa:fid" not in metrics.family_names()
    assert metrics.get("pyiqa:fsim") is metrics.get("pyiqa:fsim")
    with pytest.raises(UnknownNameError, match=r"Did you mean 'fsim'"):
        metrics.get("pyiqa:fsimm")
    with pytest.raises(UnknownNameError, match=r"pyiqa:NAME"):
        metrics.get("notametric")
    with pytest.raises(ConfigError, match="scores a folder"):
        iqa.metric_class("fid")
    from gcbench.metrics.base import column_index

    assert column_index()["pyiqa_gmsd"].higher_is_better is False  # tables and plots know the column


def test_missing_weights_offline_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pyiqa metric whose weights are not here fails before any image, naming file, URL and folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    metric = get_metric("pyiqa:cnniqa")
    with pytest.raises(WeightsError) as info:
        metric.preflight()
    text = str(info.value)
    assert "GCBENCH_OFFLINE=1" in text and "https://" in text and str(tmp_path / "torch") in text
    assert "$GCBENCH_WEIGHTS" in text and not any((tmp_path / "torch").rglob("*.pth"))


def _fake_download(calls: list[tuple[str, str]]):
    def download(url: str, dst: str) -> None:
        calls.append((url, dst))
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        Path(dst).write_bytes(b"downloaded")
    return download


def test_fetch_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Manifest entry (hash-checked) → $GCBENCH_WEIGHTS → pyiqa's cache → a download where allowed."""
    url = "https://example.invalid/weights/model.pth"
    target = tmp_path / "pyiqa" / "model.pth"
    calls: list[tuple[str, str]] = []
    files: dict[str, str] = {}
    with pytest.raises(WeightsError, match="model.pth"):  # offline, nowhere: no download attempted
        iqa._fetch(url, target, "pyiqa:x", files, _fake_download(calls))
    assert calls == []
    monkeypatch.setenv("GCBENCH_OFFLINE", "0")
    assert iqa._fetch(url, target, "pyiqa:x", files, _fake_download(calls)) == target
    assert calls == [(url, str(target))] and files["model.pth"] == weights.file_sha256(target)

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "other.pth").write_bytes(b"user file")
    monkeypatch.setenv("GCBENCH_WEIGHTS", str(mine))
    other = iqa._fetch(url, tmp_path / "pyiqa" / "other.pth", "pyiqa:x", files, _fake_download(calls))
    assert other.read_bytes() == b"user file" and len(calls) == 1

    (mine / "listed.pth").write_bytes(b"right bytes")
    entry = weights.WeightFile(name="test-listed", filename="listed.pth", sha256="0" * 64, size=None, url=None,
                               license="test", used_by=("pyiqa:x",))
    weights.register(entry)
    try:
        with pytest.raises(WeightsError, match="wrong hash"):
            iqa._fetch(url, tmp_path / "pyiqa" / "listed.pth", "pyiqa:x", files, _fake_download(calls))
        weights.register(weights.WeightFile(**{**entry.__dict__, "sha256": weights.file_sha256(mine / "listed.pth")}),
                         replace=True)
        got = iqa._fetch(url, tmp_path / "pyiqa" / "listed.pth", "pyiqa:x", files, _fake_download(calls))
        assert got.read_bytes() == b"right bytes" and len(calls) == 1
    finally:
        weights.unregister("test-listed")


def test_pyiqa_imported_only_when_used(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from gcbench.metrics.registry import metrics, get_metric\n"
        "from gcbench.catalog import list_metrics\n"
        "from gcbench.metrics.base import column_index\n"
        "table = list_metrics(); column_index(); m = get_metric('pyiqa:gmsd'); m.identity()\n"
        "print('listed', 'pyiqa:NAME' in set(table.metric))\n"
        "print('before', 'pyiqa' in sys.modules)\n"
        "img = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)\n"
        "m.compute(img, img)\n"
        "print('after', 'pyiqa' in sys.modules)\n"
    )
    out = fresh_python(code, tmp_path)
    assert "listed True" in out and "before False" in out and "after True" in out


def test_without_pyiqa_the_error_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from gcbench.core.errors import UnavailableError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "pyiqa" else real(n, *a))
    iqa.pyiqa_configs.cache_clear()
    try:
        assert iqa.member_names() == []
        with pytest.raises(UnavailableError, match=r"gcbench\[niqe\]"):
            iqa.metric_class.__wrapped__("fsim")
    finally:
        iqa.pyiqa_configs.cache_clear()
