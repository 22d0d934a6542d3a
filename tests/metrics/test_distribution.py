"""FID and KID with the HiFiC / NeuralCompression patch protocol.

The patch grid is checked against NeuralCompression's construction (``F.unfold`` over the image
and over the image shifted by half a patch when both sides are at least 1.5 patches), and the
values against torch-fidelity's own ``calculate_metrics`` on folders of the same patches with
the same Inception weights. The real Inception cannot be downloaded here: both sides use a
stand-in of the right shapes made at test time, which gcbench flags on every result.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from metrics.standin_weights import inception_standin
from PIL import Image

from gcbench.core.errors import ConfigError, MetricError, UnavailableError, WeightsError
from gcbench.results.features import reference_path
from gcbench.metrics import distribution
from gcbench.metrics.distribution import FID, KID, PatchProtocol


@pytest.fixture(scope="module")
def inception(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(inception_standin(tmp_path_factory.mktemp("inception") / "inception-standin.pth", seed=3))


def reference_patches(image: np.ndarray, size: int = 256, shift: int | None = None) -> np.ndarray:
    """NeuralCompression's update_patch_fid grid, written with F.unfold as it is there."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].to(torch.float64)

    def grid(t):
        return F.unfold(t, kernel_size=size, stride=size).permute(0, 2, 1).reshape(-1, 3, size, size)

    h, w = image.shape[:2]
    parts = [grid(x)] if h >= size and w >= size else []
    if shift is None:
        shift, need = size // 2, 1.5 * size
    else:
        need = size + shift
    if shift and h >= need and w >= need:
        parts.append(grid(x[:, :, shift:, shift:]))
    if not parts:
        return np.zeros((0, size, size, 3), np.uint8)
    return torch.cat(parts).permute(0, 2, 3, 1).to(torch.uint8).numpy()


def test_kodak_gives_192_patches(kodak_dir: Path) -> None:
    protocol = PatchProtocol()
    counts = []
    for path in sorted(kodak_dir.glob("*.png")):
        w, h = Image.open(path).size
        counts.append(protocol.count(h, w))
    assert len(counts) == 24 and set(counts) == {8} and sum(counts) == 192


@pytest.mark.parametrize("size,shift", [(256, None), (128, 64), (200, 50)])
@pytest.mark.parametrize("hw", [(256, 256), (383, 1000), (384, 384), (511, 767), (512, 768), (768, 512),
                                (1365, 2048), (300, 257), (640, 383)])
def test_patches_match_neuralcompression_grid(hw: tuple[int, int], size: int, shift: int | None) -> None:
    rng = np.random.default_rng(hw[0] * 7 + hw[1])
    image = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
    protocol = PatchProtocol(size, shift)
    expected = reference_patches(image, size, shift)
    h, w = hw
    s, t = size, (size // 2 if shift is None else shift)
    formula = (h // s) * (w // s) + ((h - t) // s) * ((w - t) // s) * (h >= s + t and w >= s + t)
    assert protocol.count(h, w) == len(expected) == formula
    np.testing.assert_array_equal(protocol.patches(image), expected)


def test_shift_zero_and_bad_options() -> None:
    assert PatchProtocol(256, 0).count(512, 768) == 6
    assert PatchProtocol().describe() == {"size": 256, "shift": 128}
    for bad in ((0, None), (256, 256), (256, -1)):
        with pytest.raises(ConfigError):
            PatchProtocol(*bad)
    with pytest.raises(MetricError, match="smaller than one 256"):
        PatchProtocol().patches(np.zeros((255, 1000, 3), np.uint8))


def _kid_reference(x: np.ndarray, y: np.ndarray, subset: int, subsets: int = 100, seed: int = 2020) -> float:
    """Unbiased MMD² with the cubic polynomial kernel, averaged over random subsets (KID's definition)."""
    rng = np.random.RandomState(seed)
    d = x.shape[1]
    vals = []
    for _ in range(subsets):
        a = x[rng.choice(len(x), subset, replace=False)].astype(np.float64)
        b = y[rng.choice(len(y), subset, replace=False)].astype(np.float64)
        kxx, kyy, kxy = ((a @ a.T) / d + 1) ** 3, ((b @ b.T) / d + 1) ** 3, ((a @ b.T) / d + 1) ** 3
        m = subset
        vals.append((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                    - 2 * kxy.mean())
    return float(np.mean(vals))


def _fid_reference(x: np.ndarray, y: np.ndarray) -> float:
    from scipy import linalg

    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x.astype(np.float64), rowvar=False), np.cov(y.astype(np.float64), rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("n", [50, 2100])
def test_finalize_against_independent_formulas(n: int) -> None:
    rng = np.random.default_rng(n)
    recon = [rng.normal(0.3, 1.0, (n // 2, 12)).astype(np.float32), rng.normal(0.3, 1.1, (n - n // 2, 12)).astype(np.float32)]
    ref = [rng.normal(0.0, 1.0, (n // 2, 12)).astype(np.float32), rng.normal(0.0, 1.0, (n - n // 2, 12)).astype(np.float32)]
    x, y = np.concatenate(recon), np.concatenate(ref)
    fid = FID().finalize(recon, ref)
    kid = KID().finalize(recon, ref)
    assert fid.n_items == kid.n_items == n
    assert fid.values["fid"] == pytest.approx(_fid_reference(x, y), rel=1e-6)
    assert kid.values["kid"] == pytest.approx(_kid_reference(x, y, min(n, 1000)), rel=1e-6)
    few = [f for f in fid.flags if "< 2048" in f]
    subset = [f for f in kid.flags if "subset size" in f]
    if n < 2048:
        assert few and f"only {n} patches" in few[0] and subset == [f"KID subset size {n} (fewer than 1000 patches)"]
    else:
        assert not few and not subset and not [f for f in kid.flags if "< 2048" in f]


def test_identities() -> None:
    fid, kid = FID(), KID()
    assert fid.reference_identity() == kid.reference_identity()  # FID and KID share cached features
    assert fid.identity() != kid.identity()
    assert FID(patch_size=128).reference_identity() != fid.reference_identity()
    assert FID(patch_shift=0).reference_identity() != fid.reference_identity()
    assert fid.versions()["inception"] == "inception-fid:6726825d"


def test_missing_inception_fails_before_any_work(monkeypatch) -> None:
    def must_not_run(*a, **k):
        raise AssertionError("the Inception ran although its weights are missing")

    monkeypatch.setattr(distribution, "InceptionFeatures", must_not_run)
    image = np.zeros((256, 256, 3), np.uint8)
    for cls in (FID, KID):
        with pytest.raises(WeightsError) as exc:
            cls().item_features(image, image, None)
        msg = str(exc.value)
        assert "weights-inception-2015-12-05-6726825d.pth" in msg
        assert "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" in msg


def test_unavailable_without_torch_fidelity(monkeypatch) -> None:
    import importlib.util

    from gcbench.execution.runner import resolve_metrics

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "torch_fidelity" else real(n, *a))
    assert "gcbench[perceptual]" in FID.available().hint
    with pytest.raises(UnavailableError, match=r"gcbench\[perceptual\]"):
        resolve_metrics(["fid"], "cpu")


def _decode_bitstreams(out: Path, df) -> dict[str, np.ndarray]:
    recons = {}
    for row in df.itertuples():
        data = next((out / "bitstreams").rglob(f"{row.key}*")).read_bytes()
        recons[row.image] = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return recons


def test_fid_kid_equal_torch_fidelity_on_patch_folders(tmp_path: Path, kodak_dir: Path, inception: str,
                                                       monkeypatch) -> None:
    import torch_fidelity

    from gcbench.execution.runner import RunConfig, run
    from gcbench.results.views import per_image, set_table, summary_table

    # two real images of 384×640: 2 patches on the grid + 2 on the shifted grid each
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("kodim05.png", "kodim19.png"):
        Image.open(kodak_dir / name).convert("RGB").crop((0, 0, 640, 384)).save(folder / name)
    calls: list[int] = []
    real_call = distribution.InceptionFeatures.__call__

    def counting(self, patches):
        calls.append(len(patches))
        return real_call(self, patches)

    monkeypatch.setattr(distribution.InceptionFeatures, "__call__", counting)
    opts = {"inception_weights": inception}
    out = tmp_path / "out"
    run(RunConfig(codecs=["jpeg@10"], dataset=str(folder), out=out, metrics=["fid", "kid"], progress=False,
                  metric_options={"fid": opts, "kid": opts}))
    # per image one batch: the reconstruction's 4 patches and the original's 4; KID reused FID's features
    assert calls == [8, 8]

    sets = set_table(out)
    fid_row = sets[sets["metric"] == "fid"].iloc[0]
    kid_row = sets[sets["metric"] == "kid"].iloc[0]
    assert fid_row["status"] == "ok" and fid_row["n_items"] == 8 and kid_row["n_items"] == 8
    for row in (fid_row, kid_row):
        assert "only 8 patches (< 2048)" in row["flags"] and "NOT the published Inception" in row["flags"]
    summary = summary_table(out)
    assert summary["fid_n"].tolist() == [8] and "< 2048" in summary["fid_flags"].iloc[0]
    from gcbench.analysis.plots import rd_figure

    fig = rd_figure(out, ["fid", "kid"])  # the plot shows the warning beside the values
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert sum("< 2048" in t and "NOT the published" in t.replace("\n", " ") for t in texts) == 2

    # the classic route: patch PNGs in two folders, torch-fidelity's calculate_metrics
    recons = _decode_bitstreams(out, per_image(out))
    dirs = {"recon": tmp_path / "p-recon", "orig": tmp_path / "p-orig"}
    for d in dirs.values():
        d.mkdir()
    for name, recon in recons.items():
        original = np.asarray(Image.open(folder / name).convert("RGB"))
        for kind, img in (("recon", recon), ("orig", original)):
            for i, patch in enumerate(reference_patches(img)):
                Image.fromarray(patch).save(dirs[kind] / f"{Path(name).stem}-{i}.png")
    expected = torch_fidelity.calculate_metrics(
        input1=str(dirs["recon"]), input2=str(dirs["orig"]), fid=True, kid=True, kid_subset_size=8, cuda=False,
        feature_extractor_weights_path=inception, save_cpu_ram=True, verbose=False)
    fid = fid_row["fid"]
    assert math.isfinite(fid) and fid > 0
    assert abs(fid - expected["frechet_inception_distance"]) <= 1e-4 * abs(expected["frechet_inception_distance"])
    assert kid_row["kid"] == pytest.approx(expected["kernel_inception_distance_mean"], rel=1e-4, abs=1e-9)
    # with subset size = n every subset is the whole set, so the std is float rounding (~1e-7):
    # it is checked on the scale of the KID value
    scale = abs(expected["kernel_inception_distance_mean"])
    assert abs(kid_row["kid_std"] - expected["kernel_inception_distance_std"]) <= 1e-4 * scale

    # the originals' features were cached once, under a key shared by FID and KID
    from gcbench.data.images import load_image

    ref_id = FID(inception_weights=inception).reference_identity()
    for name in recons:
        assert reference_path(ref_id, load_image(folder / name).sha256).is_file()
    calls.clear()
    run(RunConfig(codecs=["jpeg@40"], dataset=str(folder), out=out, metrics=["fid", "kid"], progress=False,
                  metric_options={"fid": opts, "kid": opts}, max_images=1))
    assert calls == [4]  # a new setting: only its reconstruction goes through the Inception
    assert (set_table(out)["status"] == "ok").all()
