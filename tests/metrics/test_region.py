"""Region metrics: properties against plain PSNR/MSE, LPIPS against the lpips library on the same
(stand-in) trunk, estimated bits per region against the likelihoods themselves."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from metrics.standin_weights import torchvision_standin
from PIL import Image

from gcbench.codecs.base import Codec, Encoded
from gcbench.core.errors import ConfigError, MetricError, WeightsError
from gcbench.metrics.pixel import psnr
from gcbench.metrics.region import (
    RegionBits,
    RegionLPIPS,
    RegionPSNR,
    SaliencyPSNR,
    bits_map_from_likelihoods,
    region_mse,
    saliency_mse,
)


def whole_mse(a: np.ndarray, b: np.ndarray) -> float:
    d = a.astype(np.float64) - b.astype(np.float64)
    return float(np.mean(d * d))


image_pairs = st.tuples(st.integers(2, 24), st.integers(2, 24)).flatmap(
    lambda hw: st.tuples(arrays(np.uint8, (*hw, 3)), arrays(np.uint8, (*hw, 3))))


# -- RoI PSNR / MSE --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(image_pairs)
def test_all_ones_mask_gives_psnr_inside_and_nothing_outside(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    out = RegionPSNR().compute(a, b, mask=np.ones(a.shape[:2], np.float32))
    reference = psnr(a, b)
    if math.isinf(reference):
        assert out["psnr_in"] == math.inf
    else:
        assert out["psnr_in"] == pytest.approx(reference, rel=1e-12)
    assert out["mse_in"] == pytest.approx(whole_mse(a, b), rel=1e-12, abs=1e-12)
    assert math.isnan(out["psnr_out"]) and math.isnan(out["mse_out"])


@settings(max_examples=60, deadline=None)
@given(image_pairs, st.data())
def test_half_mask_averages_back_to_whole_mse_by_area(pair: tuple[np.ndarray, np.ndarray], data: st.DataObject) -> None:
    a, b = pair
    h, w = a.shape[:2]
    assume(w >= 2)
    cut = data.draw(st.integers(1, w - 1))
    mask = np.zeros((h, w), np.float32)
    mask[:, :cut] = 1.0
    mse_in, mse_out = region_mse(a, b, mask)
    n_in, n_out = h * cut, h * (w - cut)
    assert (mse_in * n_in + mse_out * n_out) / (n_in + n_out) == pytest.approx(whole_mse(a, b), rel=1e-12, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(image_pairs, st.data())
def test_any_binary_mask_splits_the_error_by_area(pair: tuple[np.ndarray, np.ndarray], data: st.DataObject) -> None:
    a, b = pair
    mask = data.draw(arrays(np.bool_, a.shape[:2]))
    assume(mask.any() and not mask.all())
    mse_in, mse_out = region_mse(a, b, mask.astype(np.float32))
    n_in = mask.sum()
    assert (mse_in * n_in + mse_out * (mask.size - n_in)) / mask.size == pytest.approx(whole_mse(a, b), rel=1e-12, abs=1e-12)


def test_empty_roi_and_soft_masks_threshold(rng: np.random.Generator) -> None:
    a = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
    out = RegionPSNR().compute(a, b, mask=np.zeros((8, 10), np.float32))
    assert math.isnan(out["psnr_in"]) and out["psnr_out"] == pytest.approx(psnr(a, b), rel=1e-12)
    soft = np.full((8, 10), 0.3, np.float32)
    soft[:, :4] = 0.7  # >= 0.5: inside
    d = (a.astype(float) - b.astype(float)) ** 2
    assert RegionPSNR().compute(a, b, mask=soft)["mse_in"] == pytest.approx(d[:, :4].mean(), rel=1e-12)
    assert RegionPSNR(threshold=0.25).compute(a, b, mask=soft)["mse_in"] == pytest.approx(d.mean(), rel=1e-12)
    with pytest.raises(ConfigError, match="threshold"):
        RegionPSNR(threshold=0)
    with pytest.raises(MetricError, match="mask is 9×8"):
        RegionPSNR().compute(a, b, mask=np.ones((8, 9), np.float32))


# -- saliency weighting ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(image_pairs, st.floats(1e-3, 1.0))
def test_uniform_saliency_is_plain_psnr(pair: tuple[np.ndarray, np.ndarray], level: float) -> None:
    a, b = pair
    out = SaliencyPSNR().compute(a, b, mask=np.full(a.shape[:2], level, np.float32))
    reference = psnr(a, b)
    if math.isinf(reference):
        assert out["psnr_sal"] == math.inf
    else:
        assert out["psnr_sal"] == pytest.approx(reference, rel=1e-9)
    assert out["mse_sal"] == pytest.approx(whole_mse(a, b), rel=1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(image_pairs, st.data())
def test_binary_saliency_is_roi_mse_and_scale_free(pair: tuple[np.ndarray, np.ndarray], data: st.DataObject) -> None:
    a, b = pair
    mask = data.draw(arrays(np.bool_, a.shape[:2])).astype(np.float32)
    assume(mask.any())
    # weights m / mean(m) are 1 / (RoI fraction) inside and 0 outside: the RoI's own MSE
    assert saliency_mse(a, b, mask) == pytest.approx(region_mse(a, b, mask)[0], rel=1e-9, abs=1e-9)
    assert saliency_mse(a, b, 0.25 * mask) == pytest.approx(saliency_mse(a, b, mask), rel=1e-12, abs=1e-12)


def test_saliency_weights_favour_the_salient_error() -> None:
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0] = 10  # one wrong pixel
    sal = np.full((4, 4), 0.1, np.float32)
    sal[0, 0] = 1.0
    weights = sal / sal.mean()
    assert saliency_mse(a, b, sal) == pytest.approx(100.0 * weights[0, 0] / 16, rel=1e-6)
    with pytest.raises(MetricError, match="zero everywhere"):
        saliency_mse(a, b, np.zeros((4, 4), np.float32))


# -- LPIPS inside / outside -------------------------------------------------------------------


@pytest.fixture(scope="module")
def alexnet_standin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A torchvision AlexNet state dict of random weights (the real trunk cannot be had offline)."""
    import torch

    path = torchvision_standin("alexnet", tmp_path_factory.mktemp("standin") / "alexnet-standin.pth", seed=7)
    return path, torch.load(path, map_location="cpu", weights_only=True)


def reference_lpips(state: dict, spatial: bool, monkeypatch: pytest.MonkeyPatch):
    """The lpips library itself, its torchvision trunk loading the same stand-in weights."""
    import lpips
    import torch
    import torchvision
    from lpips import pretrained_networks as pn

    original = torchvision.models.alexnet

    def alexnet(pretrained: bool = False, **kwargs):
        with torch.device("meta"):  # no time spent on a random initialisation
            model = original(weights=None)
        model.load_state_dict(state, assign=True)
        return model

    with monkeypatch.context() as patch:  # only while the reference is built
        patch.setattr(pn.tv, "alexnet", alexnet)
        return lpips.LPIPS(net="alex", version="0.1", spatial=spatial, verbose=False).eval()


def _pair(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    from conftest import smooth_image

    a = smooth_image(64, 96, seed=seed)
    rng = np.random.default_rng(seed)
    b = np.clip(a.astype(int) + rng.integers(-25, 26, a.shape), 0, 255).astype(np.uint8)
    b[:, 48:] = a[:, 48:]  # the right half is untouched
    return a, b


def _tensor(image: np.ndarray):
    import torch

    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def test_lpips_regions_match_the_lpips_library(alexnet_standin, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    path, state = alexnet_standin
    a, b = _pair()
    metric = RegionLPIPS(trunk_weights=str(path))
    metric.prepare()  # gcbench loads the trunk its own way, from the file
    with torch.no_grad():
        scalar = float(reference_lpips(state, False, monkeypatch)(_tensor(a), _tensor(b)))
        spatial = reference_lpips(state, True, monkeypatch)(_tensor(a), _tensor(b))[0, 0].double().numpy()
    ones = metric.compute(a, b, mask=np.ones(a.shape[:2], np.float32))
    # the spatial map's mean is the scalar LPIPS up to the bilinear upsampling of each layer
    assert ones["lpips_in"] == pytest.approx(scalar, rel=2e-3) and math.isnan(ones["lpips_out"])
    half = np.zeros(a.shape[:2], np.float32)
    half[:, :48] = 1.0
    out = metric.compute(a, b, mask=half)
    assert out["lpips_in"] == pytest.approx(spatial[:, :48].mean(), rel=1e-5)
    assert out["lpips_out"] == pytest.approx(spatial[:, 48:].mean(), rel=1e-5)
    assert (out["lpips_in"] + out["lpips_out"]) / 2 == pytest.approx(ones["lpips_in"], rel=1e-6)
    assert out["lpips_in"] > out["lpips_out"]  # the distorted half is the RoI
    assert metric.compute(a, a, mask=half)["lpips_in"] == pytest.approx(0.0, abs=1e-7)


def test_lpips_trunk_comes_from_the_weights_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alexnet_standin) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    metric = RegionLPIPS()
    assert metric.versions()["trunk"] == "alexnet-imagenet:7be5be79"
    with pytest.raises(WeightsError, match="alexnet-owt-7be5be79.pth"):
        metric.prepare()
    # a stand-in under the real name is refused: its hash is not the published one
    target = tmp_path / "torch" / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    target.parent.mkdir(parents=True)
    target.write_bytes(alexnet_standin[0].read_bytes())
    with pytest.raises(WeightsError, match="wrong hash"):
        RegionLPIPS().prepare()
    # an explicit stand-in is allowed, and its own hash is what the values depend on
    standin = RegionLPIPS(trunk_weights=str(alexnet_standin[0]))
    assert standin.versions()["trunk"].startswith("override:") and standin.identity() != metric.identity()
    assert RegionLPIPS(threshold=0.7).identity() != metric.identity()


def test_lpips_without_the_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "lpips" else real(name, *a))
    avail = RegionLPIPS.available()
    assert not avail and "lpips" in avail.reason and "gcbench[perceptual]" in avail.hint


# -- estimated bits per region -------------------------------------------------------------------


def _laplace_likelihood(values, scale: float):
    import torch

    def cdf(v):
        return 0.5 + 0.5 * torch.sign(v) * (1 - torch.exp(-v.abs() / scale))

    return (cdf(values + 0.5) - cdf(values - 0.5)).clamp_min(1e-9)


class TinyLearned(Codec):
    """A two-latent learned codec (y at stride 16, z at stride 64) with random stand-in weights.

    No entropy coder: the bitstream holds the quantised latent, the row's bpp is the estimate
    from the likelihoods (``Encoded.bits_estimate``), and ``likelihoods()`` exposes them.
    """

    def __init__(self, spec) -> None:
        import torch

        super().__init__(spec)
        torch.manual_seed(11)
        self.g_a = torch.nn.Conv2d(3, 4, 16, stride=16)
        self.g_s = torch.nn.ConvTranspose2d(4, 3, 16, stride=16)

    def _y_hat(self, image: np.ndarray, gain: float):
        import torch
        import torch.nn.functional as F

        h, w = image.shape[:2]
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0
        x = F.pad(x, (0, -w % 64, 0, -h % 64), mode="replicate")
        with torch.no_grad():
            return torch.round(self.g_a(x) * 8.0 * gain)

    def likelihoods(self, image: np.ndarray, setting, side=None) -> dict:
        import torch.nn.functional as F

        y_hat = self._y_hat(image, float(setting))
        z_hat = F.avg_pool2d(y_hat.abs(), 4).round()
        return {"y": _laplace_likelihood(y_hat, 2.0), "z": _laplace_likelihood(z_hat, 4.0)}

    def encode(self, image, setting, side=None):
        y_hat = self._y_hat(image, float(setting))[0].numpy().astype(np.int16)
        bits = sum(float(-np.log2(v.double().numpy()).sum()) for v in self.likelihoods(image, setting).values())
        header = struct.pack("<4Hd", *y_hat.shape[:3], 0, float(setting))
        return Encoded(header + y_hat.tobytes(), bits_estimate=bits)

    def decode(self, data, size=None):
        import torch

        c, h, w, _, gain = struct.unpack("<4Hd", data[:16])
        y_hat = np.frombuffer(data[16:], np.int16).reshape(c, h, w).astype(np.float32)
        with torch.no_grad():
            x = self.g_s(torch.from_numpy(y_hat)[None] / (8.0 * gain))[0]
        out = np.clip(np.rint(x.permute(1, 2, 0).numpy() * 255.0), 0, 255).astype(np.uint8)
        return out[: size[0], : size[1]] if size else out


def _bits(likelihood) -> np.ndarray:
    arr = likelihood.double().numpy() if hasattr(likelihood, "double") else np.asarray(likelihood, np.float64)
    return -np.log2(arr).reshape(-1, *arr.shape[-2:]).sum(axis=0)


def test_bits_map_puts_each_latents_bits_on_its_block(rng: np.random.Generator) -> None:
    lk = rng.uniform(0.05, 1.0, (1, 3, 3, 4))  # 40×56 image, stride 16: blocks of 16, last 8 rows / 8 cols
    z = rng.uniform(0.05, 1.0, (2, 1, 1))  # stride 64, one latent for the whole image
    bmap = bits_map_from_likelihoods({"y": lk, "z": z}, (40, 56))
    y_bits, z_bits = _bits(lk), _bits(z)
    assert bmap.sum() == pytest.approx(y_bits.sum() + z_bits.sum(), rel=1e-12)
    z_per_pixel = z_bits[0, 0] / (40 * 56)
    for i, rows in enumerate([(0, 16), (16, 32), (32, 40)]):
        for j, cols in enumerate([(0, 16), (16, 32), (32, 48), (48, 56)]):
            block = bmap[rows[0]:rows[1], cols[0]:cols[1]] - z_per_pixel
            assert block.sum() == pytest.approx(y_bits[i, j], rel=1e-12)
            assert np.ptp(block) < 1e-9  # spread evenly


def test_bits_of_latents_coding_only_padding_go_to_the_border_block(rng: np.random.Generator) -> None:
    lk = rng.uniform(0.05, 1.0, (2, 4, 4))  # 20×20 image padded to 32: stride 8, latent 3 is padding only
    bits = _bits(lk)
    bmap = bits_map_from_likelihoods({"y": lk}, (20, 20))
    assert bmap.sum() == pytest.approx(bits.sum(), rel=1e-12)
    assert bmap[16:20, 16:20].sum() == pytest.approx(bits[2:, 2:].sum(), rel=1e-12)
    assert bmap[0:8, 16:20].sum() == pytest.approx(bits[0, 2:].sum(), rel=1e-12)
    explicit = bits_map_from_likelihoods({"y": lk}, (20, 20), strides={"y": 8})
    np.testing.assert_array_equal(bmap, explicit)
    with pytest.raises(MetricError, match="do not cover"):
        bits_map_from_likelihoods({"y": lk}, (20, 20), strides={"y": 4})
    with pytest.raises(MetricError, match="batch of 2"):
        bits_map_from_likelihoods({"y": np.ones((2, 1, 2, 2))}, (8, 8))


def test_codec_without_likelihoods_is_a_clear_error(rng: np.random.Generator) -> None:
    a = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)

    class Plain:
        name = "plain"

    with pytest.raises(MetricError, match="exposes no likelihoods"):
        RegionBits().compute(a, a, mask=np.ones((16, 16), np.float32), codec=Plain(), setting=1)


@pytest.fixture
def tiny_learned(specs: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Register TinyLearned as adapter 'tiny-learned' and a spec 'tiny' that uses it."""
    from gcbench.codecs import registry

    adapters = registry.Registry("codec adapter", validate=registry._validate_adapter,
                                 populate=registry._populate_adapters)
    adapters.add("tiny-learned", TinyLearned)
    monkeypatch.setattr(registry, "adapters", adapters)
    (specs / "tiny.toml").write_text('adapter = "tiny-learned"\nrate_param = "gain"\nsettings = [1.0, 2.0]\n'
                                     "rate_increases_with_setting = true\n")
    return "tiny"


def test_estimated_bits_in_and_out_of_the_roi_in_a_run(tmp_path: Path, image_folder, tiny_learned: str) -> None:
    from gcbench.execution.runner import RunConfig, run
    from gcbench.results.views import per_image

    images = image_folder(2, (64, 96))
    masks = tmp_path / "masks"
    masks.mkdir()
    roi = np.zeros((64, 96), np.uint8)
    roi[:32, :32] = 255  # y blocks (0,0), (0,1), (1,0), (1,1); a quarter of z block 0
    for name in ("img00", "img01"):
        Image.fromarray(roi).save(masks / f"{name}.png")
    report = run(RunConfig(codecs=[f"{tiny_learned}@1.0,2.5"], dataset=str(images), out=tmp_path / "out",
                           metrics=["roi-bits", "roi-psnr"], masks=str(masks), progress=False, write_outputs=False))
    assert not report.failed, report.text()
    df = per_image(tmp_path / "out")
    assert len(df) == 4 and (df["bpp_kind"] == "estimated").all()
    codec = TinyLearned(None)
    for _, row in df.iterrows():
        image = np.asarray(Image.open(images / row["image"]).convert("RGB"))
        lk = codec.likelihoods(image, float(row["setting"]))
        y, z = _bits(lk["y"]), _bits(lk["z"])
        total = y.sum() + z.sum()
        assert row["bpp_est"] == pytest.approx(total / (64 * 96), rel=1e-9)
        assert row["bpp_est"] == pytest.approx(row["bpp"], rel=1e-9)  # the row's own estimate agrees
        # z is 1×2 at stride 64: z[0] codes a 64×64 block, z[1] the remaining 64×32 columns
        assert z.shape == (1, 2) and y.shape == (4, 8)
        expected_in = (y[:2, :2].sum() + z[0, 0] * (32 * 32) / (64 * 64)) / (32 * 32)
        assert row["bpp_in_est"] == pytest.approx(expected_in, rel=1e-9)
        n_in, n = 32 * 32, 64 * 96
        assert (row["bpp_in_est"] * n_in + row["bpp_out_est"] * (n - n_in)) / n == pytest.approx(row["bpp_est"], rel=1e-9)
    higher = df.groupby("setting")["bpp_est"].mean()
    assert higher["2.5"] > higher["1.0"]
