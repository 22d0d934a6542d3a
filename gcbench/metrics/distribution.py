"""FID and KID over patches, as HiFiC and NeuralCompression compute them, through torch-fidelity.

Patch protocol (Mentzer et al. 2020, NeuralCompression ``update_patch_fid``): every image,
original and reconstruction alike, is cut into non-overlapping ``size``×``size`` patches on a
grid starting at the top-left corner, plus the same grid shifted by ``shift`` pixels in both
directions when both sides are at least ``size + shift`` (256 and 128 by default: Kodak's
512×768 gives 6 + 2 = 8 patches an image). Leftover borders are dropped.

Features are torch-fidelity's ``inception-v3-compat`` 2048-d pool features (the network of the
original TensorFlow FID). Each (codec, setting) accumulates the features of its reconstructions'
patches; the originals' features are computed once per image and cached by the run under
``reference_identity()``, a hash of the extractor, its weights and the protocol (the run hands
the cache back through ``use_references``). The values equal torch-fidelity's
``calculate_metrics`` on folders of the same patches, in memory bounded whatever the number of
patches (features arrive as feature sets read one image at a time):

- FID from streamed statistics: a running sum and sum of outer products in float64 (shifted by
  the first rows' mean, against cancellation), chunk by chunk, give the mean and covariance
  that torch-fidelity's ``fid_features_to_statistics`` computes from all features at once;
  torch-fidelity's ``fid_statistics_to_metric`` turns them into FID.
- KID: torch-fidelity's ``kid_features_to_metric`` loop (its 100 subsets drawn from its seeded
  generator, its kernel and MMD estimator), each subset's rows read by index from disk instead
  of from all features in memory. Subset size min(n, 1000), so small sets give a value instead
  of an error; below 1,000 patches (or when both sets have exactly the subset size) every
  subset of the smaller set is the whole set, so ``kid_std`` is left empty (NaN) and flagged.

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
from gcbench.metrics.set_inputs import FeatureSet, as_feature_set

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

        from gcbench.metrics.precision import full_precision

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


class FeatureStatistics:
    """Mean and covariance of feature rows added chunk by chunk, in float64 (bounded memory).

    Rows are shifted by the first chunk's mean before the sums: the covariance is
    (Σ dᵀd − s sᵀ/n)/(n − 1) with d = x − shift and s = Σ d, which loses far less to
    cancellation than Σ xᵀx − n μμᵀ when features have a large mean.
    """

    def __init__(self) -> None:
        self.n = 0
        self.shift: np.ndarray | None = None
        self.sum: np.ndarray | None = None
        self.outer: np.ndarray | None = None

    def add(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.float64)
        if not len(rows):
            return
        if self.shift is None:
            self.shift = rows.mean(axis=0)
            self.sum = np.zeros_like(self.shift)
            self.outer = np.zeros((len(self.shift), len(self.shift)))
        d = rows - self.shift
        self.n += len(rows)
        self.sum += d.sum(axis=0)
        self.outer += d.T @ d

    def mean(self) -> np.ndarray:
        assert self.shift is not None and self.sum is not None
        return self.shift + self.sum / self.n

    def covariance(self) -> np.ndarray:
        """The unbiased covariance (``np.cov``'s, as torch-fidelity's statistics use)."""
        assert self.sum is not None and self.outer is not None
        return (self.outer - np.outer(self.sum, self.sum) / self.n) / (self.n - 1)


STATISTICS_CHUNK = 2048  # rows per float64 outer-product update: 32 MB for 2048-d features


def streamed_statistics(features: Any, chunk_rows: int = STATISTICS_CHUNK) -> FeatureStatistics:
    """:class:`FeatureStatistics` of a feature set, read one array at a time, added in chunks of rows."""
    stats = FeatureStatistics()
    pending: list[np.ndarray] = []
    n_pending = 0
    for array in as_feature_set(features):
        for start in range(0, len(array), chunk_rows):
            part = np.asarray(array[start:start + chunk_rows], dtype=np.float32)
            pending.append(part)
            n_pending += len(part)
            if n_pending >= chunk_rows:
                stats.add(np.concatenate(pending))
                pending, n_pending = [], 0
    if pending:
        stats.add(np.concatenate(pending))
    return stats


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
        return self._key(original) not in _RECENT and context.sha256 not in self.references

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

    def finalize(self, features: Any, references: Any) -> SetResult:
        recon, ref = as_feature_set(features), as_feature_set(references)
        for what, fs in (("reconstruction", recon), ("original", ref)):
            if not len(fs):
                raise MetricError(f"no {what} features to compute from")
        n_recon, n_ref = recon.n_rows(), ref.n_rows()
        if n_recon < 2 or n_ref < 2:
            raise MetricError(f"{n_recon} reconstruction and {n_ref} original patches: at least 2 each are needed")
        values, extra = self._values(recon, ref)
        return SetResult(values=values, n_items=n_recon, flags=self._flags(n_recon) + extra)

    def _values(self, recon: FeatureSet, ref: FeatureSet) -> tuple[dict[str, float], list[str]]:
        raise NotImplementedError


def fid_from_statistics(recon: FeatureStatistics, ref: FeatureStatistics) -> float:
    """torch-fidelity's FID formula on streamed statistics."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    s1 = {"mu": recon.mean(), "sigma": recon.covariance()}
    s2 = {"mu": ref.mean(), "sigma": ref.covariance()}
    return float(fid_statistics_to_metric(s1, s2, verbose=False)[KEY_METRIC_FID])


def fid_from_features(recon: Any, ref: Any) -> float:
    """FID between two feature sets (arrays or lists of arrays too), from streamed statistics."""
    return fid_from_statistics(streamed_statistics(recon), streamed_statistics(ref))


def kid_subset_size(n_recon: int, n_ref: int) -> int:
    """KID's subset size: min(n, 1000) over both sides, as torch-fidelity draws it."""
    return min(n_recon, n_ref, KID_MAX_SUBSET)


def kid_from_features(recon: Any, ref: Any) -> tuple[float, float, int]:
    """torch-fidelity's KID (its defaults: 100 subsets, cubic kernel, seed 2020) with subset
    size min(n, 1000); returns (mean, std, subset size).

    The loop is torch-fidelity's ``kid_features_to_metric`` (same generator, same draws, same
    ``kernel_mmd``), with each subset's rows read from the feature sets by index, so only two
    subsets are in memory at a time.
    """
    from torch_fidelity.defaults import DEFAULTS
    from torch_fidelity.metric_kid import kernel_mmd

    recon, ref = as_feature_set(recon), as_feature_set(ref)
    n_recon, n_ref = recon.n_rows(), ref.n_rows()
    size = kid_subset_size(n_recon, n_ref)
    kwargs = {k: v for k, v in DEFAULTS.items() if k.startswith("kid_") or k == "rng_seed"}
    kwargs.update(kid_subset_size=size, verbose=False)
    rng = np.random.RandomState(kwargs["rng_seed"])
    mmds = np.zeros(kwargs["kid_subsets"])
    for i in range(len(mmds)):
        f1 = np.asarray(recon.take(rng.choice(n_recon, size, replace=False)), dtype=np.float32)
        f2 = np.asarray(ref.take(rng.choice(n_ref, size, replace=False)), dtype=np.float32)
        mmds[i] = kernel_mmd(f1, f2, **kwargs)
    return float(np.mean(mmds)), float(np.std(mmds)), size


def kid_std_flag(size: int, n_recon: int, n_ref: int) -> str | None:
    """Why ``kid_std`` is left empty, or None when it means something: the subsets of the smaller
    set are all that whole set (fewer than 1,000 patches, or both sets exactly the subset size)."""
    if size < KID_MAX_SUBSET:
        return (f"KID subset size {size} (fewer than {KID_MAX_SUBSET} patches): every subset is the whole set, "
                "kid_std left empty")
    if n_recon == n_ref == size:
        return f"KID over exactly {size} patches: every subset is the whole set, kid_std left empty"
    return None


class FID(_PatchInceptionMetric):
    name = "fid"
    columns = (Column("fid", higher_is_better=False, label="FID", minimum=0.0),)

    def _values(self, recon: FeatureSet, ref: FeatureSet) -> tuple[dict[str, float], list[str]]:
        return {"fid": fid_from_features(recon, ref)}, []


class KID(_PatchInceptionMetric):
    name = "kid"
    implementation_version = 2  # 2: kid_std left empty where every subset is the whole set
    columns = (
        Column("kid", higher_is_better=False, label="KID"),
        Column("kid_std", higher_is_better=False, label="KID std", axis=False),
    )

    def _values(self, recon: FeatureSet, ref: FeatureSet) -> tuple[dict[str, float], list[str]]:
        mean, std, size = kid_from_features(recon, ref)
        why = kid_std_flag(size, recon.n_rows(), ref.n_rows())
        return {"kid": mean, "kid_std": float("nan") if why else std}, [why] if why else []
