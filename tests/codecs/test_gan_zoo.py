"""The GAN architecture zoo: layer by layer as the papers write them, documented state-dict keys,
exact bitstreams, checkpoints, and --random-weights recorded on every row."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import smooth_image
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from gcbench.codecs import registry
from gcbench.codecs import container
from gcbench.codecs.gan import fixedlength
from gcbench.codecs.gan import zoo
from gcbench.codecs.gan.layers import ChannelNorm2d, DenseBlock
from gcbench.codecs.spec import build_codec
from gcbench.core.errors import CodecError, UnavailableError, UnknownNameError, WeightsError
from gcbench.execution.runner import RunConfig, run
from gcbench.results.store import ResultStore
from gcbench.results.views import per_image

C, T = "Conv2d", "ConvTranspose2d"

# small widths: the same structure and keys, fast to run
SMALL = {
    "hific": {"latent_features": 8, "hyper_features": 8, "encoder_channels": (4, 4, 8, 8, 16)},
    "agustsson2019": {"channels": 4, "base": 2},
    "pix2pixhd-global": {"ngf": 4, "n_blocks": 2},
    "fgc-updown": {"ngf": 4, "n_blocks": 2},
    "fgc-dense-9-32": {"ngf": 4},
}


def convs(module: nn.Module) -> list[tuple[str, int, int, int, int]]:
    return [(type(m).__name__, m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0])
            for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


def meta(name: str, **kw: object) -> nn.Module:
    with torch.device("meta"):
        return zoo.build(name, **kw)


# -- the architectures, as the papers write them ------------------------------------------------


def test_hific_is_the_paper_architecture() -> None:
    m = meta("hific")
    # E: c7s1-60, d120, d240, d480, d960, conv to C_y = 220
    assert convs(m.encoder) == [(C, 3, 60, 7, 1), (C, 60, 120, 3, 2), (C, 120, 240, 3, 2), (C, 240, 480, 3, 2),
                                (C, 480, 960, 3, 2), (C, 960, 220, 3, 1)]
    # G: conv to 960, 9 residual blocks of two 3x3 convs, u480 … u60, c7s1-3
    assert convs(m.decoder) == ([(C, 220, 960, 3, 1)] + [(C, 960, 960, 3, 1)] * 18 +
                                [(T, 960, 480, 3, 2), (T, 480, 240, 3, 2), (T, 240, 120, 3, 2), (T, 120, 60, 3, 2),
                                 (C, 60, 3, 7, 1)])
    norms = [type(x).__name__ for x in m.decoder.modules() if isinstance(x, (ChannelNorm2d, nn.InstanceNorm2d))]
    assert norms == ["ChannelNorm2d"] * (2 + 18 + 4)  # ChannelNorm throughout, as HiFiC
    # mean-scale hyperprior (Minnen et al. 2018, no context), 320 channels
    assert convs(m.hyper_analysis) == [(C, 220, 320, 3, 1), (C, 320, 320, 5, 2), (C, 320, 320, 5, 2)]
    for head in (m.hyper_synthesis_mean, m.hyper_synthesis_scale):
        assert convs(head) == [(T, 320, 320, 5, 2), (T, 320, 320, 5, 2), (C, 320, 220, 3, 1)]
    assert m.pad_multiple == 64


def test_agustsson2019_is_the_paper_architecture() -> None:
    m = meta("agustsson2019")
    assert convs(m.encoder) == [(C, 3, 60, 7, 1), (C, 60, 120, 3, 2), (C, 120, 240, 3, 2), (C, 240, 480, 3, 2),
                                (C, 480, 960, 3, 2), (C, 960, 8, 3, 1)]
    assert convs(m.generator) == ([(C, 8, 960, 3, 1)] + [(C, 960, 960, 3, 1)] * 18 +
                                  [(T, 960, 480, 3, 2), (T, 480, 240, 3, 2), (T, 240, 120, 3, 2), (T, 120, 60, 3, 2),
                                   (C, 60, 3, 7, 1)])
    assert isinstance(m.generator[-1], nn.Tanh) and m.levels == 5
    assert all(not x.affine for x in m.modules() if isinstance(x, nn.InstanceNorm2d))


def test_pix2pixhd_global_generator_is_the_paper_architecture() -> None:
    g = meta("pix2pixhd-global").generator
    assert convs(g) == ([(C, 3, 64, 7, 1), (C, 64, 128, 3, 2), (C, 128, 256, 3, 2), (C, 256, 512, 3, 2),
                         (C, 512, 1024, 3, 2)] + [(C, 1024, 1024, 3, 1)] * 18 +
                        [(T, 1024, 512, 3, 2), (T, 512, 256, 3, 2), (T, 256, 128, 3, 2), (T, 128, 64, 3, 2),
                         (C, 64, 3, 7, 1)])
    # the official GlobalGenerator's nn.Sequential indices: a netG file loads key for key
    assert [i for i, x in enumerate(g.model) if isinstance(x, (nn.Conv2d, nn.ConvTranspose2d))] == \
        [1, 4, 7, 10, 13, 25, 28, 31, 34, 38]
    assert [i for i, x in enumerate(g.model) if type(x).__name__ == "ResnetBlock"] == list(range(16, 25))
    assert sum(isinstance(x, nn.ReflectionPad2d) for x in g.model) == 2


G1_CONVS = ([(C, 64, 128, 3, 2), (C, 128, 256, 3, 2), (C, 256, 512, 3, 2), (C, 512, 1024, 3, 2)],
            [(T, 1024, 512, 3, 2), (T, 512, 256, 3, 2), (T, 256, 128, 3, 2), (T, 128, 64, 3, 2), (C, 64, 3, 7, 1)])


def conv_params(cin: int, cout: int, k: int) -> int:
    """Weights and biases of a k×k convolution (a transposed one has as many)."""
    return cin * cout * k * k + cout


def g1_params(input_nc: int, n_down: int = 4, dense: tuple[int, int] | None = None) -> int:
    """pix2pixHD's G1 from the layer arithmetic: c7s1-64, d…, 9 R blocks (or Dense-N-k), u…, c7s1-3."""
    n = conv_params(input_nc, 64, 7) + sum(conv_params(64 * 2 ** i, 64 * 2 ** (i + 1), 3) for i in range(n_down))
    width = 64 * 2 ** n_down
    if dense is None:
        n += 9 * 2 * conv_params(width, width, 3)
    else:
        layers, k = dense  # each bottleneck layer: 1×1 to 4k, 3×3 to k; then the 1×1 transition
        n += sum(conv_params(width + i * k, 4 * k, 1) + conv_params(4 * k, k, 3) for i in range(layers))
        n += conv_params(width + layers * k, width, 1)
    n += sum(conv_params(width // 2 ** i, width // 2 ** (i + 1), 3) for i in range(n_down))
    return n + conv_params(64, 3, 7)


@pytest.mark.parametrize(("name", "input_nc", "expected"), [
    ("pix2pixhd-global", 3, 182_443_267), ("pix2pixhd-global", 36, 182_546_755), ("fgc-updown", 36, 729_924_931),
    ("fgc-dense-9-32", 36, 15_663_843), ("fgc-dense-9-4", 36, 13_900_599), ("fgc-dense-9-128", 36, 27_280_323),
    ("fgc-dense-6-32", 36, 14_975_235), ("fgc-dense-18-32", 36, 17_950_851)])
def test_g1_family_parameter_counts_follow_the_layer_arithmetic(name: str, input_nc: int, expected: int) -> None:
    kw = zoo.get(name).kwargs
    dense = (kw["dense_layers"], kw["growth"]) if "dense_layers" in kw else None
    assert g1_params(input_nc, kw.get("n_downsampling", 4), dense) == expected
    assert sum(p.numel() for p in meta(name, input_nc=input_nc).parameters()) == expected


def test_extra_layer_adds_one_down_up_pair_to_g1() -> None:
    g = meta("fgc-updown", input_nc=36).generator
    assert convs(g) == ([(C, 36, 64, 7, 1)] + G1_CONVS[0] + [(C, 1024, 2048, 3, 2)] + [(C, 2048, 2048, 3, 1)] * 18 +
                        [(T, 2048, 1024, 3, 2)] + G1_CONVS[1])
    assert meta("fgc-updown").pad_multiple == 32
    x = torch.zeros(1, 36, 64, 128, device="meta")
    assert g(x).shape == (1, 3, 64, 128)


@pytest.mark.parametrize(("n", "k"), [(9, 32), (9, 4), (9, 128), (6, 32), (18, 32), (3, 7)])
def test_dense_variants_replace_the_residual_blocks_of_g1(n: int, k: int) -> None:
    m = meta(f"fgc-dense-{n}-{k}", input_nc=36)
    block = m.generator.model[16]
    assert isinstance(block, DenseBlock) and not any(type(x).__name__ == "ResnetBlock" for x in m.modules())
    dense = [c for i in range(n) for c in ((C, 1024 + i * k, 4 * k, 1, 1), (C, 4 * k, k, 3, 1))]
    assert convs(block) == dense + [(C, 1024 + n * k, 1024, 1, 1)]
    assert convs(m.generator) == [(C, 36, 64, 7, 1)] + G1_CONVS[0] + convs(block) + G1_CONVS[1]
    assert m.pad_multiple == 16
    assert m.generator(torch.zeros(1, 36, 64, 128, device="meta")).shape == (1, 3, 64, 128)


def test_every_dense_layer_adds_growth_rate_channels() -> None:
    block = DenseBlock(24, 5, 6)
    seen: list[tuple[int, int]] = []
    for layer in block.layers:
        layer.register_forward_hook(lambda mod, inp, out: seen.append((inp[0].shape[1], out.shape[1])))
    assert block(torch.randn(1, 24, 8, 8)).shape == (1, 24, 8, 8)
    assert seen == [(24 + 6 * i, 6) for i in range(5)]  # layer i sees 24 + i·k channels and adds k


@pytest.mark.parametrize("name", zoo.names())
def test_state_dict_keys_are_documented(name: str) -> None:
    keys = list(meta(name).state_dict())
    undocumented, unused = zoo.keys_match(keys, zoo.get(name).key_patterns)
    assert undocumented == [] and unused == []


def test_unknown_architecture_suggests_and_dense_names_parse() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'hific'"):
        zoo.get("hifc")
    assert zoo.get("fgc-dense-4-16").kwargs == {"dense_layers": 4, "growth": 16}


def test_channel_norm_is_the_formula() -> None:
    x = torch.randn(2, 5, 3, 4, dtype=torch.float64)
    norm = ChannelNorm2d(5).double()
    with torch.no_grad():
        norm.gamma.copy_(torch.arange(5.0).view(1, 5, 1, 1))
        norm.beta.fill_(0.5)
    a = x.numpy()
    mean = a.mean(axis=1, keepdims=True)
    var = a.var(axis=1, ddof=1, keepdims=True)  # unbiased, as NeuralCompression
    expected = (a - mean) / np.sqrt(var + 1e-3) * np.arange(5.0).reshape(1, 5, 1, 1) + 0.5
    np.testing.assert_allclose(norm(x).detach().numpy(), expected, rtol=1e-12)


def test_dense_block_concatenates_every_earlier_output() -> None:
    torch.manual_seed(0)
    block = DenseBlock(6, 3, 2).double()
    x = torch.randn(1, 6, 5, 5, dtype=torch.float64)

    def norm_relu(t: torch.Tensor) -> torch.Tensor:  # InstanceNorm without affine parameters, then ReLU
        mean, var = t.mean((2, 3), keepdim=True), t.var((2, 3), unbiased=False, keepdim=True)
        return F.relu((t - mean) / torch.sqrt(var + 1e-5))

    def layer(i: int, inp: torch.Tensor) -> torch.Tensor:
        lay = block.layers[i]
        inner = F.conv2d(norm_relu(inp), lay.conv1.weight, lay.conv1.bias)
        return F.conv2d(norm_relu(inner), lay.conv2.weight, lay.conv2.bias, padding=1)

    f0 = layer(0, x)
    f1 = layer(1, torch.cat([x, f0], 1))
    f2 = layer(2, torch.cat([x, f0, f1], 1))
    conv = block.transition[2]
    expected = F.conv2d(norm_relu(torch.cat([x, f0, f1, f2], 1)), conv.weight, conv.bias)
    torch.testing.assert_close(block(x), expected)


def test_label_input_is_pix2pixhd_one_hot_and_instance_edges() -> None:
    from gcbench.codecs.gan.pix2pixhd import label_input

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 35, (2, 1, 6, 9))
    instances = rng.integers(0, 3, (2, 1, 6, 9))
    x = label_input(torch.from_numpy(labels).float(), torch.from_numpy(instances).int(), 35).numpy()
    assert x.shape == (2, 36, 6, 9)
    np.testing.assert_array_equal(x[:, :35].argmax(1), labels[:, 0])
    np.testing.assert_array_equal(x[:, :35].sum(1), 1.0)
    t = instances[:, 0]
    edge = np.zeros(t.shape, dtype=bool)  # a pixel whose instance differs from any 4-neighbour's
    edge[:, :, 1:] |= t[:, :, 1:] != t[:, :, :-1]
    edge[:, :, :-1] |= t[:, :, 1:] != t[:, :, :-1]
    edge[:, 1:, :] |= t[:, 1:, :] != t[:, :-1, :]
    edge[:, :-1, :] |= t[:, 1:, :] != t[:, :-1, :]
    np.testing.assert_array_equal(x[:, 35], edge.astype(np.float32))
    assert label_input(torch.from_numpy(labels), None, 35).shape == (2, 35, 6, 9)


# -- the fixed-length code ---------------------------------------------------------------------------


def test_group_sizes() -> None:
    assert fixedlength.group_size(5) == (3, 7)  # 2.333 bits a symbol against log2 5 = 2.322
    assert fixedlength.group_size(2) == (1, 1)
    assert fixedlength.group_size(4) == (1, 2)
    assert fixedlength.group_size(3) == (5, 8)  # 3^5 = 243 ≤ 256
    for levels in range(2, 40):
        k, bits = fixedlength.group_size(levels)
        assert levels ** k <= 2 ** bits and bits / k < math.log2(levels) + 0.1


@given(st.integers(2, 12).flatmap(lambda L: st.tuples(st.just(L), st.lists(st.integers(0, L - 1), max_size=200))))
@settings(max_examples=200, deadline=None)
def test_fixed_length_round_trip(case: tuple[int, list[int]]) -> None:
    levels, symbols = case
    data = fixedlength.pack(np.array(symbols, dtype=np.int64), levels)
    assert len(data) == fixedlength.packed_size(len(symbols), levels)
    np.testing.assert_array_equal(fixedlength.unpack(data, len(symbols), levels), symbols)


def test_fixed_length_refuses_bad_input() -> None:
    with pytest.raises(CodecError, match="symbols must lie in"):
        fixedlength.pack(np.array([0, 5]), 5)
    data = fixedlength.pack(np.arange(9) % 5, 5)
    with pytest.raises(CodecError, match="bytes of symbols"):
        fixedlength.unpack(data[:-1], 9, 5)
    with pytest.raises(CodecError, match="out of range"):
        fixedlength.unpack(b"\xff" * len(data), 9, 5)  # 127 > 5^3 - 1


# -- codecs through gcbench --------------------------------------------------------------------------


def _gan_spec(folder: Path, name: str, architecture: str, kwargs: dict, extra: str = "") -> None:
    from gcbench.codecs.spec import load_spec

    body = "\n".join(f"{k} = {json.dumps(list(v) if isinstance(v, tuple) else v)}" for k, v in kwargs.items())
    path = folder / f"{name}.toml"
    path.write_text(f'base = "gan-hific"\n[options]\narchitecture = "{architecture}"\n{extra}\n[options.kwargs]\n{body}\n')
    registry.codecs.add(name, load_spec(path), origin="test", replace=True)


def _reference(model: nn.Module, image: np.ndarray) -> tuple[dict, np.ndarray]:
    """NeuralCompression's convention: reflect-pad bottom/right to the model's multiple, crop back."""
    h, w = image.shape[:2]
    m = model.pad_multiple
    padded = np.pad(image, (((0, (-h) % m)), (0, (-w) % m), (0, 0)), mode="reflect")  # repeats for large pads
    x = torch.from_numpy(padded).permute(2, 0, 1).unsqueeze(0).float() / 255
    with torch.no_grad():
        enc = model.compress(x)
        x_hat = model.decompress(enc["strings"], enc["shape"])["x_hat"][:, :, :h, :w]
    return enc, np.rint(x_hat[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)


@pytest.mark.parametrize("name", ["hific", "agustsson2019", "pix2pixhd-global", "fgc-dense-9-32"])
def test_random_weights_run_through_gcbench_and_every_row_says_so(name: str, specs: Path, tmp_path: Path) -> None:
    _gan_spec(specs, "arch", name, SMALL[name])
    folder = tmp_path / "imgs"
    folder.mkdir()
    sizes = [(45, 70), (130, 33)]
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(smooth_image(h, w, seed=i)).save(folder / f"im{i}.png")
    out = tmp_path / "out"
    from gcbench.cli import main

    assert main(["run", "--codec", "arch", "--dataset", str(folder), "--out", str(out), "--metric", "psnr",
                 "--random-weights", "--no-progress", "--no-outputs"]) == 0
    torch.manual_seed(0)
    model = zoo.build(name, **SMALL[name]).eval()
    if hasattr(model, "update"):
        model.update(force=True)
    df = per_image(out).sort_values("image").reset_index(drop=True)
    with ResultStore(out, create=False) as store:
        stored = {r["key"]: r for r in store.query("SELECT key, provenance, codec_versions FROM tasks")}
        for _, row in df.iterrows():
            original = np.asarray(Image.open(folder / row["image"]).convert("RGB"))
            enc, expected = _reference(model, original)
            data = store.read_bitstream(row["key"])
            assert container.unpack(data).strings == [list(s) for s in enc["strings"]]
            np.testing.assert_array_equal(build_codec(registry.codecs.get("arch").with_options(random_weights=True))
                                          .decode(data), expected)
            assert row["bpp"] == pytest.approx(8 * len(data) / original[..., 0].size) and row["bpp_kind"] == "exact"
            assert json.loads(stored[row["key"]]["provenance"])["random_weights"] is True
            versions = json.loads(stored[row["key"]]["codec_versions"])
            assert versions["weights"].startswith("RANDOM INIT") and versions["architecture"] == name
            if name == "agustsson2019":  # fixed-length code: C·h·w symbols, 7 bits per 3
                c, lh, lw = enc["shape"]
                assert container.string_bytes(container.unpack(data)) == math.ceil(math.ceil(c * lh * lw / 3) * 7 / 8)


def test_without_weights_the_codec_is_unavailable_with_how_to_fix(specs: Path, tmp_path: Path) -> None:
    avail = build_codec(registry.codecs.get("gan-fgc-dense-9-32")).available()
    assert not avail and "--random-weights" in avail.hint and "checkpoint" in avail.hint
    with pytest.raises(UnavailableError, match="fgc-dense-9-32 has no trained weights"):
        run(RunConfig(codecs=["gan-fgc-dense-9-32"], dataset="sample", out=tmp_path / "o", progress=False))


def test_pix2pixhd_netg_checkpoint_loads_with_a_key_prefix(specs: Path, tmp_path: Path) -> None:
    from gcbench.codecs.gan.pix2pixhd import GlobalGenerator

    torch.manual_seed(3)
    netg = GlobalGenerator(ngf=4, n_blocks=2)
    path = tmp_path / "latest_net_G.pth"
    torch.save(netg.state_dict(), path)  # keys model.1.weight, … as pix2pixHD writes them
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    kwargs = {"ngf": 4, "n_blocks": 2}
    _gan_spec(specs, "p2p", "pix2pixhd-global", kwargs, f'checkpoint = "{path}"\nsha256 = "{sha}"\n'
                                                        'checkpoint_prefix = "generator."')
    codec = build_codec(registry.codecs.get("p2p"))
    model = codec.model_for("1")
    for key, value in netg.state_dict().items():
        torch.testing.assert_close(model.generator.state_dict()[key], value)
    # without the prefix the keys do not fit, and the message says so
    _gan_spec(specs, "p2p-bare", "pix2pixhd-global", kwargs, f'checkpoint = "{path}"\nsha256 = "{sha}"')
    with pytest.raises(WeightsError, match=r"missing keys: generator\.model\.1\.weight.*unexpected keys: model\.1\.weight"):
        build_codec(registry.codecs.get("p2p-bare")).model_for("1")


def test_hific_checkpoint_with_old_entropy_names_loads(specs: Path, tmp_path: Path) -> None:
    """MS-ILLM files were written by CompressAI 1.2.4: ``hyper_bottleneck._matrix0`` and so on."""
    torch.manual_seed(4)
    kwargs = SMALL["hific"]
    model = zoo.build("hific", **kwargs)
    model.update(force=True)
    old = {k.replace("hyper_bottleneck.matrices.", "hyper_bottleneck._matrix")
            .replace("hyper_bottleneck.biases.", "hyper_bottleneck._bias")
            .replace("hyper_bottleneck.factors.", "hyper_bottleneck._factor"): v for k, v in model.state_dict().items()}
    assert "hyper_bottleneck._matrix0" in old
    path = tmp_path / "hific.ckpt"
    torch.save(old, path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    _gan_spec(specs, "h", "hific", kwargs, f'checkpoint = "{path}"\nsha256 = "{sha}"')
    codec = build_codec(registry.codecs.get("h"))
    image = smooth_image(50, 61)
    np.testing.assert_array_equal(codec.decode(codec.encode(image, 1).data), _reference(model.eval(), image)[1])


def test_msillm_weights_offline_name_the_file_and_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(WeightsError) as err:
        build_codec(registry.codecs.get("msillm")).model_for("2")
    assert "msillm_target_0.07bpp.ckpt" in str(err.value)
    assert "https://dl.fbaipublicfiles.com/NeuralCompression/2023-muckley-msillm/msillm_target_0.07bpp.ckpt" in str(err.value)


def test_reflect_padding_of_tiny_images_equals_numpy() -> None:
    from gcbench.codecs.learned import pad_tensor

    for h, w, pads in [(1, 1, (0, 63, 0, 63)), (3, 5, (0, 61, 0, 59)), (7, 13, (28, 29, 25, 26))]:
        x = torch.arange(h * w * 3, dtype=torch.float64).reshape(1, 3, h, w)
        top, bottom, left, right = pads
        expected = np.pad(x.numpy(), ((0, 0), (0, 0), (top, bottom), (left, right)), mode="reflect")
        np.testing.assert_array_equal(pad_tensor(x, pads, "reflect").numpy(), expected)


def test_msillm_without_its_checkpoint_fails_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gcbench.cli import main

    out = tmp_path / "o"
    assert main(["run", "--codec", "msillm@3", "--dataset", "sample", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "msillm_target_" in err and "https://dl.fbaipublicfiles.com/" in err
    assert not out.exists()
