"""Contract over every shipped spec in codecs/: it loads, declares its rate axis, builds, its
default sweep is on that axis, and it round-trips a real image here — or, where its program or
package is missing, says why and how to get it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gcbench.codecs.base import Encoded
from gcbench.codecs.spec import adapter_class, build_codec, load_spec
from gcbench.core.errors import UnavailableError

SPEC_DIR = Path(__file__).resolve().parents[2] / "codecs"
SPECS = sorted(p.stem for p in SPEC_DIR.glob("*.toml"))
# Built from source or an extra package, so absent from this machine (see their install hints);
# everything else must round-trip here, so a lost program fails instead of going untested.
NOT_HERE = {"bpg", "bpg420", "vtm", "hm", "vvenc", "neuralcompression-msillm"}
CROP = (slice(200, 264), slice(300, 396))  # 64×96 of a Kodak image: every codec stays quick
LEARNED_ADAPTERS = {"compressai", "gan", "neuralcompression", "learned-model", "learned-plugin"}


def _round_trip_params() -> list:
    """Every spec; the learned ones (a model built and run on the CPU: 10–30 s each) marked slow."""
    out = []
    for name in SPECS:
        learned = load_spec(SPEC_DIR / f"{name}.toml").adapter in LEARNED_ADAPTERS and name not in NOT_HERE
        out.append(pytest.param(name, marks=pytest.mark.slow) if learned else name)
    return out


@pytest.fixture(scope="module")
def image(kodak_dir: Path) -> np.ndarray:
    with Image.open(kodak_dir / "kodim20.png") as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB"))[CROP])


def _ready_codec(name: str):
    spec = load_spec(SPEC_DIR / f"{name}.toml")
    if getattr(adapter_class(spec), "accepts_random_weights", False):
        # no pretrained weights offline: the real model and entropy coder, untrained
        spec = spec.with_options(random_weights=True)
    return spec, build_codec(spec)


def _test_setting(spec, random_weights: bool) -> object:
    """The highest-rate default setting; for an untrained model the first (the smallest model)."""
    if random_weights:
        return spec.settings[0]
    return max(spec.settings) if spec.rate_increases_with_setting else min(spec.settings)


def test_the_list_of_specs_is_what_the_folder_holds() -> None:
    assert len(SPECS) >= 40 and "ffmpeg-jpeg2000" in SPECS and NOT_HERE <= set(SPECS)


@pytest.mark.parametrize("name", SPECS)
def test_spec_declares_its_axis_and_its_defaults_are_on_it(name: str) -> None:
    spec = load_spec(SPEC_DIR / f"{name}.toml")
    assert spec.rate_axis.declared, f"{name} declares no rate axis (setting_type, setting_min/max or choices)"
    for setting in spec.settings:
        spec.check_setting(setting)
    build_codec(spec)  # adapter options are checked here


@pytest.mark.parametrize("name", _round_trip_params())
def test_spec_round_trips_a_real_image_or_says_why_not(name: str, image: np.ndarray) -> None:
    spec, codec = _ready_codec(name)
    avail = codec.available()
    if name in NOT_HERE:
        assert not avail and avail.reason and avail.hint, f"{name}: {avail.describe()}"
        if spec.adapter == "external":
            with pytest.raises(UnavailableError, match="cannot run here: .*To fix: "):
                codec.encode(image, spec.settings[0])
        return
    assert avail, f"{name} should run here: {avail.describe()}"
    codec.prepare()
    random_weights = bool(codec.spec.options.get("random_weights"))
    setting = _test_setting(spec, random_weights)
    out = codec.encode(image, setting)
    encoded = out if isinstance(out, Encoded) else Encoded(bytes(out))
    assert len(encoded.data) > 0
    decoded = codec.decode(encoded.data, image.shape[:2])
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    np.testing.assert_array_equal(codec.decode(encoded.data, image.shape[:2]), decoded)  # decoding is repeatable
    if random_weights:
        # untrained: no quality to expect, but the payload is the strings inside the file
        assert encoded.payload_bytes is not None and 0 < encoded.payload_bytes
        return
    assert encoded.payload_bytes is None  # a classical file is all payload
    mse = float(np.mean((image.astype(np.float64) - decoded.astype(np.float64)) ** 2))
    psnr = math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
    assert psnr > 30, f"{name}@{setting}: {psnr:.2f} dB at its highest-rate default setting"
