"""LPIPS and DISTS, through their reference packages, with ImageNet trunks from gcbench.weights.

LPIPS (Zhang et al. 2018) through ``lpips``: AlexNet v0.1 by default (what HiFiC and MS-ILLM
report), ``net="vgg"`` selectable; full-resolution images scaled to [-1, 1]; one value per image.
DISTS (Ding et al. 2020) through ``dists-pytorch``: inputs in [0, 1], full resolution (the
package's example script resizes to 256 px; papers on compression evaluate full images).

Both packages fetch their ImageNet trunk through torchvision's downloader. gcbench resolves the
trunk through :mod:`gcbench.weights` instead (so a missing file fails before any image with a
message naming the file, its URL and where to put it) and loads it into the package's own
network; the learned parts (LPIPS linear layers, DISTS alpha/beta) come from the packages'
wheels. ``trunk_weights=PATH`` uses another trunk file instead; its hash is recorded in the
metric's versions as an unverified file, so such values are never mistaken for real LPIPS/DISTS.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from gcbench.core.availability import Availability, require_modules
from gcbench.core.errors import ConfigError, WeightsError
from gcbench.metrics.base import Column, PairMetric
from gcbench.metrics.device_batch import batched_values
from gcbench.metrics.precision import full_precision

LPIPS_TRUNKS = {"alex": ("alexnet-imagenet", "alexnet"), "vgg": ("vgg16-imagenet", "vgg16")}
DISTS_TRUNK = "vgg16-imagenet"


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def load_torchvision_state(path: Path, arch: str) -> dict[str, Any]:
    """A torchvision ImageNet state dict, checked to be the ``arch`` it claims to be."""
    import torch
    import torchvision

    state = torch.load(str(path), map_location="cpu", weights_only=True)
    with torch.device("meta"):  # shapes only: no memory, no random initialisation
        expected = getattr(torchvision.models, arch)(weights=None).state_dict()
    missing = [k for k in expected if k not in state]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or wrong:
        raise WeightsError(
            f"{path} is not a torchvision {arch} state dict "
            f"(missing {missing[:3]}{'…' if len(missing) > 3 else ''}, wrong shapes {wrong[:3]})"
        )
    return state


def features_into_slices(net: Any, state: dict[str, Any], n_slices: int) -> None:
    """Copy torchvision ``features.<i>.*`` tensors into a network that splits ``features`` into
    ``slice1 … sliceN`` keeping each layer's index as its name (lpips' pretrained_networks)."""
    mapped = {}
    for k in range(1, n_slices + 1):
        for child, module in getattr(net, f"slice{k}").named_children():
            for pname in module.state_dict():
                mapped[f"slice{k}.{child}.{pname}"] = state[f"features.{child}.{pname}"]
    net.load_state_dict(mapped, strict=True)


class _TrunkMetric(PairMetric):
    """A pair metric over an ImageNet trunk resolved through gcbench.weights."""

    uses_device = True
    trunk_entry: str = ""

    def __init__(self, device: str = "cpu", trunk_weights: str | None = None, **options: Any) -> None:
        if trunk_weights is not None:
            options["trunk_weights"] = str(trunk_weights)
        super().__init__(device, **options)
        self._override: Any = None
        if trunk_weights is not None:
            from gcbench import weights

            self._override = weights.describe_override(trunk_weights, self.trunk_entry)
        self._model: Any = None

    def trunk_id(self) -> str:
        from gcbench import weights

        return weights.identity_of(self.trunk_entry, self._override)

    def trunk_path(self) -> Path:
        if self._override is not None:
            return self._override.path
        from gcbench import weights

        return weights.resolve(self.trunk_entry)

    def preflight(self) -> None:
        self.trunk_path()

    #: the network's input range: pixel · scale + offset
    scale: float = 1.0
    offset: float = 0.0

    def _scores(self, x: Any, y: Any) -> Any:
        """One value per image of (N, 3, H, W) float32 batches already in the input range."""
        raise NotImplementedError

    def compute(self, original: np.ndarray, reconstruction: np.ndarray) -> dict[str, float]:
        return self.compute_many([(original, reconstruction)])[0]

    def compute_many(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[dict[str, float]]:
        """Same-sized pairs go through the network as one batch on the metric's device."""
        import torch

        self.prepare()

        def scores(x: Any, y: Any) -> Any:
            with full_precision(self.device):
                return self._scores(x.to(torch.float32) * self.scale + self.offset,
                                    y.to(torch.float32) * self.scale + self.offset)

        return batched_values(pairs, self.device, scores, self.columns[0].name)


class LPIPS(_TrunkMetric):
    name = "lpips"
    columns = (Column("lpips", higher_is_better=False, label="LPIPS", minimum=0.0),)
    library = "lpips"
    scale, offset = 1.0 / 127.5, -1.0  # lpips.im2tensor's scaling to [-1, 1]

    def __init__(self, device: str = "cpu", net: str = "alex", version: str = "0.1",
                 trunk_weights: str | None = None) -> None:
        if net not in LPIPS_TRUNKS:
            raise ConfigError(f"LPIPS net must be one of {sorted(LPIPS_TRUNKS)}, got {net!r}")
        if str(version) not in ("0.0", "0.1"):
            raise ConfigError(f"LPIPS version must be '0.0' or '0.1', got {version!r}")
        self.trunk_entry, self.arch = LPIPS_TRUNKS[net]
        self.net, self.lpips_version = net, str(version)
        super().__init__(device, trunk_weights=trunk_weights, net=net, version=self.lpips_version)

    @classmethod
    def available(cls) -> Availability:
        return require_modules("torch", "lpips", extra="perceptual")

    def versions(self) -> dict[str, str]:
        return {"lpips": _version("lpips"), "torch": _version("torch"), "trunk": self.trunk_id()}

    def prepare(self) -> None:
        if self._model is not None:
            return
        path = self.trunk_path()  # fails here, before any image, when the trunk is missing
        import warnings

        import lpips

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision's notice about the `pretrained` argument
            # pnet_rand: build the trunk without torchvision's download; the real one is loaded next.
            model = lpips.LPIPS(net=self.net, version=self.lpips_version, pretrained=True, pnet_rand=True,
                                verbose=False)
        features_into_slices(model.net, load_torchvision_state(path, self.arch), model.net.N_slices)
        self._model = model.eval().to(self.device)

    def _scores(self, x: Any, y: Any) -> Any:
        return self._model(x, y)


_DISTS_LOCK = threading.Lock()


def dists_alpha_beta_path() -> Path:
    """The alpha/beta file the dists-pytorch wheel installs (``weights.pt`` under sys.prefix)."""
    from importlib.metadata import distribution

    try:
        dist = distribution("dists-pytorch")
    except PackageNotFoundError as exc:
        raise WeightsError("dists-pytorch is not installed: pip install 'gcbench[perceptual]'") from exc
    for f in dist.files or ():
        if Path(str(f)).name == "weights.pt":
            path = Path(str(dist.locate_file(f))).resolve()
            if path.is_file():
                return path
    raise WeightsError("the dists-pytorch installation lacks its weights.pt (alpha/beta); reinstall dists-pytorch")


class DISTS(_TrunkMetric):
    name = "dists"
    columns = (Column("dists", higher_is_better=False, label="DISTS", minimum=0.0),)
    library = "dists-pytorch"
    trunk_entry = DISTS_TRUNK
    scale = 1.0 / 255.0  # DISTS takes [0, 1]

    def __init__(self, device: str = "cpu", trunk_weights: str | None = None) -> None:
        super().__init__(device, trunk_weights=trunk_weights)

    @classmethod
    def available(cls) -> Availability:
        return require_modules("torch", "DISTS_pytorch", extra="perceptual", package="dists-pytorch")

    def versions(self) -> dict[str, str]:
        from gcbench import weights

        try:
            alpha_beta = weights.file_sha256(dists_alpha_beta_path())[:16]
        except WeightsError:
            alpha_beta = "missing"
        return {"dists-pytorch": _version("dists-pytorch"), "torch": _version("torch"), "trunk": self.trunk_id(),
                "alpha_beta": alpha_beta}

    def prepare(self) -> None:
        if self._model is not None:
            return
        path = self.trunk_path()
        alpha_beta = dists_alpha_beta_path()
        from types import SimpleNamespace
        from unittest import mock

        import torch
        import torchvision
        from DISTS_pytorch import DISTS_pt

        with torch.device("meta"):  # built empty; the resolved tensors are assigned next
            vgg = torchvision.models.vgg16(weights=None)
        vgg.load_state_dict(load_torchvision_state(path, "vgg16"), assign=True)
        # DISTS() always asks torchvision for a downloaded VGG16; hand it the resolved one instead.
        # Only the package's own reference to `models` is replaced, for the constructor's duration.
        with _DISTS_LOCK, mock.patch.object(DISTS_pt, "models", SimpleNamespace(vgg16=lambda *a, **k: vgg)):
            model = DISTS_pt.DISTS(load_weights=False)
        ab = torch.load(str(alpha_beta), map_location="cpu", weights_only=True)
        model.alpha.data, model.beta.data = ab["alpha"], ab["beta"]
        self._model = model.eval().to(self.device)

    def _scores(self, x: Any, y: Any) -> Any:
        return self._model(x, y, require_grad=False, batch_average=False)
