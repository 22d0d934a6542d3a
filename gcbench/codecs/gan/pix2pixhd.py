"""The pix2pixHD global generator G1 (Wang et al. 2018, "High-Resolution Image Synthesis and
Semantic Manipulation with Conditional GANs"), the ancestor of GC's and HiFiC's generators.

G1 = ``c7s1-64, d128, d256, d512, d1024, R1024 ×9, u512, u256, u128, u64, c7s1-3`` with
reflection padding, InstanceNorm (no affine parameters) and a final tanh; pix2pixHD trains it
at 1024×512 on Cityscapes. :class:`GlobalGenerator` builds the same ``nn.Sequential`` as the
official ``networks.GlobalGenerator``, so its checkpoints load: keys ``model.{i}.weight|bias``
(``model.1`` the first conv, ``model.{4,7,10,13}`` the down-sampling convs,
``model.{16-24}.conv_block.{1,5}.weight|bias`` the residual blocks,
``model.{25,28,31,34}`` the transposed convs, ``model.38`` the RGB conv). A pix2pixHD ``netG``
file has exactly these keys; gcbench's codec wraps the generator as ``generator``, so such a
file loads with the option ``checkpoint_prefix = "generator."``.

G1 is an image-to-image network, not a codec. To time it as a decoder through gcbench,
:class:`Pix2PixHDCodec` feeds it a full-resolution map that is written losslessly with a
fixed-length code: the image quantized to L levels per channel (3·log2 L bpp). The decoder's cost
is G1 at the image's resolution, which is what the architecture-zoo table reports.
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


class GlobalGenerator(nn.Module):
    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_downsampling: int = 4,
                 n_blocks: int = 9) -> None:
        super().__init__()
        layers = c7s1(input_nc, ngf)
        for i in range(n_downsampling):
            layers += down(ngf * 2 ** i, ngf * 2 ** (i + 1))
        width = ngf * 2 ** n_downsampling
        layers += [ResnetBlock(width) for _ in range(n_blocks)]
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            layers += up(ngf * mult, ngf * mult // 2)
        layers += c7s1(ngf, output_nc, norm=None)
        layers.append(nn.Tanh())
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class Pix2PixHDCodec(nn.Module):
    """G1 as the decoder of an L-level, fixed-length-coded full-resolution map."""

    def __init__(self, levels: int = 4, ngf: int = 64, n_downsampling: int = 4, n_blocks: int = 9) -> None:
        super().__init__()
        if levels < 2:
            raise ValueError(f"levels must be at least 2, got {levels}")
        self.levels = int(levels)
        self.generator = GlobalGenerator(3, 3, ngf, n_downsampling, n_blocks)
        self.pad_multiple = 2 ** n_downsampling

    def compress(self, x: Tensor) -> dict[str, Any]:
        symbols = torch.clamp(torch.round(x * (self.levels - 1)), 0, self.levels - 1).to(torch.int64)
        data = fixedlength.pack(symbols.cpu().numpy(), self.levels)
        return {"strings": [[data]], "shape": list(x.shape[1:])}

    def decompress(self, strings: list[list[bytes]], shape: Sequence[int]) -> dict[str, Tensor]:
        if len(strings) != 1 or len(strings[0]) != 1 or len(shape) != 3:
            raise CodecError("a pix2pixHD-codec bitstream holds one string and a C×H×W shape")
        c, h, w = (int(s) for s in shape)
        if c != 3:
            raise CodecError(f"bitstream has {c} channels, expected 3")
        symbols = fixedlength.unpack(strings[0][0], c * h * w, self.levels)
        device = next(self.parameters()).device
        index = torch.from_numpy(symbols.astype(np.float32).reshape(1, c, h, w)).to(device)
        label_map = index / (self.levels - 1) * 2 - 1
        return {"x_hat": ((self.generator(label_map) + 1) / 2).clamp(0.0, 1.0)}

    def generator_input(self, height: int, width: int, batch: int = 1) -> Tensor:
        m = self.pad_multiple
        return torch.zeros(batch, 3, -(-height // m) * m, -(-width // m) * m)


def pix2pixhd_global(**kwargs: Any) -> Pix2PixHDCodec:
    """The zoo's builder for pix2pixHD's global generator."""
    return Pix2PixHDCodec(**kwargs)
