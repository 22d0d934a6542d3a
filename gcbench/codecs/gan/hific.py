"""HiFiC (Mentzer et al. 2020, "High-Fidelity Generative Image Compression").

Encoder E (paper Fig. 2): ``c7s1-60, d120, d240, d480, d960`` with ChannelNorm and ReLU, then
conv3×3 to the latent width C_y = 220. Generator G: ChannelNorm, conv3×3 to 960, ChannelNorm,
9 residual blocks (with a skip around the whole stack), ``u480, u240, u120, u60`` (transposed
convs, ChannelNorm, ReLU), conv7×7 to RGB. Probability model: the mean-scale hyperprior of
Minnen et al. 2018 without context — h_a = conv3×3 s1, conv5×5 s2, conv5×5 s2 (320 channels,
ReLU between), two synthesis heads (means, scales) of the mirrored layers, a factorized
entropy bottleneck on z and a Gaussian conditional on y. The latent is at 1/16 and the
hyper-latent at 1/64 of the image size, so inputs are padded to a multiple of 64.

Layer names and shapes follow NeuralCompression's ``HiFiCAutoencoder``, so its checkpoints —
including the MS-ILLM weights (Muckley et al. 2023), which use that class — load as they are.
State-dict keys (``{i}`` are indices):

- ``encoder.blocks.{0-4}.0.weight|bias`` convs, ``encoder.blocks.{0-4}.1.gamma|beta`` norms,
  ``encoder.blocks.5.weight|bias`` the latent conv;
- ``decoder.block_0.{0,2}.gamma|beta``, ``decoder.block_0.1.weight|bias``;
  ``decoder.resid_blocks.{i}.sequence.{0,3}.weight|bias``, ``….sequence.{1,4}.gamma|beta``;
  ``decoder.blocks.{j}.0.weight|bias`` transposed convs, ``decoder.blocks.{j}.1.gamma|beta``,
  ``decoder.blocks.{last}.weight|bias`` the RGB conv;
- ``hyper_analysis.{0,2,4}.weight|bias``, ``hyper_synthesis_mean.{0,2,4}.weight|bias``,
  ``hyper_synthesis_scale.{0,2,4}.weight|bias``;
- ``hyper_bottleneck.*`` (CompressAI ``EntropyBottleneck``: ``quantiles``, ``matrices.{i}``,
  ``biases.{i}``, ``factors.{i}``, ``target``, ``likelihood_lower_bound.bound``, and the CDF
  tables ``_quantized_cdf``, ``_offset``, ``_cdf_length``; files written by CompressAI < 1.2.5 say
  ``_matrix{i}``/``_bias{i}``/``_factor{i}`` and are renamed on load) and ``latent_bottleneck.*``
  (``GaussianConditional``: ``scale_table``, ``scale_bound``, ``likelihood_lower_bound.bound``,
  ``lower_bound_scale.bound`` and the CDF tables). Missing CDF tables are rebuilt on load.

``encoder_channels`` sets the encoder's widths (the generator mirrors them); one entry more adds
a down/up-sampling pair. The fast generative compression variants (Dalal et al.) are built on
pix2pixHD's G1, not on HiFiC: see :mod:`gcbench.codecs.gan.pix2pixhd`.

The model follows CompressAI's convention: inputs in [0, 1], ``compress(x) -> {"strings",
"shape"}``, ``decompress(strings, shape) -> {"x_hat"}``. gcbench's adapter times the
``encoder`` (analysis), ``hyper_*`` (hyper), ``decoder`` (synthesis) and the rest (entropy coding).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.models import CompressionModel
from torch import Tensor, nn

from gcbench.codecs.gan.layers import ChannelNorm2d, HiFiCResidualBlock

HIFIC_CHANNELS = (60, 120, 240, 480, 960)


class HiFiCEncoder(nn.Module):
    def __init__(self, in_channels: int = 3, latent_features: int = 220,
                 channels: Sequence[int] = HIFIC_CHANNELS) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        cin = in_channels
        for index, cout in enumerate(channels):
            if index == 0:
                conv = nn.Conv2d(cin, cout, kernel_size=7, padding=3)
            else:
                conv = nn.Conv2d(cin, cout, kernel_size=3, stride=2, padding=1)
            blocks.append(nn.Sequential(conv, ChannelNorm2d(cout), nn.ReLU()))
            cin = cout
        blocks.append(nn.Conv2d(cin, latent_features, kernel_size=3, padding=1))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(x)


class HiFiCGenerator(nn.Module):
    """HiFiC's generator: the latent to the widest width, residual blocks with a skip around them all, up-sampling."""

    def __init__(self, image_channels: int = 3, latent_features: int = 220,
                 channels: Sequence[int] = HIFIC_CHANNELS, num_residual_blocks: int = 9) -> None:
        super().__init__()
        filters = list(reversed(list(channels)))
        width = filters[0]
        self.block_0 = nn.Sequential(
            ChannelNorm2d(latent_features),
            nn.Conv2d(latent_features, width, kernel_size=3, padding=1),
            ChannelNorm2d(width),
        )
        self.resid_blocks = nn.Sequential(*[HiFiCResidualBlock(width) for _ in range(int(num_residual_blocks))])
        blocks: list[nn.Module] = []
        cin = width
        for cout in filters[1:]:  # the mirror of the encoder: one up-sampling per down-sampling
            blocks.append(nn.Sequential(
                nn.ConvTranspose2d(cin, cout, kernel_size=3, stride=2, padding=1, output_padding=1),
                ChannelNorm2d(cout),
                nn.ReLU(),
            ))
            cin = cout
        blocks.append(nn.Conv2d(cin, image_channels, kernel_size=7, padding=3))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        x = self.block_0(x)
        x = x + self.resid_blocks(x)
        return self.blocks(x)


def _conv(cin: int, cout: int, kernel_size: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=kernel_size, stride=stride, padding=kernel_size // 2)


def _deconv(cin: int, cout: int, kernel_size: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, kernel_size=kernel_size, stride=stride, output_padding=1,
                              padding=kernel_size // 2)


def _hyper_synthesis(hyper: int, latent: int) -> nn.Sequential:
    return nn.Sequential(_deconv(hyper, hyper), nn.ReLU(inplace=True), _deconv(hyper, hyper), nn.ReLU(inplace=True),
                         _conv(hyper, latent, stride=1, kernel_size=3))


class HiFiC(CompressionModel):
    """Encoder, generator and mean-scale hyperprior of HiFiC."""

    def __init__(self, latent_features: int = 220, hyper_features: int = 320, num_residual_blocks: int = 9,
                 encoder_channels: Sequence[int] = HIFIC_CHANNELS, in_channels: int = 3) -> None:
        super().__init__()
        self.encoder_channels = tuple(int(c) for c in encoder_channels)
        if len(self.encoder_channels) < 2:
            raise ValueError("encoder_channels needs at least two entries")
        self.factor = 2 ** (len(self.encoder_channels) - 1) * 4  # latent stride × hyper stride
        self.encoder = HiFiCEncoder(in_channels, latent_features, self.encoder_channels)
        self.decoder = HiFiCGenerator(in_channels, latent_features, self.encoder_channels,
                                      num_residual_blocks)
        self.hyper_analysis = nn.Sequential(
            _conv(latent_features, hyper_features, stride=1, kernel_size=3), nn.ReLU(inplace=True),
            _conv(hyper_features, hyper_features), nn.ReLU(inplace=True),
            _conv(hyper_features, hyper_features),
        )
        self.hyper_synthesis_mean = _hyper_synthesis(hyper_features, latent_features)
        self.hyper_synthesis_scale = _hyper_synthesis(hyper_features, latent_features)
        self.hyper_bottleneck = EntropyBottleneck(hyper_features)
        self.latent_bottleneck = GaussianConditional(scale_table=None)

    @property
    def pad_multiple(self) -> int:
        return self.factor

    def compress(self, x: Tensor) -> dict[str, Any]:
        latent = self.encoder(x)
        hyper_latent = self.hyper_analysis(latent)
        z_strings = self.hyper_bottleneck.compress(hyper_latent)
        z_hat = self.hyper_bottleneck.decompress(z_strings, hyper_latent.shape[-2:])
        means = self.hyper_synthesis_mean(z_hat)
        scales = self.hyper_synthesis_scale(z_hat)
        indexes = self.latent_bottleneck.build_indexes(scales)
        y_strings = self.latent_bottleneck.compress(latent, indexes, means=means)
        return {"strings": [y_strings, z_strings], "shape": list(hyper_latent.shape[-2:])}

    def decompress(self, strings: list[list[bytes]], shape: Sequence[int]) -> dict[str, Tensor]:
        if not isinstance(strings, list) or len(strings) != 2:
            raise ValueError("HiFiC bitstreams hold two string groups (latent, hyper-latent)")
        z_hat = self.hyper_bottleneck.decompress(strings[1], tuple(shape))
        means = self.hyper_synthesis_mean(z_hat)
        scales = self.hyper_synthesis_scale(z_hat)
        indexes = self.latent_bottleneck.build_indexes(scales)
        latent = self.latent_bottleneck.decompress(strings[0], indexes, dtype=z_hat.dtype, means=means)
        x_hat = self.decoder(latent).clamp(0.0, 1.0)
        return {"x_hat": x_hat}

    def generator_input(self, height: int, width: int, batch: int = 1) -> Tensor:
        """A latent of the size the generator sees for an H×W image (for timing it alone)."""
        stride = 2 ** (len(self.encoder_channels) - 1)
        c = self.decoder.block_0[1].in_channels
        return torch.zeros(batch, c, -(-height // stride), -(-width // stride))


def hific(**kwargs: Any) -> HiFiC:
    """HiFiC as published: C_y = 220, 320 hyper channels, 9 residual blocks."""
    return HiFiC(**kwargs)

