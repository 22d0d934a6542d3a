"""The pix2pixHD global generator G1 (Wang et al. 2018, "High-Resolution Image Synthesis and
Semantic Manipulation with Conditional GANs") and the fast variants of Dalal, Sardana and Jiang
("Towards Fast Generative Image Compression"), one parametrised implementation.

G1 = ``c7s1-64, d128, d256, d512, d1024, R1024 ×9, u512, u256, u128, u64, c7s1-3`` with
reflection padding, InstanceNorm (no affine parameters) and a final tanh; pix2pixHD trains it
at 1024×512 on Cityscapes. :class:`GlobalGenerator` builds the same ``nn.Sequential`` as the
official ``networks.GlobalGenerator``, so its checkpoints load: keys ``model.{i}.weight|bias``
(``model.1`` the first conv, ``model.{4,7,10,13}`` the down-sampling convs,
``model.{16-24}.conv_block.{1,5}.weight|bias`` the residual blocks,
``model.{25,28,31,34}`` the transposed convs, ``model.38`` the RGB conv). A pix2pixHD ``netG``
file has exactly these keys; gcbench's codec wraps the generator as ``generator``, so such a
file loads with the option ``checkpoint_prefix = "generator."``.

G1's input is what pix2pixHD's ``encode_input`` makes of a Cityscapes sample
(:func:`label_input`): the label map one-hot over ``label_nc = 35`` channels, and the instance
map's edges as one channel more (36 channels; pix2pixHD's default ``--no_instance`` off).

The fast variants, as this module reads the paper (its text does not give every detail):

- **Extra-Layer** (``n_downsampling = 5``): one more down/up-sampling pair, built as pix2pixHD
  builds it with ``--n_downsample_global 5`` — widths keep doubling (d2048, R2048 ×9, u1024),
  so the residual blocks run at 1/32 of the image with 2048 channels: the same multiply-adds
  as at 1/16 with 1024, four times the parameters.
- **Dense-N-k** (``dense_layers = N``, ``growth = k``): the 9 residual blocks replaced by one
  DenseNet dense block of N bottleneck layers (DenseNet-BC: norm, ReLU, conv1×1 to 4k, norm,
  ReLU, conv3×3 to k; InstanceNorm, G1's norm, instead of BatchNorm) with growth rate k on the
  1024-channel map, and a transition (norm, ReLU, conv1×1) back to 1024 channels for u512
  (:class:`~gcbench.codecs.gan.layers.DenseBlock`). "N bottleneck dense blocks" is read as N
  bottleneck layers of one dense block, each the unit the growth rate k belongs to; the dense
  bottleneck sits on G1 itself, not behind the extra pair. Keys: ``model.16.layers.{i}.conv1|conv2.weight|bias``,
  ``model.16.transition.2.weight|bias``, the up-sampling convs then at ``model.{17,20,23,26}``
  and the RGB conv at ``model.30``.

G1 is an image-to-image network, not a codec. To time it as a decoder through gcbench,
:class:`Pix2PixHDCodec` feeds it a full-resolution map that is written losslessly with a
fixed-length code: the image quantized to L levels per channel (3·log2 L bpp). The decoder's cost
is G1 at the image's resolution. Built with ``input_nc = 36`` it is the label-map generator the
paper times; only its generator runs then (``generator_input``, :func:`label_input`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gcbench.codecs.gan import fixedlength
from gcbench.codecs.gan.layers import DenseBlock, ResnetBlock, c7s1, down, up
from gcbench.core.errors import CodecError


class GlobalGenerator(nn.Module):
    """G1; ``n_downsampling = 5`` is the Extra-Layer variant, ``dense_layers``/``growth`` Dense-N-k."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_downsampling: int = 4,
                 n_blocks: int = 9, dense_layers: int | None = None, growth: int | None = None) -> None:
        super().__init__()
        layers = c7s1(input_nc, ngf)
        for i in range(n_downsampling):
            layers += down(ngf * 2 ** i, ngf * 2 ** (i + 1))
        width = ngf * 2 ** n_downsampling
        if dense_layers is not None or growth is not None:
            if dense_layers is None or growth is None:
                raise ValueError("Dense-N-k needs both dense_layers (N) and growth (k)")
            layers.append(DenseBlock(width, int(dense_layers), int(growth)))
        else:
            layers += [ResnetBlock(width) for _ in range(n_blocks)]
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            layers += up(ngf * mult, ngf * mult // 2)
        layers += c7s1(ngf, output_nc, norm=None)
        layers.append(nn.Tanh())
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def edges(instance_map: Tensor) -> Tensor:
    """pix2pixHD's ``get_edges``: 1 where a pixel's instance differs from a 4-neighbour's, as float."""
    t = instance_map
    edge = torch.zeros(t.shape, dtype=torch.bool, device=t.device)
    horizontal = t[:, :, :, 1:] != t[:, :, :, :-1]
    vertical = t[:, :, 1:, :] != t[:, :, :-1, :]
    edge[:, :, :, 1:] |= horizontal
    edge[:, :, :, :-1] |= horizontal
    edge[:, :, 1:, :] |= vertical
    edge[:, :, :-1, :] |= vertical
    return edge.float()


def label_input(label_map: Tensor, instance_map: Tensor | None, label_nc: int, device: Any = "cpu") -> Tensor:
    """G1's input as pix2pixHD's ``encode_input`` makes it: the N×1×H×W label map as int64 moved to ``device``
    and one-hot over ``label_nc`` channels (``scatter_``), then the instance map's edges as one channel more."""
    label_map = label_map.long().to(device)
    n, _, h, w = label_map.shape
    one_hot = torch.zeros(n, label_nc, h, w, device=label_map.device)
    one_hot.scatter_(1, label_map, 1.0)
    if instance_map is None:
        return one_hot
    return torch.cat((one_hot, edges(instance_map.to(device))), dim=1)


class Pix2PixHDCodec(nn.Module):
    """G1 as the decoder of an L-level, fixed-length-coded full-resolution map (``input_nc = 3``), or with
    another ``input_nc`` (36: pix2pixHD's Cityscapes label input) as a generator to time alone."""

    def __init__(self, levels: int = 4, ngf: int = 64, n_downsampling: int = 4, n_blocks: int = 9,
                 dense_layers: int | None = None, growth: int | None = None, input_nc: int = 3) -> None:
        super().__init__()
        if levels < 2:
            raise ValueError(f"levels must be at least 2, got {levels}")
        self.levels = int(levels)
        self.input_nc = int(input_nc)
        self.generator = GlobalGenerator(self.input_nc, 3, ngf, n_downsampling, n_blocks, dense_layers, growth)
        self.pad_multiple = 2 ** n_downsampling

    def compress(self, x: Tensor) -> dict[str, Any]:
        symbols = torch.clamp(torch.round(x * (self.levels - 1)), 0, self.levels - 1).to(torch.int64)
        data = fixedlength.pack(symbols.cpu().numpy(), self.levels)
        return {"strings": [[data]], "shape": list(x.shape[1:])}

    def decompress(self, strings: list[list[bytes]], shape: Sequence[int]) -> dict[str, Tensor]:
        if len(strings) != 1 or len(strings[0]) != 1 or len(shape) != 3:
            raise CodecError("a pix2pixHD-codec bitstream holds one string and a C×H×W shape")
        c, h, w = (int(s) for s in shape)
        if c != 3 or self.input_nc != 3:
            raise CodecError(f"bitstream has {c} channels and the generator takes {self.input_nc}; "
                             "a codec decodes 3-channel maps (input_nc = 3)")
        symbols = fixedlength.unpack(strings[0][0], c * h * w, self.levels)
        device = next(self.parameters()).device
        index = torch.from_numpy(symbols.astype(np.float32).reshape(1, c, h, w)).to(device)
        label_map = index / (self.levels - 1) * 2 - 1
        return {"x_hat": ((self.generator(label_map) + 1) / 2).clamp(0.0, 1.0)}

    def generator_input(self, height: int, width: int, batch: int = 1) -> Tensor:
        """Zeros of the shape G1 sees for an H×W image (padded to ``pad_multiple``), for timing it alone."""
        m = self.pad_multiple
        return torch.zeros(batch, self.input_nc, -(-height // m) * m, -(-width // m) * m)


def pix2pixhd_global(**kwargs: Any) -> Pix2PixHDCodec:
    """The zoo's builder for pix2pixHD's global generator and its fast variants (Extra-Layer, Dense-N-k)."""
    return Pix2PixHDCodec(**kwargs)
