"""Building blocks shared by the generative-codec architectures.

- :class:`ChannelNorm2d` — HiFiC's normalisation (Mentzer et al. 2020, Sec. 4.1): each pixel is
  normalised over its channels; written to be numerically the same as NeuralCompression's
  ``ChannelNorm2D`` (unbiased variance, epsilon 1e-3, parameters ``gamma``/``beta`` of shape
  1×C×1×1), so MS-ILLM/HiFiC checkpoints load unchanged.
- :class:`HiFiCResidualBlock` — conv3×3, norm, ReLU, conv3×3, norm, plus the input.
- :class:`DenseBlock` — N densely connected DenseNet-BC bottleneck layers with growth rate k
  (Huang et al. 2017), then a 1×1 transition back to the input width: the "Dense-N-k" bottleneck
  of the fast generative compression variants of pix2pixHD's G1 (Dalal et al.).
- pix2pixHD's ``c7s1-k``/``dk``/``Rk``/``uk`` units (Wang et al. 2018, Appendix), reused by the
  generator of Agustsson et al. 2019.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ChannelNorm2d(nn.Module):
    def __init__(self, channels: int, epsilon: float = 1e-3, affine: bool = True) -> None:
        super().__init__()
        if channels <= 1:
            raise ValueError("ChannelNorm needs more than one channel")
        self.epsilon = epsilon
        self.affine = affine
        if affine:
            self.gamma = nn.Parameter(torch.ones(1, channels, 1, 1))
            self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        mean = torch.mean(x, dim=1, keepdim=True)
        variance = torch.var(x, dim=1, keepdim=True)  # unbiased, as NeuralCompression
        x = (x - mean) * torch.rsqrt(variance + self.epsilon)
        if self.affine:
            x = self.gamma * x + self.beta
        return x


class HiFiCResidualBlock(nn.Module):
    """State-dict keys: ``sequence.{0,3}.weight|bias`` (convs), ``sequence.{1,4}.gamma|beta`` (norms)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.sequence = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, padding=1),
            ChannelNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, 1, padding=1),
            ChannelNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.sequence(x)


class DenseLayer(nn.Module):
    """DenseNet-BC's bottleneck layer (Huang et al. 2017, "Bottleneck layers"): norm, ReLU, conv1×1 to
    ``4·growth`` channels, norm, ReLU, conv3×3 to ``growth`` channels.

    Keys: ``conv1.weight|bias``, ``conv2.weight|bias`` (InstanceNorm without affine parameters,
    pix2pixHD's norm, has none).
    """

    def __init__(self, in_channels: int, growth: int, norm: type[nn.Module] = nn.InstanceNorm2d,
                 bottleneck_factor: int = 4) -> None:
        super().__init__()
        inner = bottleneck_factor * growth
        self.norm1 = norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, inner, 1)
        self.norm2 = norm(inner)
        self.conv2 = nn.Conv2d(inner, growth, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(torch.relu(self.norm2(self.conv1(torch.relu(self.norm1(x))))))


class DenseBlock(nn.Module):
    """Dense-N-k: ``n_layers`` bottleneck dense layers of growth rate ``growth`` on a ``channels``-wide map.

    Layer i sees the block's input and the outputs of layers 0…i-1 concatenated (channels + i·k)
    and adds k channels; a transition (norm, ReLU, conv1×1, DenseNet's transition without its
    pooling) maps the channels + N·k back to ``channels``, so the block stands where the residual
    blocks stood. The input reaches the transition through the concatenation; there is no
    separate skip. Keys: ``layers.{i}.conv1|conv2.weight|bias``, ``transition.2.weight|bias``.
    """

    def __init__(self, channels: int, n_layers: int, growth: int, norm: type[nn.Module] = nn.InstanceNorm2d) -> None:
        super().__init__()
        if n_layers < 1 or growth < 1:
            raise ValueError(f"Dense-N-k needs N ≥ 1 and k ≥ 1, got N={n_layers}, k={growth}")
        self.layers = nn.ModuleList(DenseLayer(channels + i * growth, growth, norm) for i in range(n_layers))
        total = channels + n_layers * growth
        self.transition = nn.Sequential(norm(total), nn.ReLU(), nn.Conv2d(total, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return self.transition(torch.cat(features, dim=1))


# -- pix2pixHD units ---------------------------------------------------------------------------


class ResnetBlock(nn.Module):
    """pix2pixHD's ``Rk``: reflect-pad, conv3×3, norm, ReLU, reflect-pad, conv3×3, norm, plus input.

    Keys as pix2pixHD's ``ResnetBlock``: ``conv_block.1.weight|bias``, ``conv_block.5.weight|bias``
    (InstanceNorm without affine parameters has no keys).
    """

    def __init__(self, channels: int, norm: type[nn.Module] = nn.InstanceNorm2d) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, padding=0),
            norm(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, padding=0),
            norm(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


def c7s1(in_channels: int, out_channels: int, norm: type[nn.Module] | None = nn.InstanceNorm2d) -> list[nn.Module]:
    """``c7s1-k``: reflect-pad 3, conv7×7 stride 1, norm, ReLU (no norm/ReLU when ``norm`` is None)."""
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, out_channels, 7, padding=0)]
    if norm is not None:
        layers += [norm(out_channels), nn.ReLU(True)]
    return layers


def down(in_channels: int, out_channels: int, norm: type[nn.Module] = nn.InstanceNorm2d) -> list[nn.Module]:
    """``dk``: conv3×3 stride 2, norm, ReLU."""
    return [nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1), norm(out_channels), nn.ReLU(True)]


def up(in_channels: int, out_channels: int, norm: type[nn.Module] = nn.InstanceNorm2d) -> list[nn.Module]:
    """``uk``: transposed conv3×3 stride ½, norm, ReLU."""
    return [nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1),
            norm(out_channels), nn.ReLU(True)]
