"""NIQE through pyiqa, with the MATLAB reference's pristine model.

NIQE (Mittal et al. 2012) is a no-reference score (lower is more natural). pyiqa computes it;
its model file is made from the MATLAB reference's pristine parameters, which gcbench ships
(``niqe-pristine`` in gcbench.weights, from BasicSR, Apache-2.0) and converts once into the
``.mat`` layout pyiqa reads.

Which grey image NIQE scores decides its value:

- ``color_space="ycbcr"`` (default): the Y of MATLAB's ``rgb2ycbcr`` (BT.601, 16–235). It
  reproduces BasicSR's MATLAB figure for baboon.png, 5.72957338 (5.7296): gcbench gives 5.7300.
  BasicSR's own re-implementation uses the same Y, so that figure is evidently a Y-channel one.
- ``color_space="gray"``: what the official release's ``computequality.m`` does with a colour
  image, ``rgb2gray``: MATLAB's weights 0.298936021293776, 0.587043074451121, 0.114020904255103
  (the first row of inv(NTSC matrix); documented as 0.2989, 0.5870, 0.1140), and for a uint8
  image a uint8 result, rounded to nearest with halves away from zero (MATLAB's conversion to an
  integer class). Use it to match numbers made with the release code (baboon.png: 5.7498).
- ``color_space="yiq"``: pyiqa's own ``niqe`` preset, the Y of YIQ (5.7318 on baboon).

Each row has the reconstruction's NIQE and, for comparison, the original's (computed once per
original image and cached on disk). pyiqa is imported only when NIQE is used: its import pulls
in many packages and takes seconds.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from gcbench.core.availability import Availability, require_modules
from gcbench.core.errors import ConfigError, MetricError
from gcbench.metrics.base import Column, NoRefMetric

WEIGHTS_ENTRY = "niqe-pristine"
BLOCK = 96  # NIQE's block size: both sides must hold at least one block
COLOR_SPACES = ("ycbcr", "gray", "yiq")
# MATLAB's rgb2gray: the first row of inv([1 0.956 0.621; 1 -0.272 -0.647; 1 -1.106 1.703])
RGB2GRAY = (0.298936021293776, 0.587043074451121, 0.114020904255103)


def matlab_rgb2gray(image: np.ndarray) -> np.ndarray:
    """MATLAB's ``rgb2gray`` of a uint8 RGB image: the weighted sum, rounded half away from zero to uint8."""
    weighted = np.asarray(image, dtype=np.float64) @ np.asarray(RGB2GRAY)
    return np.floor(np.clip(weighted, 0.0, 255.0) + 0.5).astype(np.uint8)  # non-negative: half up = away from 0


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def pyiqa_model_file(npz_path: Path) -> Path:
    """pyiqa's ``niqe_modelparameters.mat`` layout made from the pristine ``.npz`` (cached by its hash)."""

    import scipy.io

    from gcbench import weights
    from gcbench.core.resources import cache_dir

    digest = weights.file_sha256(npz_path)
    target = cache_dir("niqe") / f"niqe_modelparameters-{digest[:16]}.mat"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with np.load(npz_path) as npz:
        params = {"mu_prisparam": npz["mu_pris_param"], "cov_prisparam": npz["cov_pris_param"]}
    from gcbench.core.atomic import atomic_path

    with atomic_path(target, suffix=".mat") as tmp:
        scipy.io.savemat(tmp, params)
    return target


class NIQE(NoRefMetric):
    name = "niqe"
    columns = (
        Column("niqe", higher_is_better=False, label="NIQE", minimum=0.0),
        Column("niqe_original", higher_is_better=False, label="NIQE of the original", minimum=0.0, axis=False),
    )
    library = "pyiqa"
    uses_device = True

    def __init__(self, device: str = "cpu", color_space: str = "ycbcr") -> None:
        if color_space not in COLOR_SPACES:
            raise ConfigError(f"NIQE color_space must be one of {COLOR_SPACES}, got {color_space!r}")
        super().__init__(device, color_space=color_space)
        self.color_space = color_space
        self._model: Any = None
        self._originals: dict[str, float] = {}

    @classmethod
    def available(cls) -> Availability:
        return require_modules("torch", "pyiqa", "scipy", extra="niqe")

    def versions(self) -> dict[str, str]:
        from gcbench import weights

        return {"pyiqa": _version("pyiqa"), "torch": _version("torch"), "model": weights.identity_of(WEIGHTS_ENTRY)}

    def preflight(self) -> None:
        from gcbench import weights

        weights.resolve(WEIGHTS_ENTRY)

    def prepare(self) -> None:
        if self._model is not None:
            return
        from gcbench import weights

        mat = pyiqa_model_file(weights.resolve(WEIGHTS_ENTRY))
        import pyiqa

        # "gray" images arrive as one channel, which pyiqa scores as they are (no colour conversion)
        color_space = "ycbcr" if self.color_space == "gray" else self.color_space
        self._model = pyiqa.create_metric("niqe", device=self.device, color_space=color_space,
                                          pretrained_model_path=str(mat))

    def score(self, image: np.ndarray) -> float:
        """NIQE of one uint8 H×W×3 image, fed to pyiqa as its image loader would (float32 in [0, 1])."""
        import torch

        h, w = image.shape[:2]
        if h < BLOCK or w < BLOCK:
            raise MetricError(f"image {w}×{h} is too small for NIQE: both sides must be at least {BLOCK} px")
        self.prepare()
        if self.color_space == "gray":
            image = matlab_rgb2gray(image)[..., None]
        x = torch.tensor(image).permute(2, 0, 1)[None].to(torch.float32) / 255.0  # a copy: may be read-only
        with torch.no_grad():
            value = float(self._model(x.to(self.device)).flatten()[0])
        if not np.isfinite(value):
            raise MetricError(f"NIQE is not finite for this {w}×{h} image (too few 96×96 blocks with texture)")
        return value

    def _original_score(self, original: np.ndarray) -> float:
        from gcbench.core.resources import cache_dir
        from gcbench.core.arrays import load_array, save_array

        h = hashlib.sha256(np.ascontiguousarray(original).tobytes())
        h.update(json.dumps([original.shape, self.identity()]).encode())
        key = h.hexdigest()[:40]
        if key in self._originals:
            return self._originals[key]
        path = cache_dir("niqe-originals") / f"{key}.npy"
        if path.is_file():
            value = float(load_array(path))
        else:
            value = self.score(original)
            save_array(path, np.float64(value))
        self._originals[key] = value
        return value

    def compute(self, original: np.ndarray | None, reconstruction: np.ndarray) -> dict[str, float]:
        out = {"niqe": self.score(reconstruction)}
        if original is not None:
            out["niqe_original"] = self._original_score(original)
        return out
