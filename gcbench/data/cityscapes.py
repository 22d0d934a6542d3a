"""Cityscapes, read from the user's copy in the official layout, with ``labelTrainIds`` labels.

Cityscapes cannot be downloaded without an account (its licence forbids redistribution), so
gcbench reads a copy the user has::

    ROOT/leftImg8bit/val/<city>/<city>_<seq>_<frame>_leftImg8bit.png          the images
    ROOT/gtFine/val/<city>/<city>_<seq>_<frame>_gtFine_labelTrainIds.png      the labels
    ROOT/gtFine/val/<city>/<city>_<seq>_<frame>_gtFine_instanceIds.png        the instances (iIoU)

``labelTrainIds`` maps the 19 evaluated classes to 0…18 and everything else to 255 (ignored);
the official archives ship only ``*_labelIds.png``, from which cityscapesScripts'
``createTrainIdLabelImgs`` (or mmsegmentation's ``tools/dataset_converters/cityscapes.py``)
writes them. ROOT is ``--data-root``, else ``$GCBENCH_DATA/cityscapes``, else
``~/.cache/gcbench/datasets/cityscapes``.

``gcbench run --dataset cityscapes --data-root ROOT`` uses the validation split (500 images, the
split PSPNet's published mIoU is measured on). A task metric finds the label of an image from
the image's own path (:func:`label_path`): the last ``leftImg8bit`` folder becomes ``gtFine`` and
the suffix ``_leftImg8bit.png`` becomes ``_gtFine_labelTrainIds.png``; so it also works for a
folder inside the layout given as a plain dataset path. The instance map beside it
(``*_gtFine_instanceIds.png``, shipped in the official archive: ``labelId × 1000 + k`` on the
pixels of instance ``k``) is what cityscapesScripts' instance-weighted iIoU reads; without it
only the iIoU is left out.

The tables below are cityscapesScripts' (``helpers/labels.py`` and ``avgClassSize`` of
``evaluation/evalPixelLevelSemanticLabeling.py``) for the 19 evaluated classes, which the tests
check against the installed package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gcbench.core.defaults import env
from gcbench.core.errors import DatasetError, MetricError
from gcbench.core.resources import cache_dir
from gcbench.data.datasets import Dataset, ImageRef

IMAGES = "leftImg8bit"
LABELS = "gtFine"
IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelTrainIds.png"
RAW_LABEL_SUFFIX = "_gtFine_labelIds.png"
INSTANCE_SUFFIX = "_gtFine_instanceIds.png"
SPLITS = {"train": 2975, "val": 500, "test": 1525}
IGNORE_INDEX = 255
URL = "https://www.cityscapes-dataset.com/"
LAYOUT = (f"ROOT/{IMAGES}/<split>/<city>/*{IMAGE_SUFFIX} and ROOT/{LABELS}/<split>/<city>/*{LABEL_SUFFIX}")
GET_IT = (f"Register at {URL}, download leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip, unzip both "
          "into ROOT, create the labelTrainIds files with cityscapesScripts' createTrainIdLabelImgs, and pass "
          "--data-root ROOT (or put ROOT at $GCBENCH_DATA/cityscapes)")

#: the 19 evaluated classes in train-id order: (name, labelId, category)
EVALUATED = (("road", 7, "flat"), ("sidewalk", 8, "flat"), ("building", 11, "construction"),
             ("wall", 12, "construction"), ("fence", 13, "construction"), ("pole", 17, "object"),
             ("traffic light", 19, "object"), ("traffic sign", 20, "object"), ("vegetation", 21, "nature"),
             ("terrain", 22, "nature"), ("sky", 23, "sky"), ("person", 24, "human"), ("rider", 25, "human"),
             ("car", 26, "vehicle"), ("truck", 27, "vehicle"), ("bus", 28, "vehicle"), ("train", 31, "vehicle"),
             ("motorcycle", 32, "vehicle"), ("bicycle", 33, "vehicle"))
#: the categories with an evaluated class, in cityscapesScripts' order ("void" has none)
CATEGORIES = ("flat", "construction", "object", "nature", "sky", "human", "vehicle")
#: average instance size (pixels) of each evaluated class with instances: iIoU weighs an
#: instance's pixels by this over its own size (cityscapesScripts' avgClassSize)
AVG_CLASS_SIZE = {"person": 3462.4756337644, "rider": 3930.4788056518, "car": 12794.0202738185,
                  "truck": 27855.1264367816, "bus": 35732.1511111111, "train": 67583.7075812274,
                  "motorcycle": 6298.7200839748, "bicycle": 4672.3249222261}
#: instance ids above this are ``labelId * 1000 + k`` (smaller values are a label id alone)
INSTANCE_BASE = 1000


def _ground_truth_path(image_path: str | Path, suffix: str) -> Path:
    path = Path(image_path)
    parts = list(path.parts)
    if not path.name.endswith(IMAGE_SUFFIX) or IMAGES not in parts[:-1]:
        raise DatasetError(
            f"{path} is not in the Cityscapes layout ({LAYOUT}), so it has no label; the 'miou' metric needs "
            "Cityscapes labels (--dataset cityscapes --data-root ROOT); 'miou-pseudo' needs none")
    i = len(parts) - 2 - parts[-2::-1].index(IMAGES)  # the last leftImg8bit folder
    parts[i] = LABELS
    parts[-1] = path.name[: -len(IMAGE_SUFFIX)] + suffix
    return Path(*parts)


def label_path(image_path: str | Path) -> Path:
    """The ``labelTrainIds`` file of a Cityscapes image, from the image's path."""
    return _ground_truth_path(image_path, LABEL_SUFFIX)


def instance_path(image_path: str | Path) -> Path:
    """The ``instanceIds`` file of a Cityscapes image, from the image's path."""
    return _ground_truth_path(image_path, INSTANCE_SUFFIX)


def read_label(image_path: str | Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """The label map (H×W uint8: 0…18, 255 ignored) of a Cityscapes image; checks its size."""
    from PIL import Image

    path = label_path(image_path)
    if not path.is_file():
        raw = path.with_name(path.name[: -len(LABEL_SUFFIX)] + RAW_LABEL_SUFFIX)
        hint = (f" ({raw.name} is there: create the labelTrainIds files with cityscapesScripts' "
                "createTrainIdLabelImgs)") if raw.is_file() else ""
        raise MetricError(f"no label for {Path(image_path).name}: {path} is missing{hint}")
    with Image.open(path) as im:
        if im.mode not in ("L", "P", "I", "I;16"):
            raise MetricError(f"{path}: a labelTrainIds file is a one-channel image, this one is {im.mode}")
        label = np.asarray(im)
    if label.max(initial=0) > 255:
        raise MetricError(f"{path}: label values above 255")
    label = label.astype(np.uint8)
    if shape is not None and label.shape != tuple(shape):
        raise MetricError(f"{path} is {label.shape[1]}×{label.shape[0]}, its image is {shape[1]}×{shape[0]} "
                          "(for images made smaller than their labels, score at the labels' resolution: "
                          "--metric-option miou.score_at=label)")
    return label


def read_instances(image_path: str | Path, shape: tuple[int, int] | None = None) -> np.ndarray | None:
    """The instance map (H×W int32, ``labelId × 1000 + k``) of a Cityscapes image; None when the
    file is not there. ``shape`` is checked when given (the label map's)."""
    from PIL import Image

    path = instance_path(image_path)
    if not path.is_file():
        return None
    with Image.open(path) as im:
        if im.mode not in ("L", "P", "I", "I;16"):
            raise MetricError(f"{path}: an instanceIds file is a one-channel image, this one is {im.mode}")
        instances = np.asarray(im).astype(np.int32)
    if shape is not None and instances.shape != tuple(shape):
        raise MetricError(f"{path} is {instances.shape[1]}×{instances.shape[0]}, its label map is "
                          f"{shape[1]}×{shape[0]}")
    return instances


def find_root(root: str | Path | None) -> Path:
    """The Cityscapes root: ``root``, else ``$GCBENCH_DATA/cityscapes``, else the cache; raises naming what is missing."""
    candidates = [Path(root).expanduser()] if root is not None else []
    data_root = env("GCBENCH_DATA")
    if data_root and root is None:
        candidates.append(Path(data_root) / "cityscapes")
    if root is None:
        candidates.append(cache_dir("datasets", "cityscapes"))
    for cand in candidates:
        if (cand / IMAGES).is_dir():
            return cand
    if root is not None:
        raise DatasetError(f"{root}: not a Cityscapes root, no {IMAGES}/ folder in it (expected {LAYOUT})")
    raise DatasetError(f"Cityscapes not found (looked in {', '.join(map(str, candidates))}). {GET_IT}")


def scan(root: str | Path, split: str = "val") -> list[ImageRef]:
    """Every image of a split with its label checked present; a clear error on a wrong layout."""
    if split not in SPLITS:
        raise DatasetError(f"unknown Cityscapes split {split!r}; choose one of {', '.join(SPLITS)}")
    root = Path(root)
    folder = root / IMAGES / split
    if not folder.is_dir():
        found = sorted(p.name for p in (root / IMAGES).iterdir() if p.is_dir()) if (root / IMAGES).is_dir() else []
        raise DatasetError(f"{root}: no {IMAGES}/{split}/ folder (found {found or 'nothing'}; expected {LAYOUT})")
    images = sorted(p for p in folder.glob(f"*/*{IMAGE_SUFFIX}") if p.is_file())
    if not images:
        stray = sorted(folder.rglob("*.png"))[:3]
        raise DatasetError(
            f"{folder}: no <city>/*{IMAGE_SUFFIX} files (expected {LAYOUT})"
            + (f"; found e.g. {', '.join(str(p.relative_to(root)) for p in stray)}" if stray else ""))
    missing = [p for p in images if not label_path(p).is_file()]
    if missing:
        raw = sum(label_path(p).with_name(label_path(p).name[: -len(LABEL_SUFFIX)] + RAW_LABEL_SUFFIX).is_file()
                  for p in missing)
        hint = (f"; {raw} of them have *{RAW_LABEL_SUFFIX}: create the labelTrainIds files with cityscapesScripts' "
                "createTrainIdLabelImgs") if raw else ""
        shown = ", ".join(str(label_path(p).relative_to(root)) for p in missing[:3])
        raise DatasetError(f"{root}: {len(missing)} of {len(images)} images have no label file ({shown}"
                           f"{', …' if len(missing) > 3 else ''}){hint}")
    return [ImageRef(p.relative_to(folder).as_posix(), p) for p in images]


@dataclass(frozen=True)
class CityscapesAdapter:
    """The ``cityscapes`` entry of the dataset registry: a reader, not a file manifest."""

    name: str = "cityscapes"
    split: str = "val"
    description: str = "Cityscapes val (500 street scenes, 2048×1024) with gtFine labelTrainIds, from your copy"
    license: str = "Cityscapes terms of use (non-commercial; no redistribution)"
    url: str = URL
    files: dict[str, str] = field(default_factory=dict)  # no manifest: the files are the user's

    @property
    def n_images(self) -> int:
        return SPLITS[self.split]

    def load(self, root: str | Path | None = None) -> Dataset:
        found = find_root(root)
        return Dataset(name=self.name, root=found, images=tuple(scan(found, self.split)),
                       notes=(f"Cityscapes {self.split}: labels from {LABELS}/*{LABEL_SUFFIX}",))


CITYSCAPES = CityscapesAdapter()


def load_cityscapes(root: str | Path | None = None, split: str = "val") -> Dataset:
    """Cityscapes ``split`` from ``root`` (see the module's notes for where it is looked for)."""
    return CityscapesAdapter(name="cityscapes" if split == "val" else f"cityscapes-{split}", split=split).load(root)
