"""The architecture zoo: one record per generative-codec architecture.

Names (``names()``):

=====================  ==========================================================================
``hific``              HiFiC, Mentzer et al. 2020 (also the MS-ILLM architecture, Muckley et al. 2023)
``agustsson2019``      GC generator and encoder of Agustsson et al. 2019, C = 8, L = 5
``pix2pixhd-global``   pix2pixHD global generator G1, Wang et al. 2018
``fgc-updown``         Dalal et al.'s Extra-Layer: G1 with one more down/up-sampling pair (d2048, R2048 ×9)
``fgc-dense-N-k``      Dalal et al.'s Dense-N-k: G1 with its 9 residual blocks replaced by a dense block
                       of N bottleneck layers, growth rate k (any N, k; 9-32, 9-4, 9-128, 6-32, 18-32 listed)
=====================  ==========================================================================

Every model follows CompressAI's ``compress``/``decompress`` convention and exposes
``pad_multiple`` and ``generator_input(H, W)`` (the tensor its generator sees for an H×W image,
for timing the generator alone). ``key_patterns`` documents each state dict: every key of the
model matches one pattern and every pattern matches a key (the tests check both), so the
documentation cannot drift from the code.

This module imports nothing heavy; :func:`build` imports the architecture's module (torch,
CompressAI for the hyperprior ones).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gcbench.core.errors import ConfigError, UnknownNameError

# CompressAI ≥ 1.2.5 names; older files (``_matrix0``, …) are renamed on load by CompressAI
_ENTROPY_BOTTLENECK = ("quantiles", "matrices.*", "biases.*", "factors.*", "target", "likelihood_lower_bound.bound",
                       "_quantized_cdf", "_offset", "_cdf_length")
_GAUSSIAN = ("scale_table", "scale_bound", "likelihood_lower_bound.bound", "lower_bound_scale.bound",
             "_quantized_cdf", "_offset", "_cdf_length")

_HIFIC_COMMON = (
    "encoder.blocks.*.0.weight", "encoder.blocks.*.0.bias", "encoder.blocks.*.1.gamma", "encoder.blocks.*.1.beta",
    "encoder.blocks.*.weight", "encoder.blocks.*.bias",
    "decoder.block_0.*.gamma", "decoder.block_0.*.beta", "decoder.block_0.1.weight", "decoder.block_0.1.bias",
    "decoder.blocks.*.0.weight", "decoder.blocks.*.0.bias", "decoder.blocks.*.1.gamma", "decoder.blocks.*.1.beta",
    "decoder.blocks.*.weight", "decoder.blocks.*.bias",
    "hyper_analysis.*.weight", "hyper_analysis.*.bias",
    "hyper_synthesis_mean.*.weight", "hyper_synthesis_mean.*.bias",
    "hyper_synthesis_scale.*.weight", "hyper_synthesis_scale.*.bias",
    *(f"hyper_bottleneck.{k}" for k in _ENTROPY_BOTTLENECK),
    *(f"latent_bottleneck.{k}" for k in _GAUSSIAN),
)
_RESIDUAL = ("decoder.resid_blocks.*.sequence.*.weight", "decoder.resid_blocks.*.sequence.*.bias",
             "decoder.resid_blocks.*.sequence.*.gamma", "decoder.resid_blocks.*.sequence.*.beta")
_G1 = ("generator.model.*.weight", "generator.model.*.bias")
_G1_RESIDUAL = ("generator.model.*.conv_block.*.weight", "generator.model.*.conv_block.*.bias")
_G1_DENSE = ("generator.model.16.layers.*.conv1.weight", "generator.model.16.layers.*.conv1.bias",
             "generator.model.16.layers.*.conv2.weight", "generator.model.16.layers.*.conv2.bias",
             "generator.model.16.transition.2.weight", "generator.model.16.transition.2.bias")


@dataclass(frozen=True)
class Architecture:
    name: str
    builder: str  # "module:function" inside gcbench.codecs.gan
    paper: str
    summary: str
    key_patterns: tuple[str, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self, **overrides: Any) -> Any:
        from gcbench.core.registry import import_target

        return import_target(self.builder)(**{**self.kwargs, **overrides})


_HIFIC_PAPER = "Mentzer, Toderici, Tschannen, Agustsson: High-Fidelity Generative Image Compression, NeurIPS 2020"
_FGC_PAPER = ("Dalal, Sardana, Jiang: Towards Fast Generative Image Compression (variants of the pix2pixHD global "
              "generator of Wang et al., CVPR 2018)")

ARCHITECTURES: dict[str, Architecture] = {
    "hific": Architecture(
        "hific", "gcbench.codecs.gan.hific:hific", _HIFIC_PAPER,
        "HiFiC encoder (c7s1-60, d120…d960, C_y=220), mean-scale hyperprior (320), generator with 9 residual blocks",
        _HIFIC_COMMON + _RESIDUAL,
    ),
    "agustsson2019": Architecture(
        "agustsson2019", "gcbench.codecs.gan.agustsson:agustsson2019",
        "Agustsson, Tschannen, Mentzer, Timofte, Van Gool: Generative Adversarial Networks for Extreme "
        "Learned Image Compression, ICCV 2019",
        "GC: encoder c7s1-60,d120…d960,c3s1-C; L=5 quantizer, fixed-length code; generator c3s1-960, R960×9, u480…u60, c7s1-3",
        ("encoder.*.weight", "encoder.*.bias", "generator.*.weight", "generator.*.bias",
         "generator.*.conv_block.*.weight", "generator.*.conv_block.*.bias"),
    ),
    "pix2pixhd-global": Architecture(
        "pix2pixhd-global", "gcbench.codecs.gan.pix2pixhd:pix2pixhd_global",
        "Wang, Liu, Zhu, Tao, Kautz, Catanzaro: High-Resolution Image Synthesis and Semantic Manipulation "
        "with Conditional GANs, CVPR 2018",
        "global generator G1: c7s1-64, d128…d1024, R1024×9, u512…u64, c7s1-3 (decoding an L=4 full-resolution map)",
        _G1 + _G1_RESIDUAL,
    ),
    "fgc-updown": Architecture(
        "fgc-updown", "gcbench.codecs.gan.pix2pixhd:pix2pixhd_global", _FGC_PAPER,
        "Extra-Layer: G1 with one more down/up-sampling pair, widths doubling as in pix2pixHD "
        "(c7s1-64, d128…d2048, R2048×9, u1024…u64, c7s1-3)",
        _G1 + _G1_RESIDUAL, {"n_downsampling": 5},
    ),
}

_DENSE_NAME = re.compile(r"^fgc-dense-(\d+)-(\d+)$")
SHOWN_DENSE = ("fgc-dense-9-32", "fgc-dense-9-4", "fgc-dense-9-128", "fgc-dense-6-32", "fgc-dense-18-32")


def _dense(name: str, n: int, k: int) -> Architecture:
    return Architecture(
        name, "gcbench.codecs.gan.pix2pixhd:pix2pixhd_global", _FGC_PAPER,
        f"Dense-{n}-{k}: G1 with its 9 residual blocks replaced by a dense block of {n} bottleneck layers "
        f"(growth rate {k}) and a 1×1 transition back to 1024 channels",
        _G1 + _G1_DENSE, {"dense_layers": n, "growth": k},
    )


def names() -> list[str]:
    """The architectures listed by default (``fgc-dense-N-k`` accepts any N, k)."""
    return list(ARCHITECTURES) + list(SHOWN_DENSE)


def get(name: str) -> Architecture:
    """The architecture of that name (``fgc-dense-N-k`` for any N, k); UnknownNameError suggests names."""
    if name in ARCHITECTURES:
        return ARCHITECTURES[name]
    m = _DENSE_NAME.match(name)
    if m:
        n, k = int(m.group(1)), int(m.group(2))
        if n < 1 or k < 1:
            raise ConfigError(f"{name}: N and k must be at least 1")
        return _dense(name, n, k)
    import difflib

    valid = names() + ["fgc-dense-N-k"]
    raise UnknownNameError("GAN architecture", name, difflib.get_close_matches(name, valid, n=3, cutoff=0.5), valid)


def build(name: str, **overrides: Any) -> Any:
    """A randomly initialised model of architecture ``name`` (load a checkpoint into it for real use)."""
    return get(name).build(**overrides)


def keys_match(keys: list[str], patterns: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(keys no pattern documents, patterns no key matches)."""
    import fnmatch

    undocumented = [k for k in keys if not any(fnmatch.fnmatchcase(k, p) for p in patterns)]
    unused = [p for p in patterns if not any(fnmatch.fnmatchcase(k, p) for k in keys)]
    return undocumented, unused
