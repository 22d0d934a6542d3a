"""Learned codecs through gcbench, checked against CompressAI itself.

Offline there are no trained weights, so the models are randomly initialised (seeded) — the
bitstream and reconstruction gcbench produces must still be exactly what the same model's
``compress``/``decompress`` give with CompressAI's own evaluation padding
(``compressai.ops.compute_padding``), and bpp must count every byte of the container.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import smooth_image
from PIL import Image

from gcbench.codecs import registry
from gcbench.cli import main as cli_main
from gcbench.codecs import container
from gcbench.codecs.spec import build_codec, spec_from_dict
from gcbench.core.errors import (
    CodecError,
    ConfigError,
    PluginError,
    UnavailableError,
    WeightsError,
)
from gcbench.execution.runner import RunConfig, run
from gcbench.codecs.stages import record_stages
from gcbench.results.store import ResultStore
from gcbench.results.views import per_image, summary_table

SIZES = [(1, 1), (7, 13), (33, 65)]  # tiny and odd: padded to 64 and cropped back


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, (h, w) in enumerate(SIZES):
        Image.fromarray(smooth_image(h, w, seed=i)).save(folder / f"im{i}_{h}x{w}.png")
    return folder


def _add_spec(path: Path, text: str) -> None:
    """Write a spec on GCBENCH_CODEC_PATH and register it (the registry may have listed the folder already)."""
    from gcbench.codecs.spec import load_spec

    path.write_text(text)
    registry.codecs.add(path.stem, load_spec(path), origin="test", replace=True)


def _zoo_spec(folder: Path, name: str, architecture: str, extra: str = "") -> None:
    _add_spec(folder / f"{name}.toml",
              f'base = "bmshj2018-factorized"\nsettings = [1]\n[options]\narchitecture = "{architecture}"\n'
              f"random_weights = true\n{extra}")


def _run(dataset: Path, out: Path, codecs: list[str], metrics: list[str] | None = None, **kw: object) -> object:
    return run(RunConfig(codecs=codecs, dataset=str(dataset), out=out, metrics=metrics or ["psnr"], progress=False,
                         write_outputs=False, **kw))


def _bitstream(out: Path, key: str) -> bytes:
    with ResultStore(out, create=False) as store:
        return store.bitstream_path(key).read_bytes()


def _rows(out: Path) -> object:
    """per_image, sorted by image, with each row's codec versions and provenance decoded."""
    df = per_image(out).sort_values("image").reset_index(drop=True)
    with ResultStore(out, create=False) as store:
        stored = {r["key"]: r for r in store.query("SELECT key, provenance, codec_versions FROM tasks")}
    df["codec_versions"] = [json.loads(stored[k]["codec_versions"] or "{}") for k in df["key"]]
    df["provenance"] = [json.loads(stored[k]["provenance"] or "{}") for k in df["key"]]
    return df


def reference(model: torch.nn.Module, image: np.ndarray) -> tuple[dict, np.ndarray]:
    """CompressAI's evaluation: centred zero padding to 64, compress, decompress, unpad; then round."""
    from compressai.ops import compute_padding

    x = torch.from_numpy(np.array(image)).permute(2, 0, 1).unsqueeze(0).float() / 255
    pad, unpad = compute_padding(x.shape[2], x.shape[3], min_div=64)
    with torch.no_grad():
        enc = model.compress(F.pad(x, pad, mode="constant", value=0))
        x_hat = F.pad(model.decompress(enc["strings"], enc["shape"])["x_hat"], unpad)
    recon = np.rint(x_hat[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    return enc, recon


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def _zoo_model(architecture: str, quality: int = 1, seed: int = 0) -> torch.nn.Module:
    from compressai.zoo.image import cfgs, model_architectures

    torch.manual_seed(seed)  # the documented convention of random_weights: seed, then construct
    model = model_architectures[architecture](*cfgs[architecture][quality])
    model.update(force=True)
    return model.eval()


# -- the CompressAI zoo through the runner ---------------------------------------------------------


@pytest.mark.parametrize("architecture", ["bmshj2018-factorized", "mbt2018-mean", "cheng2020-anchor"])
def test_zoo_models_through_gcbench_equal_compressai(architecture: str, specs: Path, images: Path, tmp_path: Path) -> None:
    _zoo_spec(specs, "zoo-test", architecture)
    out = tmp_path / "out"
    report = _run(images, out, ["zoo-test"])
    assert report.n_ok == len(SIZES) and not report.failed
    df = _rows(out)
    model = _zoo_model(architecture)
    decoder = build_codec(registry.codecs.get("zoo-test"))  # a fresh instance: decodes from the bytes alone
    for _, row in df.iterrows():
        original = np.asarray(Image.open(images / row["image"]).convert("RGB"))
        enc, expected = reference(model, original)
        data = _bitstream(out, row["key"])
        payload = container.unpack(data)
        # the bitstream is CompressAI's strings, in a container that bpp counts whole
        assert payload.strings == [list(s) for s in enc["strings"]]
        assert payload.shape == list(enc["shape"])
        assert payload.size == original.shape[:2] and payload.model == "1"
        assert row["n_bytes"] == len(data) > container.string_bytes(payload)
        assert row["bpp"] == pytest.approx(8 * len(data) / (original.shape[0] * original.shape[1]), rel=1e-12)
        assert row["bpp_kind"] == "exact"
        # the reconstruction is CompressAI's, exactly
        np.testing.assert_array_equal(decoder.decode(data, original.shape[:2]), expected)
        assert row["psnr"] == pytest.approx(_psnr(original, expected), rel=1e-9)
        assert row["codec_versions"]["weights"].startswith("RANDOM INIT")


def test_a_corrupted_bitstream_is_an_error_row_not_a_crash(specs: Path, images: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _zoo_spec(specs, "zoo-test", "bmshj2018-factorized")
    out = tmp_path / "out"
    _run(images, out, ["zoo-test"])
    df = _rows(out)
    with ResultStore(out, create=False) as store:
        path = store.bitstream_path(df.loc[2, "key"])
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0x10
    path.write_bytes(bytes(damaged))
    written = []
    real_write = ResultStore.write_task
    monkeypatch.setattr(ResultStore, "write_task", lambda self, rec, run_id: (written.append(rec), real_write(self, rec, run_id))[1])
    # asking for a further metric decodes the stored bitstreams again
    report = _run(images, out, ["zoo-test"], metrics=["psnr", "ssim"])
    assert report.n_failed == 1 and report.n_ok == len(SIZES) - 1
    (bad,) = [r for r in written if r.status != "ok"]
    assert bad.key == df.loc[2, "key"] and bad.error_stage == "decode"
    assert "corrupted bitstream: CRC-32 mismatch" in bad.error
    with pytest.raises(CodecError, match="not a gcbench learned-codec bitstream"):
        build_codec(registry.codecs.get("zoo-test")).decode(b"\xff\xd8\xff\xe0 a JPEG" + bytes(20))


def test_stage_timing_covers_every_learned_stage_without_overlap() -> None:
    spec = spec_from_dict({"adapter": "compressai", "rate_param": "quality", "settings": [1],
                           "rate_increases_with_setting": True,
                           "options": {"architecture": "mbt2018-mean", "random_weights": True}}, default_name="s")
    codec = build_codec(spec)
    image = smooth_image(40, 70)
    codec.encode(image, 1)  # build the model outside the measurement
    with record_stages() as enc:
        import time

        t0 = time.perf_counter()
        encoded = codec.encode(image, 1)
        total_enc = time.perf_counter() - t0
    with record_stages() as dec:
        t0 = time.perf_counter()
        codec.decode(encoded.data, (40, 70))
        total_dec = time.perf_counter() - t0
    assert set(enc) == {"preprocess", "analysis", "hyper", "entropy-coding"}
    assert set(dec) == {"entropy-coding", "hyper", "synthesis", "postprocess"}
    # stages do not overlap: their sum cannot exceed the wall time of the call
    assert sum(enc.values()) <= total_enc and sum(dec.values()) <= total_dec
    assert sum(enc.values()) > 0.5 * total_enc and sum(dec.values()) > 0.5 * total_dec


def test_stage_hooks_attribute_time_to_the_right_stage() -> None:
    import time

    from gcbench.codecs.learned import StageHooks

    class Slow(torch.nn.Module):
        def __init__(self, seconds: float) -> None:
            super().__init__()
            self.seconds = seconds

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            time.sleep(self.seconds)
            return x

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.g_a, self.h_a, self.g_s = Slow(0.03), Slow(0.02), Slow(0.05)

    model = Model()
    hooks = StageHooks(model, {"g_a": "analysis", "h_a": "hyper", "g_s": "synthesis"}, "cpu")
    with record_stages() as times, hooks.running("entropy-coding"):
        model.g_a(1)
        time.sleep(0.04)
        model.h_a(1)
        model.g_s(1)
    assert times["analysis"] == pytest.approx(0.03, abs=0.02)
    assert times["hyper"] == pytest.approx(0.02, abs=0.02)
    assert times["synthesis"] == pytest.approx(0.05, abs=0.02)
    assert times["entropy-coding"] == pytest.approx(0.04, abs=0.02)
    with record_stages() as outside:
        model.g_a(1)  # hooks are silent outside running()
    assert outside == {}


# -- user models and checkpoints -------------------------------------------------------------------


def _user_checkpoint(tmp_path: Path, cls_name: str = "MeanScaleHyperprior", n: int = 16, m: int = 24,
                     seed: int = 1) -> tuple[Path, str, torch.nn.Module]:
    import compressai.models as cm

    torch.manual_seed(seed)
    model = getattr(cm, cls_name)(n, m)
    model.update(force=True)
    path = tmp_path / f"{cls_name}-{n}-{m}.pth"
    torch.save(model.state_dict(), path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest(), model.eval()


def _user_spec(folder: Path, name: str, checkpoint: Path, sha256: str, n: int = 16, m: int = 24,
               model: str = "compressai.models:MeanScaleHyperprior", extra: str = "") -> None:
    _add_spec(
        folder / f"{name}.toml",
        'adapter = "learned-model"\nrate_param = "model"\nrate_increases_with_setting = true\nsettings = [1]\n'
        f'[options]\nmodel = "{model}"\ncheckpoint = "{checkpoint}"\nsha256 = "{sha256}"\n{extra}'
        f"[options.kwargs]\nN = {n}\nM = {m}\n"
    )


def test_user_model_with_checkpoint_equals_its_own_compress_decompress(specs: Path, images: Path, tmp_path: Path) -> None:
    path, sha, model = _user_checkpoint(tmp_path)
    _user_spec(specs, "mine", path, sha)
    out = tmp_path / "out"
    report = _run(images, out, ["mine"])
    assert report.n_ok == len(SIZES) and not report.failed
    df = _rows(out)
    for _, row in df.iterrows():
        original = np.asarray(Image.open(images / row["image"]).convert("RGB"))
        enc, expected = reference(model, original)
        data = _bitstream(out, row["key"])
        assert container.unpack(data).strings == [list(s) for s in enc["strings"]]
        np.testing.assert_array_equal(build_codec(registry.codecs.get("mine")).decode(data), expected)
        assert row["provenance"]["weights"].startswith(f"checkpoint {path.name} sha256 {sha[:16]}")
        assert row["provenance"]["random_weights"] is False


def test_wrong_hash_is_refused_and_says_which(specs: Path, images: Path, tmp_path: Path) -> None:
    path, sha, _ = _user_checkpoint(tmp_path)
    wrong = "0" * 64
    _user_spec(specs, "mine", path, wrong)
    codec = build_codec(registry.codecs.get("mine"))
    with pytest.raises(WeightsError, match=f"wrong hash: expected SHA-256 {wrong}, actual {sha}"):
        codec.model_for("1")
    out = tmp_path / "out"
    _run(images, out, ["mine"])  # through the runner: error rows with the same message, no crash
    df = _rows(out)
    assert (df["status"] == "error").all() and df["error"].str.contains("wrong hash").all()


def test_a_checkpoint_without_sha256_is_refused_with_its_hash(specs: Path, tmp_path: Path) -> None:
    path, sha, _ = _user_checkpoint(tmp_path)
    _add_spec(
        specs / "nohash.toml",
        'adapter = "learned-model"\nrate_param = "model"\nrate_increases_with_setting = true\nsettings = [1]\n'
        f'[options]\nmodel = "compressai.models:MeanScaleHyperprior"\ncheckpoint = "{path}"\n'
        "[options.kwargs]\nN = 16\nM = 24\n")
    with pytest.raises(WeightsError, match=f"needs its SHA-256.*nohash.sha256={sha}"):
        build_codec(registry.codecs.get("nohash")).model_for("1")


def test_wrong_keys_are_refused_with_missing_and_unexpected_listed(specs: Path, tmp_path: Path) -> None:
    # a factorized-prior file given to a mean-scale hyperprior: the hyperprior's keys are missing
    path, sha, _ = _user_checkpoint(tmp_path, "FactorizedPrior")
    _user_spec(specs, "wrongarch", path, sha)
    with pytest.raises(WeightsError, match=r"does not fit MeanScaleHyperprior: missing keys: h_a\.0\.weight") as err:
        build_codec(registry.codecs.get("wrongarch")).model_for("1")
    assert "gaussian_conditional" not in str(err.value)  # CDF tables may be absent: they are rebuilt
    # extra keys are named as unexpected
    sd = torch.load(_user_checkpoint(tmp_path)[0], weights_only=True)
    sd["extra_head.weight"] = torch.zeros(3)
    extra = tmp_path / "extra.pth"
    torch.save(sd, extra)
    _user_spec(specs, "extra", extra, hashlib.sha256(extra.read_bytes()).hexdigest())
    with pytest.raises(WeightsError, match=r"unexpected keys: extra_head\.weight"):
        build_codec(registry.codecs.get("extra")).model_for("1")
    # same keys, other shapes: torch's size-mismatch message, as a WeightsError
    big, big_sha, _ = _user_checkpoint(tmp_path, n=24, m=24)
    _user_spec(specs, "shapes", big, big_sha)
    with pytest.raises(WeightsError, match="size mismatch"):
        build_codec(registry.codecs.get("shapes")).model_for("1")


def test_training_checkpoints_and_old_key_names_load(specs: Path, images: Path, tmp_path: Path) -> None:
    """A CompressAI training checkpoint ({'state_dict': …} with DataParallel prefixes and the
    pre-1.2.5 entropy-bottleneck names) loads into the same model."""
    _, _, model = _user_checkpoint(tmp_path)
    sd = {}
    for k, v in model.state_dict().items():
        k = k.replace("entropy_bottleneck.matrices.", "entropy_bottleneck._matrix")
        k = k.replace("entropy_bottleneck.biases.", "entropy_bottleneck._bias")
        k = k.replace("entropy_bottleneck.factors.", "entropy_bottleneck._factor")
        sd["module." + k] = v
    ckpt = tmp_path / "train.pth.tar"
    torch.save({"epoch": 3, "state_dict": sd, "aux_loss": torch.tensor(1.0)}, ckpt)
    _user_spec(specs, "trained", ckpt, hashlib.sha256(ckpt.read_bytes()).hexdigest())
    codec = build_codec(registry.codecs.get("trained"))
    image = smooth_image(33, 65)
    np.testing.assert_array_equal(codec.decode(codec.encode(image, 1).data), reference(model, image)[1])
    assert "[state_dict]" in codec.row_info("1")["weights"]


def test_zoo_pretrained_weights_offline_name_the_file_and_url(specs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    codec = build_codec(registry.codecs.get("bmshj2018-factorized"))
    with pytest.raises(WeightsError) as err:
        codec.model_for("3")
    text = str(err.value)
    assert "bmshj2018-factorized-prior-3-5c6f152b.pth.tar" in text
    assert "https://compressai.s3.amazonaws.com/models/v1/bmshj2018-factorized-prior-3-5c6f152b.pth.tar" in text
    assert "GCBENCH_OFFLINE" in text and "5c6f152b" in text
    # a file of that name with other content is refused, never used
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "bmshj2018-factorized-prior-3-5c6f152b.pth.tar").write_bytes(b"not the model")
    monkeypatch.setenv("GCBENCH_WEIGHTS", str(folder))
    with pytest.raises(WeightsError, match="wrong hash: expected SHA-256 prefix 5c6f152b"):
        codec.model_for("3")
    with pytest.raises(CodecError, match=r"qualities \[1, 2, 3, 4, 5, 6\], not '7'"):
        build_codec(registry.codecs.get("cheng2020-anchor")).model_for("7")


def test_zoo_with_a_local_checkpoint(specs: Path, tmp_path: Path) -> None:
    """A zoo codec pointed at a local file (path + SHA-256 on the command line, as --codec-option)."""
    model = _zoo_model("bmshj2018-factorized", 2, seed=5)
    path = tmp_path / "q2.pth.tar"
    torch.save(model.state_dict(), path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    spec = registry.codecs.get("bmshj2018-factorized").with_options(checkpoint=str(path), sha256={"2": sha})
    codec = build_codec(spec)
    image = smooth_image(20, 30)
    np.testing.assert_array_equal(codec.decode(codec.encode(image, 2).data), reference(model, image)[1])
    with pytest.raises(WeightsError, match="no entry for setting '3'"):
        codec.model_for("3")


# -- the plugin protocol and estimated bits -------------------------------------------------------


class RawLatentPlugin(torch.nn.Module):
    """A model without an entropy coder: int8 latents stored raw, bits estimated from a Gaussian."""

    pad_multiple = 4

    def __init__(self, sigma: float = 3.0) -> None:
        super().__init__()
        self.sigma = sigma
        self.g_a = torch.nn.Conv2d(3, 4, 4, stride=4)
        self.g_s = torch.nn.ConvTranspose2d(4, 3, 4, stride=4)

    def encode_bytes(self, x: torch.Tensor) -> dict:
        from gcbench.codecs.learned import bits_from_likelihoods

        y = torch.round(self.g_a(x) * 20).clamp(-127, 127)
        normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), self.sigma)
        yd = y.double()  # float32 CDF differences lose the tails
        likelihood = (normal.cdf(yd + 0.5) - normal.cdf(yd - 0.5)).clamp_min(1e-9)
        return {"data": y.to(torch.int8).numpy().tobytes(), "bits_estimate": bits_from_likelihoods({"y": likelihood})}

    def decode_bytes(self, data: bytes, shape: tuple[int, int]) -> torch.Tensor:
        h, w = shape
        y = np.frombuffer(data, dtype=np.int8).reshape(1, 4, h // 4, w // 4).astype(np.float32)
        return self.g_s(torch.from_numpy(y) / 20)


class NotAPlugin(torch.nn.Module):
    def encode_bytes(self, x: torch.Tensor) -> bytes:
        return b""


@pytest.fixture
def plugin_module(monkeypatch: pytest.MonkeyPatch) -> str:
    module = types.ModuleType("gcbench_test_plugins")
    module.RawLatentPlugin = RawLatentPlugin
    module.NotAPlugin = NotAPlugin
    monkeypatch.setitem(sys.modules, "gcbench_test_plugins", module)
    return "gcbench_test_plugins"


def test_plugin_without_entropy_coder_gives_estimated_bpp(specs: Path, images: Path, tmp_path: Path, plugin_module: str) -> None:
    from scipy.stats import norm

    torch.manual_seed(0)
    model = RawLatentPlugin().eval()
    path = tmp_path / "plugin.pth"
    torch.save(model.state_dict(), path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    _add_spec(
        specs / "plug.toml",
        'adapter = "learned-plugin"\nrate_param = "model"\nrate_increases_with_setting = true\nsettings = [1]\n'
        f'[options]\nmodel = "{plugin_module}:RawLatentPlugin"\ncheckpoint = "{path}"\nsha256 = "{sha}"\n'
        'pad_mode = "replicate"\n')
    out = tmp_path / "out"
    report = _run(images, out, ["plug"])
    assert report.n_ok == len(SIZES) and not report.failed
    for _, row in _rows(out).iterrows():
        original = np.asarray(Image.open(images / row["image"]).convert("RGB"))
        h, w = original.shape[:2]
        # the estimate, independently: replicate-pad (centred) to 4, latents, Gaussian bits via scipy
        top, left = ((-h) % 4) // 2, ((-w) % 4) // 2
        x = torch.from_numpy(np.array(original)).permute(2, 0, 1).unsqueeze(0).float() / 255
        x = F.pad(x, (left, (-w) % 4 - left, top, (-h) % 4 - top), mode="replicate")
        with torch.no_grad():
            y = torch.round(model.g_a(x) * 20).clamp(-127, 127).numpy().astype(np.float64)
            recon = model.g_s(torch.from_numpy(y.astype(np.float32)) / 20)[0, :, top:top + h, left:left + w]
        p = np.maximum(norm.cdf(y + 0.5, scale=3.0) - norm.cdf(y - 0.5, scale=3.0), 1e-9)
        bits = -np.log2(p).sum()
        assert row["bpp_kind"] == "estimated"
        assert row["bpp"] == pytest.approx(bits / (h * w), rel=1e-9)
        data = _bitstream(out, row["key"])
        assert row["n_bytes"] == len(data) and container.string_bytes(container.unpack(data)) == y.size
        expected = np.rint(recon.clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        np.testing.assert_array_equal(build_codec(registry.codecs.get("plug")).decode(data), expected)
    assert (summary_table(out)["bpp_kind"] == "estimated").all()  # what plots mark


def test_plugin_protocol_is_checked(specs: Path, plugin_module: str) -> None:
    spec = spec_from_dict({"adapter": "learned-plugin", "rate_param": "model", "settings": [1],
                           "rate_increases_with_setting": True,
                           "options": {"model": f"{plugin_module}:NotAPlugin", "random_weights": True}},
                          default_name="bad")
    with pytest.raises(PluginError, match=r"lacks \['decode_bytes'\]"):
        build_codec(spec).model_for("1")
    with pytest.raises(ConfigError, match="package.module:Class"):
        build_codec(spec.with_options(model="NotAPlugin"))


# -- options, the CLI flags, devices ----------------------------------------------------------------


def test_random_weights_flag_reaches_learned_codecs_and_every_row(specs: Path, images: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = cli_main(["run", "--codec", "bmshj2018-factorized@1", "--dataset", str(images), "--out", str(out),
                     "--metric", "psnr", "--random-weights", "--no-progress", "--no-outputs"])
    assert code == 0
    df = _rows(out)
    assert len(df) == len(SIZES) and (df["status"] == "ok").all()
    assert all(v["weights"].startswith("RANDOM INIT seed=0") for v in df["codec_versions"])
    assert all(p["random_weights"] is True for p in df["provenance"])
    # without the flag the same codec needs real weights: offline the run stops before any work,
    # and a codec used directly raises naming the file
    out2 = tmp_path / "out2"
    assert cli_main(["run", "--codec", "bmshj2018-factorized@1", "--dataset", str(images), "--out", str(out2),
                     "--metric", "psnr", "--no-progress", "--no-outputs"]) == 2
    assert not out2.exists()
    from gcbench.core.errors import WeightsError
    from gcbench.codecs.registry import get_codec

    with pytest.raises(WeightsError, match="bmshj2018-factorized-prior-1-446d5c7f.pth.tar"):
        get_codec("bmshj2018-factorized").encode(np.zeros((8, 8, 3), np.uint8), 1)
    # a classical codec does not take the flag
    assert cli_main(["run", "--codec", "jpeg", "--dataset", str(images), "--out", str(tmp_path / "o3"),
                     "--random-weights"]) == 2


def test_flags_imply_options_only_for_learned_codecs() -> None:
    from gcbench.codecs.learned import with_learned_flags

    out = with_learned_flags(["mbt2018@1,2", "jpeg"],
                             {"mbt2018": {"device": "cuda:1"}, "jpeg": {"save": {"optimize": True}}}, device="cuda")
    assert out == {"mbt2018": {"device": "cuda:1"}, "jpeg": {"save": {"optimize": True}}}  # explicit option wins
    out = with_learned_flags(["mbt2018", "cheng2020-attn"], {}, random_weights=True, device="cuda")
    assert out == {"mbt2018": {"random_weights": True, "device": "cuda"},
                   "cheng2020-attn": {"random_weights": True, "device": "cuda"}}


def test_cuda_without_a_gpu_is_unavailable_before_any_work(specs: Path, images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    _zoo_spec(specs, "zoo-test", "bmshj2018-factorized", 'device = "cuda"\n')
    with pytest.raises(UnavailableError, match="torch sees no CUDA GPU"):
        _run(images, tmp_path / "out", ["zoo-test"])
    assert not (tmp_path / "out").exists()


def test_without_compressai_the_codec_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "compressai" else real(name, *a))
    avail = build_codec(registry.codecs.get("mbt2018")).available()
    assert not avail and "compressai" in avail.reason and avail.hint == "pip install 'gcbench[learned]'"


@pytest.mark.parametrize("bad", [{"device": "tpu"}, {"pad_mode": "wrap"}, {"pad_align": "left"}, {"metric": "psnr"},
                                 {"architecture": "mbt2019"}, {"random_weights": True, "checkpoint": "x.pth"},
                                 {"random_weights": "maybe"}, {"stages": {"g_a": "encoding"}}])
def test_bad_options_are_config_errors(bad: dict) -> None:
    with pytest.raises(ConfigError):
        build_codec(registry.codecs.get("mbt2018").with_options(**bad))


def test_zoo_specs_cover_every_published_model() -> None:
    from compressai.zoo.image import cfgs, model_urls

    zoo = {n: registry.codecs.get(n) for n in registry.codecs.names() if registry.codecs.get(n).adapter == "compressai"}
    pairs = {(s.options["architecture"], s.options["metric"]) for s in zoo.values()}
    assert pairs == {(a, m) for a in ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "mbt2018",
                                      "cheng2020-anchor", "cheng2020-attn") for m in ("mse", "ms-ssim")}
    for spec in zoo.values():
        arch, metric = spec.options["architecture"], spec.options["metric"]
        assert list(spec.settings) == sorted(cfgs[arch]) == sorted(model_urls[arch][metric])


def test_zoo_tables_read_without_torch_equal_compressais_own(tmp_path: Path) -> None:
    """The qualities and file URLs read from CompressAI's source are the ones its module defines; a
    source that is not plain literals falls back to importing it."""
    import ast

    from compressai.zoo.image import cfgs, model_urls

    from gcbench.codecs.learned import zoo

    zoo.zoo_tables.cache_clear()
    assert zoo.zoo_tables() == {"cfgs": cfgs, "model_urls": model_urls}
    with pytest.raises(ValueError):
        zoo._literal_tables(ast.parse("root_url = base()\ncfgs = {}\nmodel_urls = {1: f'{root_url}/x'}\n"))
    code = ("import sys\nfrom gcbench.codecs.learned.zoo import zoo_tables\n"
            "t = zoo_tables()\nprint(sorted(t['cfgs']['mbt2018']), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["[1,", "2,", "3,", "4,", "5,", "6,", "7,", "8]", "False"], out.stderr[-2000:]


def test_neuralcompression_unavailable_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "neuralcompression" else real(name, *a))
    avail = build_codec(registry.codecs.get("neuralcompression-msillm")).available()
    assert not avail
    assert "scipy<=1.11.1" in avail.reason and "pip install --no-deps neuralcompression" in avail.hint
    with pytest.raises(UnavailableError, match="scipy<=1.11.1"):
        run(RunConfig(codecs=["neuralcompression-msillm"], dataset="sample", out="/nonexistent/never", progress=False))


def test_missing_pretrained_file_fails_before_any_work(tmp_path, capsys) -> None:
    from gcbench.cli import main

    out = tmp_path / "o"
    code = main(["run", "--codec", "bmshj2018-factorized@1,2", "--dataset", "sample", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "bmshj2018-factorized-prior-1-446d5c7f.pth.tar" in err and "https://" in err
    assert not out.exists()  # nothing was started


def test_learned_codec_bits_per_region_from_its_likelihoods(specs: Path, tmp_path: Path) -> None:
    """roi-bits on a CompressAI model: the map sums to −log2 of all likelihoods of the forward pass."""
    from gcbench.codecs.learned import pad_amounts, pad_tensor
    from gcbench.metrics.region import codec_bits_map

    _zoo_spec(specs, "zoo-bits", "bmshj2018-factorized")
    from gcbench.codecs.registry import get_codec

    codec = get_codec("zoo-bits")
    img = smooth_image(40, 70, seed=9)
    bits = codec_bits_map(codec, img, 1, None)
    assert bits.shape == (40, 70) and (bits >= 0).all()
    model = codec.model_for("1")
    x = pad_tensor(codec.to_tensor(img), pad_amounts(40, 70, 64, "center"), "constant")
    with torch.no_grad():
        lk = model(x)["likelihoods"]
    expected = sum(float(-torch.log2(v).sum()) for v in lk.values())
    assert bits.sum() == pytest.approx(expected, rel=1e-6)  # float32 likelihoods summed in float64
    # the estimate is close to the real entropy-coded size
    real = 8 * len(codec.encode(img, 1).data)
    assert abs(expected - real) / real < 0.25
