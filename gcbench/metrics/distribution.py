"""FID and KID over patches, as HiFiC and NeuralCompression compute them, through torch-fidelity.

Patch protocol (Mentzer et al. 2020, NeuralCompression ``update_patch_fid``): every image,
original and reconstruction alike, is cut into non-overlapping ``size``×``size`` patches on a
grid starting at the top-left corner, plus the same grid shifted by ``shift`` pixels in both
directions when both sides are at least ``size + shift`` (256 and 128 by default: Kodak's
512×768 gives 6 + 2 = 8 patches an image). Leftover borders are dropped.

Features are torch-fidelity's ``inception-v3-compat`` 2048-d pool features (the network of the
original TensorFlow FID). Each (codec, setting) accumulates the features of its reconstructions'
patches; the originals' features are computed once per image and cached by the set stage under
``reference_identity()``, a hash of the extractor, its weights and the protocol. FID and KID
are computed from the features with torch-fidelity's own functions, so the values equal its
``calculate_metrics`` on folders of the same patches. KID's subset size is min(n, 1000) so small
sets give a value (flagged) instead of an error.

Results from fewer than 2,048 patches carry a flag: FID and KID are biased at small n, and
Kodak's 192 patches are not comparable with CLIC's thousands.

Weights come from :mod:`gcbench.weights` (entry ``inception-fid``). ``inception_weights=PATH``
uses another file instead; its results are flagged as not made with the published Inception.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from gcbench.core.availability import Availability, require_modules
from gcbench.core.errors import ConfigError, MetricError
from gcbench.metrics.base import Column, ImageContext, SetMetric, SetResult

WEIGHTS_ENTRY = "inception-fid"
FEATURE_LAYER = "2048"
EXTRACTOR = "inception-v3-compat"
COMPARABLE_PATCHES = 2048
KID_MAX_SUBSET = 1000


@dataclass(frozen=True)
class PatchProtocol:
    """Where the patches of an image are; ``shift=0`` turns the shifted grid off."""

    size: int = 256
    shift: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or self.size < 1:
            raise ConfigError(f"patch size must be a positive integer, got {self.size!r}")
        if self.shift is None:
            object.__setattr__(self, "shift", self.size // 2)
        if not isinstance(self.shift, int) or not 0 <= self.shift < self.size:
            raise ConfigError(f"patch shift must be an integer in [0, {self.size}), got {self.shift!r}")

    def offsets(self, height: int, width: int) -> list[int]:
        """Grid origins: 0, and the shift when the image is large enough for it."""
        assert self.shift is not None
        need = self.size + self.shift
        return [0] + ([self.shift] if self.shift and height >= need and width >= need else [])

    def corners(self, height: int, width: int) -> list[tuple[int, int]]:
        """Top-left corners (y, x): row-major within each grid, the base grid first."""
        out = []
        for off in self.offsets(height, width):
            rows = (height - off) // self.size
            cols = (width - off) // self.size
            out += [(off + r * self.size, off + c * self.size) for r in range(rows) for c in range(cols)]
        return out

    def count(self, height: int, width: int) -> int:
        return len(self.corners(height, width))

    def patches(self, image: np.ndarray) -> np.ndarray:
        """``(n, size, size, 3)`` uint8 patches of an H×W×3 image."""
        h, w = image.shape[:2]
        corners = self.corners(h, w)
        if not corners:
            raise MetricError(
                f"image {w}×{h} is smaller than one {self.size}×{self.size} patch; "
                "choose a smaller patch size for this dataset"
            )
        s = self.size
        return np.stack([image[y:y + s, x:x + s] for y, x in corners])

    def describe(self) -> dict[str, int]:
        return {k: int(v) for k, v in asdict(self).items()}


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


class InceptionFeatures:
    """torch-fidelity's Inception on a device: uint8 NHWC patches → float32 (n, 2048)."""

    def __init__(self, weights_path: str, device: str = "cpu", batch_size: int = 32) -> None:
        import torch
        from torch_fidelity.feature_extractor_inceptionv3 import (
            FeatureExtractorInceptionV3,
        )

        self.device = torch.device(device)
        self.batch_size = batch_size
        # Channels-last (NHWC) layout: the patches already are NHWC, and oneDNN's NHWC convolutions
        # run the network about 1.4x faster on the CPU than torch-fidelity's NCHW; features move
        # by about 1e-6 relative, far inside the tolerance FID/KID are checked to.
        self.model = FeatureExtractorInceptionV3(
            EXTRACTOR, [FEATURE_LAYER], feature_extractor_weights_path=str(weights_path)
        ).to(self.device, memory_format=torch.channels_last)

    def __call__(self, patches: np.ndarray) -> np.ndarray:
        import torch

        from gcbench.metrics.perceptual import full_precision

        out = []
        with torch.no_grad(), full_precision(self.device):
            for i in range(0, len(patches), self.batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(patches[i:i + self.batch_size]))
                batch = batch.permute(0, 3, 1, 2)  # NCHW shape over NHWC memory: channels-last as is
                batch = batch.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
                (features,) = self.model(batch)
                out.append(features.to("cpu", torch.float32).numpy())
        return np.concatenate(out, axis=0)


# FID and KID need the same features of the same reconstruction; when both are asked for, the
# second metric takes them from here instead of running the Inception again.
_RECENT: OrderedDict[str, np.ndarray] = OrderedDict()
_RECENT_MAX = 8


def _digest(image: np.ndarray) -> str:
    h = hashlib.sha256(np.ascontiguousarray(image).tobytes())
    h.update(repr(image.shape).encode())
    return h.hexdigest()


class _PatchInceptionMetric(SetMetric):
    library = "torch-fidelity"
    uses_device = True

    def __init__(self, device: str = "cpu", patch_size: int = 256, patch_shift: int | None = None,
                 inception_weights: str | None = None, batch_size: int = 32) -> None:
        self.protocol = PatchProtocol(int(patch_size), None if patch_shift is None else int(patch_shift))
        options: dict[str, Any] = {"patch_size": self.protocol.size, "patch_shift": self.protocol.shift}
        if inception_weights is not None:
            options["inception_weights"] = str(inception_weights)
        super().__init__(device, **options)
        self.batch_size = int(batch_size)
        self._override: Any = None
        self._weights_path: Any = None
        self._extractor: InceptionFeatures | None = None
        if inception_weights is not None:
            from gcbench import weights

            self._override = weights.describe_override(inception_weights, WEIGHTS_ENTRY)

    @classmethod
    def available(cls) -> Availability:
        return require_modules("torch", "torch_fidelity", extra="perceptual")

    def _weights_id(self) -> str:
        from gcbench import weights

        return weights.identity_of(WEIGHTS_ENTRY, self._override)

    def versions(self) -> dict[str, str]:
        return {"torch-fidelity": _version("torch-fidelity"), "torch": _version("torch"),
                "inception": self._weights_id()}

    def reference_identity(self) -> str:
        text = json.dumps({"extractor": EXTRACTOR, "layer": FEATURE_LAYER, "weights": self._weights_id(),
                           "protocol": self.protocol.describe(), "torch-fidelity": _version("torch-fidelity")},
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def preflight(self) -> None:
        self.prepare()

    def prepare(self) -> None:
        """Find the weights (fails here, before any image, when they are missing)."""
        if self._weights_path is not None:
            return
        if self._override is not None:
            self._weights_path = self._override.path
        else:
            from gcbench import weights

            self._weights_path = weights.resolve(WEIGHTS_ENTRY)

    def _key(self, image: np.ndarray) -> str:
        return f"{self.reference_identity()}|{_digest(image)}"

    def _extract(self, images: list[np.ndarray]) -> None:
        """Features of every image not in the recent cache, their patches in one batch."""
        todo = {self._key(im): im for im in images}
        todo = {k: im for k, im in todo.items() if k not in _RECENT}
        if not todo:
            return
        parts = [self.protocol.patches(im) for im in todo.values()]
        self.prepare()
        if self._extractor is None:
            self._extractor = InceptionFeatures(str(self._weights_path), self.device, self.batch_size)
        features = self._extractor(np.concatenate(parts) if len(parts) > 1 else parts[0])
        start = 0
        for key, patches in zip(todo, parts, strict=True):
            _RECENT[key] = features[start:start + len(patches)]
            start += len(patches)
        while len(_RECENT) > _RECENT_MAX:
            _RECENT.popitem(last=False)

    def _features(self, image: np.ndarray) -> np.ndarray:
        key = self._key(image)
        if key not in _RECENT:
            self._extract([image])
        _RECENT.move_to_end(key)
        return _RECENT[key]

    def _reference_missing(self, original: np.ndarray, context: ImageContext | None) -> bool:
        if context is None:
            return False
        from gcbench.results.features import reference_path

        return (self._key(original) not in _RECENT
                and not reference_path(self.reference_identity(), context.sha256).is_file())

    def item_features(self, original: np.ndarray, reconstruction: np.ndarray, context: ImageContext) -> np.ndarray:
        if self._reference_missing(original, context):
            # The original's features are asked for next (the first task of each image computes
            # them): one batch of twice the patches keeps the network busier than two.
            self._extract([reconstruction, original])
        return self._features(reconstruction)

    def reference_features(self, original: np.ndarray, context: ImageContext) -> np.ndarray:
        return self._features(original)

    def _flags(self, n: int) -> list[str]:
        flags = []
        if n < COMPARABLE_PATCHES:
            flags.append(f"only {n} patches (< {COMPARABLE_PATCHES}): biased, not comparable with larger sets")
        if self._override is not None:
            flags.append(f"NOT the published Inception: {self._override.label}")
        return flags

    @staticmethod
    def _stack(arrays: list[np.ndarray], what: str) -> np.ndarray:
        if not arrays:
            raise MetricError(f"no {what} features to compute from")
        return np.concatenate([np.asarray(a, dtype=np.float32) for a in arrays], axis=0)

    def finalize(self, features: list[np.ndarray], references: list[np.ndarray]) -> SetResult:
        recon = self._stack(features, "reconstruction")
        ref = self._stack(references, "original")
        if len(recon) < 2 or len(ref) < 2:
            raise MetricError(f"{len(recon)} reconstruction and {len(ref)} original patches: at least 2 each are needed")
        values, extra = self._values(recon, ref)
        return SetResult(values=values, n_items=len(recon), flags=self._flags(len(recon)) + extra)

    def _values(self, recon: np.ndarray, ref: np.ndarray) -> tuple[dict[str, float], list[str]]:
        raise NotImplementedError


def fid_from_features(recon: np.ndarray, ref: np.ndarray) -> float:
    """torch-fidelity's FID between two feature sets (its statistics and its formula)."""
    import torch
    from torch_fidelity.metric_fid import (
        KEY_METRIC_FID,
        fid_features_to_statistics,
        fid_statistics_to_metric,
    )

    s1 = fid_features_to_statistics(torch.from_numpy(recon))
    s2 = fid_features_to_statistics(torch.from_numpy(ref))
    return float(fid_statistics_to_metric(s1, s2, verbose=False)[KEY_METRIC_FID])


def kid_subset_size(n_recon: int, n_ref: int) -> int:
    return min(n_recon, n_ref, KID_MAX_SUBSET)


def kid_from_features(recon: np.ndarray, ref: np.ndarray) -> tuple[float, float, int]:
    """torch-fidelity's KID (its defaults: 100 subsets, cubic kernel, seed 2020) with subset
    size min(n, 1000); returns (mean, std, subset size)."""
    import torch
    from torch_fidelity.defaults import DEFAULTS
    from torch_fidelity.metric_kid import (
        KEY_METRIC_KID_MEAN,
        KEY_METRIC_KID_STD,
        kid_features_to_metric,
    )

    size = kid_subset_size(len(recon), len(ref))
    kwargs = {k: v for k, v in DEFAULTS.items() if k.startswith("kid_") or k == "rng_seed"}
    kwargs.update(kid_subset_size=size, verbose=False)
    out = kid_features_to_metric(torch.from_numpy(recon), torch.from_numpy(ref), **kwargs)
    return float(out[KEY_METRIC_KID_MEAN]), float(out[KEY_METRIC_KID_STD]), size


class FID(_PatchInceptionMetric):
    name = "fid"
    columns = (Column("fid", higher_is_better=False, label="FID", minimum=0.0),)

    def _values(self, recon: np.ndarray, ref: np.ndarray) -> tuple[dict[str, float], list[str]]:
        return {"fid": fid_from_features(recon, ref)}, []


class KID(_PatchInceptionMetric):
    name = "kid"
    columns = (
        Column("kid", higher_is_better=False, label="KID"),
        Column("kid_std", higher_is_better=False, label="KID std", axis=False),
    )

    def _values(self, recon: np.ndarray, ref: np.ndarray) -> tuple[dict[str, float], list[str]]:
        mean, std, size = kid_from_features(recon, ref)
        extra = [] if size == KID_MAX_SUBSET else [f"KID subset size {size} (fewer than {KID_MAX_SUBSET} patches)"]
        return {"kid": mean, "kid_std": std}, extra
