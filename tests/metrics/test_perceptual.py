"""LPIPS and DISTS equal a direct call of their libraries on the same images and trunk weights.

The ImageNet trunks cannot be downloaded here, so both sides get the same stand-in trunk made
at test time: gcbench through its explicit ``trunk_weights`` option, the library through
torchvision's own cache folder (``$TORCH_HOME/hub/checkpoints``) under the real file name.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest
from metrics.standin_weights import torchvision_standin
from PIL import Image

from gcbench.core.errors import ConfigError, UnavailableError, WeightsError
from gcbench.metrics.perceptual import DISTS, LPIPS
from gcbench.metrics.registry import get_metric, metrics

TRUNK_FILES = {"alexnet": "alexnet-owt-7be5be79.pth", "vgg16": "vgg16-397923af.pth"}


@pytest.fixture(scope="module")
def torch_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("torch-home")
    for arch, filename in TRUNK_FILES.items():
        torchvision_standin(arch, home / "hub" / "checkpoints" / filename, seed=7)
    return home


def _trunk(home: Path, arch: str) -> str:
    return str(home / "hub" / "checkpoints" / TRUNK_FILES[arch])


@pytest.fixture(scope="module")
def pairs(kodak_dir: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two real Kodak crops (odd sizes) and their JPEG reconstructions."""
    out = []
    for name, box in (("kodim04.png", (40, 60, 40 + 161, 60 + 203)), ("kodim23.png", (300, 100, 300 + 224, 100 + 130))):
        original = np.asarray(Image.open(kodak_dir / name).convert("RGB").crop(box))
        buf = io.BytesIO()
        Image.fromarray(original).save(buf, "JPEG", quality=15)
        out.append((original, np.asarray(Image.open(buf).convert("RGB"))))
    return out


@pytest.mark.parametrize("net,arch", [("alex", "alexnet"), ("vgg", "vgg16")])
def test_lpips_equals_library(net: str, arch: str, torch_home: Path, pairs, monkeypatch) -> None:
    import lpips

    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    # the library's own route: its default constructor loads the trunk from torchvision's cache
    reference = lpips.LPIPS(net=net, version="0.1", verbose=False).eval()
    metric = LPIPS(net=net, trunk_weights=_trunk(torch_home, arch))
    for original, recon in pairs:
        expected = float(reference(lpips.im2tensor(original), lpips.im2tensor(recon)).detach().flatten()[0])
        got = metric.compute(original, recon)["lpips"]
        assert got == pytest.approx(expected, abs=1e-6)
        assert got > 0
    assert metric.compute(pairs[0][0], pairs[0][0])["lpips"] == pytest.approx(0.0, abs=1e-7)


def test_dists_equals_library(torch_home: Path, pairs, monkeypatch) -> None:
    from DISTS_pytorch import DISTS_pt

    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    reference = DISTS_pt.DISTS().eval()  # the package's constructor, its weights.pt, torchvision's cache
    metric = DISTS(trunk_weights=_trunk(torch_home, "vgg16"))
    for original, recon in pairs:
        x = DISTS_pt.prepare_image(Image.fromarray(original), resize=False)
        y = DISTS_pt.prepare_image(Image.fromarray(recon), resize=False)
        expected = float(reference(x, y, require_grad=False, batch_average=False).flatten()[0])
        assert metric.compute(original, recon)["dists"] == pytest.approx(expected, abs=1e-6)


def test_default_is_alexnet_v01_and_declarations() -> None:
    m = get_metric("lpips")
    assert (m.net, m.lpips_version, m.trunk_entry) == ("alex", "0.1", "alexnet-imagenet")
    assert get_metric("dists").trunk_entry == "vgg16-imagenet"
    for name, col in (("lpips", "lpips"), ("dists", "dists")):
        cls = metrics.get(name)
        assert cls.kind == "pair" and [c.name for c in cls.columns] == [col]
        assert cls.columns[0].higher_is_better is False and cls.columns[0].minimum == 0.0
        assert cls.library in ("lpips", "dists-pytorch")
    with pytest.raises(ConfigError):
        LPIPS(net="squeezenet")


def test_missing_trunk_fails_before_any_work(monkeypatch) -> None:
    import lpips

    def must_not_build(*a, **k):
        raise AssertionError("the network was built although its weights are missing")

    monkeypatch.setattr(lpips, "LPIPS", must_not_build)
    image = np.zeros((64, 64, 3), np.uint8)
    for metric, filename in ((LPIPS(), "alexnet-owt-7be5be79.pth"), (LPIPS(net="vgg"), "vgg16-397923af.pth"),
                             (DISTS(), "vgg16-397923af.pth")):
        with pytest.raises(WeightsError) as exc:
            metric.compute(image, image)
        assert filename in str(exc.value) and "https://download.pytorch.org/models/" in str(exc.value)


def test_standin_is_never_taken_for_the_real_trunk(torch_home: Path, tmp_path: Path, monkeypatch) -> None:
    # under the real file name in the weights folder, the stand-in fails the manifest's hash
    monkeypatch.setenv("GCBENCH_WEIGHTS", str(torch_home / "hub" / "checkpoints"))
    with pytest.raises(WeightsError, match="wrong hash"):
        LPIPS().prepare()
    # given explicitly, it is recorded as an unverified file in the versions and the identity
    standin = LPIPS(trunk_weights=_trunk(torch_home, "alexnet"))
    assert standin.versions()["trunk"].startswith("override:")
    assert LPIPS().versions()["trunk"] == "alexnet-imagenet:7be5be79"
    assert standin.identity() != LPIPS().identity()


def test_unavailable_without_the_package(monkeypatch) -> None:
    from gcbench.execution.runner import resolve_metrics

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n in ("lpips", "DISTS_pytorch") else real(n, *a))
    for cls in (LPIPS, DISTS):
        avail = cls.available()
        assert not avail and "gcbench[perceptual]" in avail.hint
    with pytest.raises(UnavailableError, match=r"gcbench\[perceptual\]"):
        resolve_metrics(["psnr", "lpips"], "cpu")


def test_run_with_missing_trunk_keeps_other_metrics(tmp_path: Path, image_folder) -> None:
    from gcbench.execution.runner import RunConfig, run
    from gcbench.results.views import per_image

    from gcbench.results.views import failures

    folder = image_folder(2, (64, 96))
    report = run(RunConfig(codecs=["jpeg@30"], dataset=str(folder), out=tmp_path / "out",
                           metrics=["psnr", "lpips"], progress=False))
    df = per_image(tmp_path / "out")
    # the metric is left out before any work, with the message; the rest of the run proceeds
    assert report.n_ok == 2 and df["psnr"].notna().all() and "lpips" not in df.columns
    assert report.failed and "alexnet-owt-7be5be79.pth" in report.metrics_left_out["lpips"]
    assert "metric left out: lpips" in report.text() and "GCBENCH_WEIGHTS" in report.text()
    f = failures(tmp_path / "out")
    assert f[f.stage == "lpips"]["error"].str.contains("alexnet-owt-7be5be79.pth").all() and len(f) == 1


def test_run_with_standin_trunk(tmp_path: Path, image_folder, torch_home: Path, monkeypatch) -> None:
    import lpips

    from gcbench.execution.runner import RunConfig, run
    from gcbench.results.views import per_image

    folder = image_folder(2, (64, 96))
    run(RunConfig(codecs=["jpeg@30"], dataset=str(folder), out=tmp_path / "out", metrics=["lpips"], progress=False,
                  metric_options={"lpips": {"trunk_weights": _trunk(torch_home, "alexnet")}}))
    df = per_image(tmp_path / "out")
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    reference = lpips.LPIPS(net="alex", verbose=False).eval()
    for row in df.itertuples():
        original = np.asarray(Image.open(folder / row.image).convert("RGB"))
        data = next((tmp_path / "out" / "bitstreams").rglob(f"{row.key}*")).read_bytes()
        recon = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        expected = float(reference(lpips.im2tensor(original), lpips.im2tensor(recon)).detach().flatten()[0])
        assert row.lpips == pytest.approx(expected, abs=1e-6)
