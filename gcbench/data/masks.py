"""Per-image masks: binary regions of interest or saliency maps in [0, 1].

A mask set is a folder whose files are matched to dataset images by name: the image
``sub/kodim01.png`` takes ``MASKS/sub/kodim01.png`` or ``MASKS/sub/kodim01.npy``. A mask is

- a PNG (or any image Pillow reads) in grey: 8-bit values / 255, 16-bit / 65535, 1-bit as 0/1;
- an image with an alpha channel (an RGBA cut-out): the alpha channel / 255;
- a ``.npy`` array H×W (or H×W×1) of bool, integers or floats, already in [0, 1].

A mask must have the image's height and width and values in [0, 1]; anything else is an error
for that image that names the file. Region metrics treat a mask as a weight map (saliency) or
threshold it at 0.5 (inside/outside a region of interest). A run records the mask set it used
(folder, file hashes, one identity hash) in its resolved config; metrics that read masks fold
that identity into theirs, and codecs that encode with a mask fold the mask's hash into their task
keys (gcbench.execution.plan), so other masks mean recomputed values, never stale ones.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from gcbench.core.errors import DatasetError, ImageLoadError
from gcbench.data.images import file_sha256

if TYPE_CHECKING:
    from gcbench.data.datasets import Dataset

MASK_SUFFIXES = (".png", ".npy")


class MaskError(ImageLoadError):
    """A mask file is missing, unreadable, of the wrong size or has values outside [0, 1].

    A child of ImageLoadError: the image cannot be evaluated as asked, and is reported as such.
    """


# -- reading one mask ---------------------------------------------------------------------------


def _check_range(values: np.ndarray, path: Path) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        raise MaskError(f"{path}: mask holds NaN or infinite values; a mask must lie in [0, 1]")
    lo, hi = float(values.min(initial=0.0)), float(values.max(initial=0.0))
    if lo < 0.0 or hi > 1.0:
        raise MaskError(
            f"{path}: mask values outside [0, 1] (min {lo:g}, max {hi:g}); save binary masks as 0/1 "
            "or 0/255 PNG, saliency maps as floats in [0, 1]"
        )
    return values


def _read_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise MaskError(f"{path}: cannot read mask array: {exc}") from exc
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2:
        raise MaskError(f"{path}: a mask array must be H×W (or H×W×1), got shape {array.shape}")
    if array.dtype == bool:
        return array.astype(np.float32)
    if array.dtype.kind not in "iuf":
        raise MaskError(f"{path}: a mask array must hold numbers, got dtype {array.dtype}")
    return _check_range(array.astype(np.float64), path).astype(np.float32)


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                mode = im.mode
            if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
                alpha = np.asarray(im.getchannel("A"), dtype=np.float64)
                return (alpha / 255.0).astype(np.float32)
            if mode == "1":
                return np.asarray(im, dtype=np.float32)
            if mode == "L":
                return (np.asarray(im, dtype=np.float64) / 255.0).astype(np.float32)
            if mode.startswith("I;16") or mode == "I":
                values = np.asarray(im, dtype=np.float64) / 65535.0
                return _check_range(values, path).astype(np.float32)
            if mode == "F":
                return _check_range(np.asarray(im, dtype=np.float64), path).astype(np.float32)
            if mode == "RGB":
                rgb = np.asarray(im)
                if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
                    raise MaskError(
                        f"{path}: an RGB mask must be grey (R = G = B) or carry an alpha channel; "
                        "save it as a greyscale PNG"
                    )
                return (rgb[..., 0].astype(np.float64) / 255.0).astype(np.float32)
    except FileNotFoundError as exc:
        raise MaskError(f"{path}: no such mask file") from exc
    except UnidentifiedImageError as exc:
        raise MaskError(f"{path}: not a recognised image format for a mask") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise MaskError(f"{path}: cannot decode mask: {exc}") from exc
    raise MaskError(f"{path}: unsupported mask mode {mode}; use a greyscale PNG, an alpha channel or a .npy array")


def read_mask(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """A mask as a float32 H×W array in [0, 1]; ``size`` (H, W) is checked when given."""
    path = Path(path)
    if not path.is_file():
        raise MaskError(f"{path}: no such mask file")
    mask = _read_npy(path) if path.suffix.lower() == ".npy" else _read_image(path)
    if size is not None and tuple(mask.shape) != tuple(size):
        raise MaskError(
            f"{path}: mask is {mask.shape[1]}×{mask.shape[0]} (W×H), the image is {size[1]}×{size[0]}; "
            "a mask must have the image's size"
        )
    return np.ascontiguousarray(mask)


@functools.lru_cache(maxsize=4)
def _cached(path: str, sha256: str, size: tuple[int, int]) -> np.ndarray:
    if file_sha256(path) != sha256:
        raise MaskError(f"{path}: mask file changed on disk since the run was planned")
    mask = read_mask(path, size)
    mask.flags.writeable = False  # shared between the codec and every metric of a task
    return mask


def planned_mask(path: str | None, sha256: str | None, size: tuple[int, int]) -> np.ndarray | None:
    """The mask a run planned for an image of ``size`` (H, W), checked against the hash recorded
    when it was planned; None when the image has no mask. Cached: a task's codec and metrics share it."""
    if not path:
        return None
    return _cached(str(path), str(sha256), (int(size[0]), int(size[1])))


# -- a mask set -------------------------------------------------------------------------------


def candidates(root: Path, image_name: str) -> list[Path]:
    """The files that may hold the mask of ``image_name`` (a dataset-relative name)."""
    rel = PurePosixPath(image_name)
    stem = rel.with_suffix("") if rel.suffix else rel
    return [root.joinpath(*stem.parts[:-1], stem.name + suffix) for suffix in MASK_SUFFIXES]


@dataclass(frozen=True)
class MaskSet:
    root: Path
    files: dict[str, Path]  # image name → its mask file
    sha256: dict[str, str]  # image name → SHA-256 of the mask file
    problems: dict[str, str]  # image name → why it has no usable mask file

    @classmethod
    def open(cls, root: str | Path, image_names: list[str]) -> MaskSet:
        root = Path(root).expanduser()
        if not root.is_dir():
            raise DatasetError(f"mask folder {root} does not exist (give --masks a folder of PNG or .npy masks)")
        files, hashes, problems = {}, {}, {}
        for name in image_names:
            found = [p for p in candidates(root, name) if p.is_file()]
            if len(found) > 1:
                problems[name] = f"{' and '.join(str(p) for p in found)} both match image {name}; keep one"
            elif not found:
                looked = " or ".join(str(p) for p in candidates(root, name))
                problems[name] = f"no mask for image {name} (looked for {looked})"
            else:
                files[name] = found[0]
                hashes[name] = file_sha256(found[0])
        if not files:
            raise DatasetError(
                f"mask folder {root}: no file matches any image by name (image a/b.png takes "
                f"{root}/a/b.png or {root}/a/b.npy)"
            )
        return cls(root=root, files=files, sha256=hashes, problems=problems)

    def identity(self) -> str:
        """One hash of every (image, mask file content) pair: what mask-reading results depend on."""
        text = json.dumps(sorted(self.sha256.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        """What a run records: the folder, the identity, each image's mask file and hash."""
        return {
            "root": str(self.root.resolve()),
            "identity": self.identity(),
            "n_masks": len(self.files),
            "files": {n: [self.files[n].relative_to(self.root).as_posix(), self.sha256[n]] for n in sorted(self.files)},
            "problems": dict(sorted(self.problems.items())),
        }

    def check(self, image_name: str, height: int, width: int) -> tuple[str, str]:
        """(path, sha256) of the image's mask after validating it; MaskError names the file otherwise."""
        if image_name in self.problems:
            raise MaskError(self.problems[image_name])
        path = self.files[image_name]
        read_mask(path, (height, width))
        return str(path.resolve()), self.sha256[image_name]


# -- wiring into a run ----------------------------------------------------------------------------


def open_for_run(given: str | Path | None, dataset: Dataset) -> MaskSet | None:
    """The run's mask set: the folder given, else the one the dataset manifest names, else None."""
    root: Path | None = None
    if given:
        root = Path(given)
    else:
        declared = getattr(dataset.manifest, "masks", "") if dataset.manifest is not None else ""
        if declared:
            root = Path(dataset.root) / declared
    if root is None:
        return None
    return MaskSet.open(root, [ref.name for ref in dataset.images])
