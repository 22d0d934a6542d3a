"""The generative compression network of Agustsson et al. 2019 ("Generative Adversarial Networks
for Extreme Learned Image Compression", ICCV), global generative compression (GC) without
semantic maps.

Encoder E: ``c7s1-60, d120, d240, d480, d960, c3s1-C`` then the quantizer q with L = 5 centres
{-2, -1, 0, 1, 2}. Generator G: ``c3s1-960, R960 ×9, u480, u240, u120, u60, c7s1-3`` — the
units of pix2pixHD (reflection padding, InstanceNorm, ReLU); the final ``c7s1-3`` has no norm and
is followed by tanh, as pix2pixHD. The last encoder layer is a plain conv3×3 (no norm or ReLU),
since the quantizer follows it. The latent is at 1/16 of the image: inputs are padded to 16.

There is no entropy model: as in the paper the rate is fixed by ``dim(w)·log2 L``, and gcbench
writes the symbols with a fixed-length code (:mod:`.fixedlength`), so bpp is exact and equal to
about ``C·log2(L)/256`` (C = 8: 0.073 bpp).

Images enter in [0, 1] and are mapped to [-1, 1] (pix2pixHD's range); the tanh output is mapped
back. State-dict keys: ``encoder.{i}.weight|bias`` (``i`` = 1, 4, 7, 10, 13 and 16; the other
indices are pads, norms and ReLUs without parameters) and ``generator.{i}.weight|bias``
(``generator.1`` the c3s1 conv, ``generator.{4-12}.conv_block.{1,5}.weight|bias`` the residual
blocks, ``generator.{13,16,19,22}`` the transposed convs, ``generator.26`` the RGB conv).
InstanceNorm has no affine parameters, as in pix2pixHD.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gcbench.codecs.gan import fixedlength
from gcbench.codecs.gan.layers import ResnetBlock, c7s1, down, up
from gcbench.core.errors import CodecError


def gc_encoder(channels: int, base: int = 60, n_down: int = 4) -> nn.Sequential:
    """GC's encoder: c7s1, ``n_down`` stride-2 convolutions, a 3×3 projection to ``channels``."""
    layers = c7s1(3, base)
    width = base
    for _ in range(n_down):
        layers += down(width, width * 2)
        width *= 2
    layers.append(nn.Conv2d(width, channels, 3, padding=1))  # c3s1-C, quantized next
    return nn.Sequential(*layers)


def gc_generator(channels: int, base: int = 60, n_up: int = 4, n_blocks: int = 9) -> nn.Sequential:
    """GC's generator: a 3×3 convolution from ``channels``, ``n_blocks`` residual blocks, ``n_up``
    upsamplings, c7s1 to RGB and tanh."""
    width = base * 2 ** n_up
    layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(channels, width, 3, padding=0),
                               nn.InstanceNorm2d(width), nn.ReLU(True)]  # c3s1-960
    layers += [ResnetBlock(width) for _ in range(n_blocks)]
    for _ in range(n_up):
        layers += up(width, width // 2)
        width //= 2
    layers += c7s1(width, 3, norm=None)
    layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class AgustssonGC(nn.Module):
    """GC codec: encoder, L-level quantizer with fixed-length code, generator."""

    def __init__(self, channels: int = 8, levels: int = 5, base: int = 60, n_blocks: int = 9) -> None:
        super().__init__()
        if levels < 2:
            raise ValueError(f"levels must be at least 2, got {levels}")
        self.channels, self.levels = int(channels), int(levels)
        self.encoder = gc_encoder(self.channels, base)
        self.generator = gc_generator(self.channels, base, n_blocks=n_blocks)
        self.pad_multiple = 16
        # centres -(L-1)/2 … (L-1)/2, one apart: {-2, …, 2} for L = 5
        self.register_buffer("centers", torch.arange(self.levels, dtype=torch.float32) - (self.levels - 1) / 2,
                             persistent=False)

    def quantize(self, w: Tensor) -> Tensor:
        """Index of the nearest centre (what is written)."""
        return torch.clamp(torch.round(w - self.centers[0]), 0, self.levels - 1).to(torch.int64)

    def compress(self, x: Tensor) -> dict[str, Any]:
        w = self.encoder(x * 2 - 1)
        symbols = self.quantize(w)
        data = fixedlength.pack(symbols.cpu().numpy(), self.levels)
        return {"strings": [[data]], "shape": list(w.shape[1:])}

    def decompress(self, strings: list[list[bytes]], shape: Sequence[int]) -> dict[str, Tensor]:
        if len(strings) != 1 or len(strings[0]) != 1 or len(shape) != 3:
            raise CodecError("an Agustsson GC bitstream holds one string and a C×h×w shape")
        c, h, w = (int(s) for s in shape)
        if c != self.channels:
            raise CodecError(f"bitstream has {c} latent channels, this model has {self.channels}")
        symbols = fixedlength.unpack(strings[0][0], c * h * w, self.levels)
        index = torch.from_numpy(symbols.astype(np.int64).reshape(1, c, h, w)).to(self.centers.device)
        w_hat = self.centers[index]
        x_hat = (self.generator(w_hat) + 1) / 2
        return {"x_hat": x_hat.clamp(0.0, 1.0)}

    def generator_input(self, height: int, width: int, batch: int = 1) -> Tensor:
        return torch.zeros(batch, self.channels, -(-height // 16), -(-width // 16))


def agustsson2019(**kwargs: Any) -> AgustssonGC:
    """The zoo's builder for GC (Agustsson et al. 2019)."""
    return AgustssonGC(**kwargs)
