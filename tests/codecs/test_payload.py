"""Payload bytes (``bpp_payload``): what a learned codec's own evaluation counts, beside the file.

CompressAI counts its entropy-coded strings (``compressai.utils.eval_model``); NeuralCompression's
MS-ILLM evaluation pickles the ``HyperpriorCompressedOutput`` of ``HiFiCAutoencoder.compress``.
gcbench's file adds its container to the strings; classical codecs have no payload apart from the file.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gcbench.codecs.registry import get_codec

KODAK = "kodim20.png"  # 768×512


def _kodak(kodak_dir: Path) -> np.ndarray:
    with Image.open(kodak_dir / KODAK) as im:
        return np.asarray(im.convert("RGB"))


def _capture_compress(codec: Any, setting: str) -> list[dict[str, Any]]:
    """Record what the model's ``compress`` returns while gcbench encodes."""
    model = codec.model_for(setting)
    seen: list[dict[str, Any]] = []
    original = model.compress

    def compress(x: Any) -> Any:
        out = original(x)
        seen.append(out)
        return out

    model.compress = compress
    return seen


def _varint_len(value: int) -> int:
    return max(1, -(-value.bit_length() // 7))


def _container_overhead(tag: str, size: tuple[int, int], strings: list[list[bytes]], shape: list[int]) -> int:
    """The container's bytes around the strings, from its documented layout (gcbench.codecs.container)."""
    head = 4 + 1 + _varint_len(len(tag.encode())) + len(tag.encode()) + _varint_len(size[0]) + _varint_len(size[1])
    shape_bytes = 1 + _varint_len(len(shape)) + sum(1 + _varint_len(2 * v) for v in shape)  # list tag, ints zigzagged
    groups = _varint_len(len(strings)) + sum(_varint_len(len(g)) + sum(_varint_len(len(s)) for s in g) for g in strings)
    return head + shape_bytes + groups + 4  # CRC-32


@pytest.mark.slow  # builds and runs a CompressAI model on a Kodak image on the CPU
def test_compressai_zoo_payload_is_compressais_own_count(kodak_dir: Path) -> None:
    import torch
    from compressai.utils.eval_model.__main__ import inference

    rgb = _kodak(kodak_dir)
    codec = get_codec("bmshj2018-hyperprior", random_weights=True)
    seen = _capture_compress(codec, "1")
    encoded = codec.encode(rgb, 1)
    (out,) = seen
    # compressai.utils.eval_model: bpp = sum(len(s[0]) for s in out_enc["strings"]) * 8.0 / num_pixels
    assert encoded.payload_bytes == sum(len(s[0]) for s in out["strings"])
    # and CompressAI's whole evaluation of the same model on the same image (its padding, its compress)
    x = torch.from_numpy(np.array(rgb)).permute(2, 0, 1).float().div(255.0)
    model = codec.model_for("1")
    model.compress = type(model).compress.__get__(model)  # the plain method again
    reference = inference(model, x)
    assert encoded.payload_bytes * 8.0 / (rgb.shape[0] * rgb.shape[1]) == reference["bpp"]

    strings = [[bytes(s) for s in group] for group in out["strings"]]
    overhead = len(encoded.data) - encoded.payload_bytes
    assert overhead == _container_overhead("1", rgb.shape[:2], strings, list(out["shape"]))


def _import_neuralcompression_output(root: Path) -> Any:
    """NeuralCompression's ``HyperpriorCompressedOutput`` at its own module path (the field list of
    neuralcompression/_outputs/_hyperprior_output.py), importable so that pickle can name it."""
    package = root / "neuralcompression" / "_outputs"
    package.mkdir(parents=True)
    (root / "neuralcompression" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "_hyperprior_output.py").write_text(
        "from typing import List, NamedTuple, Tuple, Union\n\n\n"
        "class HyperpriorCompressedOutput(NamedTuple):\n"
        "    latent_strings: Union[List[str], List[List[str]]]\n"
        "    hyper_latent_strings: List[str]\n"
        "    image_size: Tuple[int, int]\n"
        "    padded_size: Tuple[int, int]\n"
    )
    sys.path.insert(0, str(root))
    try:
        from neuralcompression._outputs._hyperprior_output import HyperpriorCompressedOutput
    finally:
        sys.path.remove(str(root))
    return HyperpriorCompressedOutput


@pytest.fixture
def nc_output(tmp_path: Path):
    """The class, with every trace of the stand-in package removed afterwards."""
    try:
        yield _import_neuralcompression_output(tmp_path)
    finally:
        for name in [m for m in sys.modules if m == "neuralcompression" or m.startswith("neuralcompression.")]:
            del sys.modules[name]


def pickle_size_of(obj: Any) -> int:
    """neuralcompression.metrics.pickle_size_of: the length of pickle.dump(obj, BytesIO())."""
    import io

    buffer = io.BytesIO()
    pickle.dump(obj, buffer)
    return buffer.getbuffer().nbytes


@pytest.mark.parametrize("sizes", [(40, 20), (300, 20), (5000, 300), (70_000, 400), (200_000, 70_000)])
def test_neuralcompression_count_equals_pickle_size_of(nc_output: Any, sizes: tuple[int, int]) -> None:
    from gcbench.codecs.gan.neuralcompression import neuralcompression_payload_bytes

    rng = np.random.default_rng(sizes[0])
    y, z = (rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in sizes)
    # HiFiCAutoencoder.compress builds the two sizes separately: equal, but two tuples to pickle
    height, width = (int(v) for v in rng.integers(300, 900, 2))
    compressed = nc_output(latent_strings=[y], hyper_latent_strings=[z], image_size=(height, width),
                           padded_size=(-(-height // 64) * 64, -(-width // 64) * 64))
    unpadded = nc_output([y], [z], (height, width), (int(height), int(width)))  # an image of a multiple of 64
    ours = neuralcompression_payload_bytes
    assert ours([y], [z], (height, width), compressed.padded_size) == pickle_size_of(compressed)
    assert ours([y], [z], (height, width), (height, width)) == pickle_size_of(unpadded)


def test_hific_payload_is_neuralcompressions_count(nc_output: Any, kodak_dir: Path) -> None:
    rgb = np.ascontiguousarray(_kodak(kodak_dir)[200:264, 300:396])  # padded to 64×128 as NeuralCompression does
    codec = get_codec("msillm", random_weights=True)
    seen = _capture_compress(codec, "3")
    encoded = codec.encode(rgb, 3)
    (out,) = seen
    y, z = out["strings"]
    compressed = nc_output(latent_strings=list(y), hyper_latent_strings=list(z), image_size=(64, 96),
                           padded_size=(64, 128))
    assert encoded.payload_bytes == pickle_size_of(compressed)
    assert 115 < encoded.payload_bytes - sum(len(s) for s in [*y, *z]) < 130  # the pickle's own bytes


def test_classical_codecs_have_no_separate_payload(kodak_dir: Path) -> None:
    rgb = _kodak(kodak_dir)[:64, :64]
    for name in ("jpeg", "cwebp"):
        out = get_codec(name).encode(rgb, 50)
        assert getattr(out, "payload_bytes", None) is None


@pytest.mark.slow  # a learned model through a whole run on the CPU
def test_a_run_stores_payload_bytes_beside_the_file(kodak_dir: Path, tmp_path: Path) -> None:
    """The worker copies the codec's count into the row: bpp_payload for learned codecs, bpp for classical."""
    from gcbench.execution.runner import RunConfig, run
    from gcbench.results.views import per_image

    folder = tmp_path / "img"
    folder.mkdir()
    Image.fromarray(_kodak(kodak_dir)[:128, :192]).save(folder / "crop.png")
    out = tmp_path / "out"
    report = run(RunConfig(codecs=["bmshj2018-factorized@1", "jpeg@50"], dataset=str(folder), out=out,
                           metrics=["psnr"], codec_options={"bmshj2018-factorized": {"random_weights": True}},
                           progress=False, write_outputs=False))
    assert report.n_ok == 2
    rows = per_image(out).set_index("codec")
    learned, jpeg = rows.loc["bmshj2018-factorized"], rows.loc["jpeg"]
    codec = get_codec("bmshj2018-factorized", random_weights=True)
    expected = codec.encode(np.asarray(Image.open(folder / "crop.png").convert("RGB")), 1)
    assert learned.payload_bytes == expected.payload_bytes and learned.n_bytes == len(expected.data)
    assert learned.bpp_payload == pytest.approx(8 * expected.payload_bytes / (128 * 192), rel=1e-12)
    assert learned.bpp_payload < learned.bpp
    assert jpeg.payload_bytes is None or np.isnan(jpeg.payload_bytes)
    assert jpeg.bpp_payload == jpeg.bpp
