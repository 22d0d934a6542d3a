"""NIQE: the MATLAB reference value on baboon.png, equality with pyiqa's own call, lazy import."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from metrics.fresh_python import fresh_python
from PIL import Image

from gcbench.core.errors import ConfigError, MetricError, UnavailableError
from gcbench.metrics.noreference import NIQE

MATLAB_BABOON = 5.72957338  # MATLAB R2021a, official NIQE release (documented by BasicSR)
# pyiqa's own preset (YIQ luma) is checked on two images (a portrait and a landscape); gcbench's
# default on all 24 (about 0.25 s an image on 2 cores, twice per image here).
YIQ_SUBSET = ("kodim04.png", "kodim20.png")


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def pyiqa_model_file(tmp_path_factory: pytest.TempPathFactory, niqe_params_file: Path) -> str:
    """pyiqa's model file made independently from the shared pristine parameters (MANIFEST.md's recipe)."""
    import scipy.io

    npz = np.load(niqe_params_file)
    path = tmp_path_factory.mktemp("niqe") / "niqe_modelparameters.mat"
    scipy.io.savemat(path, {"mu_prisparam": npz["mu_pris_param"], "cov_prisparam": npz["cov_pris_param"]})
    return str(path)


def test_baboon_matches_matlab(niqe_reference_dir: Path) -> None:
    baboon = niqe_reference_dir / "baboon.png"
    assert hashlib.sha256(baboon.read_bytes()).hexdigest().startswith("275a75fd08d0a789")
    value = NIQE().compute(None, _rgb(baboon))["niqe"]
    assert abs(value - MATLAB_BABOON) < 0.01
    assert abs(value - MATLAB_BABOON) < 1e-3  # the MATLAB luma (YCbCr's Y) lands much closer than required
    # pyiqa's default preset (YIQ luma) is selectable and stays within the reference's tolerance too
    assert abs(NIQE(color_space="yiq").compute(None, _rgb(baboon))["niqe"] - MATLAB_BABOON) < 0.01


def test_gray_is_matlab_rgb2gray_then_niqe(pyiqa_model_file: str, niqe_reference_dir: Path) -> None:
    """color_space="gray": MATLAB's rgb2gray (derived here from the NTSC matrix, rounded half away
    from zero to uint8), scored by pyiqa's NIQE on that one channel."""
    import pyiqa
    import torch

    ntsc = np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]])
    weights = np.linalg.inv(ntsc)[0]
    np.testing.assert_allclose(weights, [0.2989, 0.5870, 0.1140], atol=5e-5)  # MATLAB's documented weights
    baboon = _rgb(niqe_reference_dir / "baboon.png")
    weighted = baboon.astype(np.float64) @ weights
    gray = np.where(weighted >= 0, np.floor(weighted + 0.5), np.ceil(weighted - 0.5)).astype(np.uint8)
    direct = pyiqa.create_metric("niqe", device="cpu", pretrained_model_path=pyiqa_model_file)
    expected = float(direct(torch.tensor(gray, dtype=torch.float32)[None, None] / 255.0))
    value = NIQE(color_space="gray").compute(None, baboon)["niqe"]
    assert value == pytest.approx(expected, abs=1e-9)
    # the release code's grey image scores baboon differently from the Y-channel MATLAB figure
    assert abs(value - MATLAB_BABOON) > 0.01


@pytest.mark.parametrize("color_space", ["ycbcr", "yiq"])
def test_kodak_equals_pyiqa_direct_call(kodak_dir: Path, pyiqa_model_file: str, color_space: str) -> None:
    import pyiqa

    kwargs = {"color_space": color_space} if color_space != "yiq" else {}  # yiq: pyiqa's preset as it is
    direct = pyiqa.create_metric("niqe", device="cpu", pretrained_model_path=pyiqa_model_file, **kwargs)
    metric = NIQE(color_space=color_space)
    names = sorted(p.name for p in kodak_dir.glob("*.png")) if color_space == "ycbcr" else YIQ_SUBSET
    assert len(names) in (24, 2)
    for name in names:
        expected = float(direct(str(kodak_dir / name)))  # pyiqa reads the file itself
        assert metric.compute(None, _rgb(kodak_dir / name))["niqe"] == pytest.approx(expected, abs=1e-9, rel=1e-12)


def test_original_is_scored_once_and_cached(kodak_dir: Path, monkeypatch) -> None:
    original = _rgb(kodak_dir / "kodim01.png")[:192, :288]
    recon = np.clip(original.astype(np.int16) + 9, 0, 255).astype(np.uint8)
    metric = NIQE()
    first = metric.compute(original, recon)
    assert first["niqe"] == pytest.approx(metric.score(recon), abs=1e-12)
    assert first["niqe_original"] == pytest.approx(metric.score(original), abs=1e-12)
    scored: list[tuple[int, ...]] = []
    real = NIQE.score

    def counting(self, image):
        scored.append(image.shape)
        return real(self, image)

    monkeypatch.setattr(NIQE, "score", counting)
    again = NIQE().compute(original, recon)  # a fresh instance (another worker): the disk cache answers
    assert scored == [recon.shape] and again == first


def test_declarations_and_errors() -> None:
    cols = {c.name: c for c in NIQE.columns}
    assert NIQE.kind == "noref" and NIQE.library == "pyiqa"
    assert cols["niqe"].higher_is_better is False and cols["niqe_original"].higher_is_better is False
    with pytest.raises(ConfigError, match="gray"):
        NIQE(color_space="lab")
    with pytest.raises(MetricError, match="at least 96"):
        NIQE().compute(None, np.zeros((95, 300, 3), np.uint8))


def test_unavailable_without_pyiqa(monkeypatch) -> None:
    from gcbench.execution.runner import resolve_metrics

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "pyiqa" else real(n, *a))
    avail = NIQE.available()
    assert not avail and "gcbench[niqe]" in avail.hint
    with pytest.raises(UnavailableError, match=r"gcbench\[niqe\]"):
        resolve_metrics(["psnr", "niqe"], "cpu")


def test_pyiqa_imported_only_when_niqe_is_used(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from gcbench.metrics.registry import metrics, get_metric\n"
        "from gcbench.catalog import list_metrics\n"
        "list_metrics(); m = get_metric('niqe'); m.identity(); metrics.get('niqe').available()\n"
        "print('before', 'pyiqa' in sys.modules)\n"
        "m.compute(None, np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8))\n"
        "print('after', 'pyiqa' in sys.modules)\n"
    )
    out = fresh_python(code, tmp_path)
    assert "before False" in out and "after True" in out
