"""Stand-in weight files of the right shapes, generated at test time.

The real ImageNet trunks and the FID Inception cannot be downloaded here; these files let the
tests (and the benchmark) run gcbench and the reference library on the SAME weights and
compare. They are random, are never put where gcbench's manifest would accept them, and every
result made with them is flagged by gcbench as not made with the published weights.
"""

from __future__ import annotations

from pathlib import Path


def inception_standin(path: Path, seed: int = 0) -> Path:
    """A torch-fidelity ``FeatureExtractorInceptionV3`` state dict with every key it loads.

    PyTorch's default initialisation makes the 2048-d features vanish (FID ≈ 1e-13 between
    unrelated sets), which would test nothing: convolutions are He-normal and batch norms the
    identity, so features are spread out.
    """
    from unittest import mock

    import torch
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    torch.manual_seed(seed)
    # Build the module without weights: skip the download and the strict load.
    with mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: {}), \
            mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, *a, **k: None):
        model = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.ones_(module.weight)
            torch.nn.init.zeros_(module.bias)
            module.running_mean.zero_()
            module.running_var.fill_(1.0)
        elif isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.01)
            torch.nn.init.zeros_(module.bias)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def torchvision_standin(arch: str, path: Path, seed: int = 0) -> Path:
    """A torchvision ``alexnet`` / ``vgg16`` ImageNet state dict of random weights (same keys and
    shapes): He-normal weights, zero biases, drawn directly (torchvision's own initialisation of
    VGG16's 138 M parameters takes seconds)."""
    import math

    import torch
    import torchvision

    gen = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in getattr(torchvision.models, arch)(weights=None).state_dict().items()}
    state = {}
    for key, shape in shapes.items():
        if key.endswith("weight"):
            fan_in = math.prod(shape[1:])
            state[key] = torch.randn(shape, generator=gen) * math.sqrt(2.0 / fan_in)
        else:
            state[key] = torch.zeros(shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path
