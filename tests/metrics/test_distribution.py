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
from gcbench.execution.reference_features import reference_path
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
        assert few and f"only {n} patches" in few[0]
    else:
        assert not few and not [f for f in kid.flags if "< 2048" in f]
    if n < 1000:  # every subset is the whole set: no std
        assert subset == [f"KID subset size {n} (fewer than 1000 patches): every subset is the whole set, "
                          "kid_std left empty"]
        assert math.isnan(kid.values["kid_std"])
    else:
        assert not subset and kid.values["kid_std"] > 0


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

    # two real images of 384×640: 2 patches on the grid + 2 on the shifted grid each; a third too
    # small for one patch, whose FID/KID features fail: the values are over 2 of 3 images
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("kodim05.png", "kodim19.png"):
        Image.open(kodak_dir / name).convert("RGB").crop((0, 0, 640, 384)).save(folder / name)
    Image.open(kodak_dir / "kodim23.png").convert("RGB").crop((0, 0, 300, 200)).save(folder / "tiny.png")
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
        assert row["flags"].startswith("over 2 of 3 images (1 failed or without features)")
    summary = summary_table(out)
    assert summary["fid_n"].tolist() == [8] and "< 2048" in summary["fid_flags"].iloc[0]
    from gcbench.analysis.plots import rd_figure

    fig = rd_figure(out, ["fid", "kid"])  # the plot shows the warning beside the values
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert sum("< 2048" in t and "NOT the published" in t.replace("\n", " ") for t in texts) == 2

    # the classic route: patch PNGs in two folders, torch-fidelity's calculate_metrics
    recons = _decode_bitstreams(out, per_image(out))
    del recons["tiny.png"]
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
    # with subset size = n every subset is the whole set: torch-fidelity's std is float rounding
    # (~1e-7 of the value); gcbench leaves it empty and says why
    assert abs(expected["kernel_inception_distance_std"]) <= 1e-4 * abs(expected["kernel_inception_distance_mean"])
    assert math.isnan(kid_row["kid_std"]) and "every subset is the whole set, kid_std left empty" in kid_row["flags"]

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


# -- bounded memory: streamed FID statistics, KID subsets read from disk ------------------------


def _feature_files(folder: Path, arrays: list[np.ndarray]) -> list[Path]:
    from gcbench.core.arrays import save_array

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i:05d}.npy" for i in range(len(arrays))]
    for path, array in zip(paths, arrays, strict=True):
        save_array(path, array)
    return paths


def _split(rng: np.random.Generator, n: int, dim: int, mean: float, scale: float) -> list[np.ndarray]:
    """``n`` rows in arrays of uneven sizes (as images give uneven patch counts)."""
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(n - 1, 40), replace=False))
    rows = (rng.normal(mean, scale, (n, dim)) * rng.uniform(0.5, 2.0, dim)).astype(np.float32)
    return np.split(rows, cuts)


@pytest.mark.parametrize("n,dim,mean,chunk", [(300, 64, 0.0, 64), (2500, 32, 5.0, 2048), (4100, 128, 0.4, 1000)])
def test_fid_from_streamed_statistics_equals_torch_fidelity(n: int, dim: int, mean: float, chunk: int) -> None:
    import torch
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

    rng = np.random.default_rng(n)
    recon, ref = _split(rng, n, dim, mean + 0.1, 1.1), _split(rng, n + 17, dim, mean, 1.0)
    x, y = np.concatenate(recon), np.concatenate(ref)
    theirs_x, theirs_y = fid_features_to_statistics(torch.from_numpy(x)), fid_features_to_statistics(torch.from_numpy(y))
    ours_x = distribution.streamed_statistics(recon, chunk_rows=chunk)
    assert ours_x.n == n
    # torch-fidelity's mean is summed in float32 (~1e-6 off); ours in float64
    np.testing.assert_allclose(ours_x.mean(), x.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(ours_x.mean(), theirs_x["mu"], rtol=1e-5)
    np.testing.assert_allclose(ours_x.covariance(), theirs_x["sigma"], rtol=1e-9, atol=1e-12)
    expected = fid_statistics_to_metric(theirs_x, theirs_y, verbose=False)[KEY_METRIC_FID]
    ours = distribution.fid_from_statistics(ours_x, distribution.streamed_statistics(ref, chunk_rows=chunk))
    assert ours == pytest.approx(expected, rel=1e-6)
    assert FID().finalize(recon, ref).values["fid"] == pytest.approx(expected, rel=1e-6)


def test_feature_files_iterate_and_take_rows_then_clean_up(tmp_path: Path) -> None:
    from gcbench.results.features import FeatureFiles

    rng = np.random.default_rng(1)
    arrays = _split(rng, 500, 8, 0.0, 1.0)
    paths = _feature_files(tmp_path / "f", arrays)
    whole = np.concatenate(arrays)
    with FeatureFiles(paths) as files:
        assert len(files) == len(arrays) and files.n_rows() == 500
        assert all(np.array_equal(a, b) for a, b in zip(files, arrays, strict=True))
        rows = rng.choice(500, 123, replace=False)
        np.testing.assert_array_equal(files.take(rows), whole[rows])  # in the order asked for
        np.testing.assert_array_equal(files.take(np.array([499, 0, 7])), whole[[499, 0, 7]])
        assert len(list((tmp_path / "f").glob(".stacked-*"))) == 1
    assert not list((tmp_path / "f").glob(".stacked-*"))  # the stacked copy is gone
    odd = _feature_files(tmp_path / "g", [np.zeros((2, 8), np.float32), np.zeros((2, 9), np.float32)])
    with FeatureFiles(odd) as files, pytest.raises(MetricError, match="disagree in row shape"):
        files.take(np.array([0]))


@pytest.mark.slow
def test_kid_from_feature_files_equals_torch_fidelity(tmp_path: Path) -> None:
    import torch
    from torch_fidelity.defaults import DEFAULTS
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    from gcbench.results.features import FeatureFiles

    rng = np.random.default_rng(2)
    recon, ref = _split(rng, 1300, 16, 0.2, 1.0), _split(rng, 1100, 16, 0.0, 1.0)
    kwargs = {k: v for k, v in DEFAULTS.items() if k.startswith("kid_") or k == "rng_seed"}
    expected = kid_features_to_metric(torch.from_numpy(np.concatenate(recon)), torch.from_numpy(np.concatenate(ref)),
                                      **{**kwargs, "kid_subset_size": 1000, "verbose": False})
    with FeatureFiles(_feature_files(tmp_path / "r", recon)) as x, FeatureFiles(_feature_files(tmp_path / "o", ref)) as y:
        result = KID().finalize(x, y)
    # the same draws, the same kernel, the same rows in the same order: the same numbers
    assert result.values == {"kid": expected[KEY_METRIC_KID_MEAN], "kid_std": expected[KEY_METRIC_KID_STD]}
    assert result.n_items == 1300 and not [f for f in result.flags if "kid_std" in f or "subset size" in f]


@pytest.mark.parametrize("n_recon,n_ref,empty", [(999, 2000, True), (1000, 1000, True), (1000, 1200, False),
                                                 (1500, 1000, False)])
def test_kid_std_is_left_empty_where_every_subset_is_the_whole_set(n_recon: int, n_ref: int, empty: bool) -> None:
    size = distribution.kid_subset_size(n_recon, n_ref)
    flag = distribution.kid_std_flag(size, n_recon, n_ref)
    assert (flag is not None) == empty
    if empty:
        assert "every subset is the whole set, kid_std left empty" in flag


def _peak_bytes(fn) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_set_stage_memory_does_not_grow_with_the_number_of_patches(tmp_path: Path) -> None:
    """FID and KID over 10× more patches (files on disk, as the set stage reads them) need about
    the same memory: the only part that grows is KID's draw of row indices (8 bytes a row)."""
    from gcbench.execution.set_metrics import compute_set_metric

    dim = 64
    peaks = {}
    for n in (4_000, 40_000):
        rng = np.random.default_rng(n)
        chunks = [rng.normal(0.0, 1.0, (500, dim)).astype(np.float32) for _ in range(n // 500)]
        recon = _feature_files(tmp_path / f"r{n}", [c + 0.1 for c in chunks])
        ref = _feature_files(tmp_path / f"o{n}", [c[::-1] * 1.1 for c in chunks])
        del chunks
        peaks[n] = {name: _peak_bytes(lambda m=metric: compute_set_metric(m, recon, ref))
                    for name, metric in (("fid", FID()), ("kid", KID()))}
    growth_allowed = 1.5 * 8 * 40_000  # the index draws; the features added are 36,000 × 64 × 4 B × 2 = 18 MB
    for name in ("fid", "kid"):
        assert peaks[40_000][name] <= peaks[4_000][name] + growth_allowed, peaks
    in_memory = 40_000 * dim * 4 * 2
    assert peaks[40_000]["fid"] < in_memory / 4, peaks
