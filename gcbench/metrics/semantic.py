"""Semantic fidelity: PSPNet mIoU on reconstructions, as mmsegmentation's ``IoUMetric`` computes it.

Two task metrics, one per kind of label:

- ``miou``: against the Cityscapes ground truth (``gtFine`` ``labelTrainIds``, found beside each
  image by :mod:`gcbench.data.cityscapes`), the protocol of generative-compression papers;
- ``miou-pseudo``: against PSPNet's own segmentation of the original image ("semantic
  preservation"), for any dataset, no labels needed. A lossless codec scores exactly 1.

Per task the worker segments the reconstruction (:mod:`gcbench.metrics.pspnet`) and stores a
confusion matrix (20×19 int64): rows are label classes 0…18 plus one row for label values
outside 0…18 other than the ignore index 255, columns the predicted class. Pixels labelled 255
are left out. Per (codec, setting) the matrices are summed over the images and turned into
mmsegmentation's totals — intersection = diagonal, predicted area = column sums (the extra row
included, as ``intersect_and_union`` counts a prediction wherever the label is not 255), label
area = row sums of the 19 classes — and then into its metrics: per-class IoU = intersection /
union (NaN for a class absent from both), mIoU = nanmean of the IoUs, per-class accuracy and mAcc
likewise, aAcc = Σ intersection / Σ label area. Counts are exact integers (mmsegmentation sums
float32 histograms) and values are fractions in [0, 1] (mmsegmentation prints percent rounded to
two decimals). Per-class IoUs are columns (``iou_road`` …, ``iou_pseudo_road`` …).

cityscapesScripts' further scores (:mod:`gcbench.metrics.cityscapes_eval`) come from the same
sums: category IoU in both modes (``miou_cat``, ``iou_cat_flat`` …; ``miou_cat_pseudo`` …) and,
against the ground truth, the instance-weighted iIoU from ``*_gtFine_instanceIds.png``
(``iiou``, ``iiou_person`` …, ``iiou_cat``, ``iiou_cat_human``, ``iiou_cat_vehicle``). For that
each ``miou`` task stores a (24, 19) float64 array: the confusion matrix (exact integers) and
four rows of weighted instance counts (NaN when the image has no instance map: its setting's
iIoU is then left empty and flagged).

Reference features (cached by the set stage per original image content): none for ``miou`` (a
label belongs to a file, not to pixels); for ``miou-pseudo`` the original's segmentation,
PNG-compressed (a label map compresses ~50×), which workers reuse instead of segmenting the
original again.

Options: ``checkpoint=PATH`` (another file instead of the model zoo's; flagged),
``random_init=true`` with ``seed`` (the offline stand-in; flagged, for tests only),
``test_scale=[W, H]`` (inference size other than the config's 2048×1024; flagged),
``batch_size`` (default 2: the original and a reconstruction go through together),
``score_at`` (``miou`` only): ``image`` (default; label and image of one size) or ``label`` for
images made smaller than their labels (e.g. 1024×512 inputs of a generator): the prediction is
upsampled to the label's size, nearest neighbour (Pillow's NEAREST; for an integer factor every
pixel repeated), and scored there, as the Cityscapes protocol for such generators does.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ClassVar

import numpy as np

from gcbench.core.availability import Availability, require_modules
from gcbench.core.errors import ConfigError, MetricError
from gcbench.metrics.base import Column, ImageContext, SetMetric, SetResult
from gcbench.metrics.cityscapes_eval import (
    CATEGORIES,
    INSTANCE_CATEGORIES,
    INSTANCE_CLASSES,
    INSTANCE_ROWS,
    category_ious,
    instance_counts,
    instance_ious,
)
from gcbench.metrics.set_inputs import as_feature_set

CLASSES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
           "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")
NUM_CLASSES = len(CLASSES)
IGNORE_INDEX = 255
OTHER_ROW = NUM_CLASSES  # label values outside 0…18 other than 255
CONFIG_SCALE = (2048, 1024)
CONFUSION_SHAPE = (NUM_CLASSES + 1, NUM_CLASSES)
GROUND_TRUTH_SHAPE = (NUM_CLASSES + 1 + INSTANCE_ROWS, NUM_CLASSES)  # confusion + weighted instance counts
SCORE_AT = ("image", "label")


# -- counting, as mmsegmentation's IoUMetric ------------------------------------------------------


def confusion(pred: np.ndarray, label: np.ndarray) -> np.ndarray:
    """(20, 19) int64 counts of (label row, predicted class) over the pixels not labelled 255."""
    pred = np.asarray(pred)
    label = np.asarray(label)
    if pred.shape != label.shape:
        raise MetricError(f"prediction is {pred.shape}, label is {label.shape}")
    keep = label != IGNORE_INDEX
    p = pred[keep].astype(np.int64)
    if p.size and (p.min() < 0 or p.max() >= NUM_CLASSES):
        raise MetricError(f"predicted classes must be 0…{NUM_CLASSES - 1}, got {p.min()}…{p.max()}")
    lab = label[keep].astype(np.int64)
    rows = np.where((lab >= 0) & (lab < NUM_CLASSES), lab, OTHER_ROW)
    counts = np.bincount(rows * NUM_CLASSES + p, minlength=(NUM_CLASSES + 1) * NUM_CLASSES)
    return counts.reshape(NUM_CLASSES + 1, NUM_CLASSES)


def total_areas(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """mmsegmentation's (intersect, union, pred_label, label) areas from a summed confusion matrix."""
    intersect = np.diag(matrix[:NUM_CLASSES]).astype(np.int64)
    pred_area = matrix.sum(axis=0).astype(np.int64)
    label_area = matrix[:NUM_CLASSES].sum(axis=1).astype(np.int64)
    return intersect, pred_area + label_area - intersect, pred_area, label_area


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return num.astype(np.float64) / den.astype(np.float64)


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


def scores(matrix: np.ndarray) -> dict[str, Any]:
    """IoU and accuracy per class, mIoU, mAcc and aAcc (fractions) from a summed confusion matrix."""
    intersect, union, _pred, label = total_areas(matrix)
    iou = _ratio(intersect, union)
    acc = _ratio(intersect, label)
    return {"iou": iou, "acc": acc, "miou": _nanmean(iou), "macc": _nanmean(acc),
            "aacc": float(_ratio(intersect.sum(), label.sum()))}


def encode_map(label_map: np.ndarray) -> np.ndarray:
    """A label map as PNG bytes in a uint8 array (lossless, ~50× smaller than the raw map)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(label_map, dtype=np.uint8), "L").save(buf, "PNG", compress_level=1)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def decode_map(data: np.ndarray) -> np.ndarray:
    """A label map stored as PNG bytes, back as an array."""
    from PIL import Image

    with Image.open(io.BytesIO(np.asarray(data, dtype=np.uint8).tobytes())) as im:
        return np.asarray(im, dtype=np.uint8)


def upsample_nearest(label_map: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A train-id map resized to ``shape`` (H, W) by Pillow's nearest neighbour (never smaller)."""
    from PIL import Image

    h, w = label_map.shape
    big_h, big_w = int(shape[0]), int(shape[1])
    if (big_h, big_w) == (h, w):
        return label_map
    if big_h < h or big_w < w or abs(big_h * w - big_w * h) > max(big_h, big_w):
        raise MetricError(f"the label is {big_w}×{big_h}, the reconstruction {w}×{h}: score_at=label needs a label "
                          "at least as large, of the same aspect ratio")
    return np.asarray(Image.fromarray(np.ascontiguousarray(label_map, dtype=np.uint8), "L")
                      .resize((big_w, big_h), Image.NEAREST))


def _test_scale(name: str, test_scale: Any) -> tuple[int, int] | None:
    """``test_scale`` as (W, H), or None for the config's own 2048×1024."""
    if test_scale is None:
        return None
    try:
        w, h = (int(v) for v in test_scale)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: test_scale must be [width, height], got {test_scale!r}") from exc
    if w < 1 or h < 1:
        raise ConfigError(f"{name}: test_scale must be positive, got {test_scale!r}")
    return None if (w, h) == CONFIG_SCALE else (w, h)


def _column(name: str) -> str:
    return name.replace(" ", "_")


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


# -- the metrics ----------------------------------------------------------------------------------


class _PSPNetMIoU(SetMetric):
    kind = "task"
    library = "mmsegmentation"
    uses_device = True
    #: 2: category IoU and iIoU columns; ground-truth tasks store instance counts
    implementation_version = 2
    #: column suffix: "" for ground truth, "_pseudo" for the original's segmentation
    suffix: ClassVar[str] = ""
    pseudo: ClassVar[bool] = False

    def __init__(self, device: str = "cpu", checkpoint: str | None = None, random_init: bool = False,
                 seed: int = 0, test_scale: Any = None, batch_size: int = 2, score_at: str = "image",
                 **unknown: Any) -> None:
        if unknown:
            raise ConfigError(f"{self.name}: unknown option(s) {sorted(unknown)}; valid: checkpoint, random_init, "
                              "seed, test_scale, batch_size" + ("" if self.pseudo else ", score_at"))
        if score_at not in SCORE_AT or (self.pseudo and score_at != "image"):
            raise ConfigError(f"{self.name}: score_at must be one of {SCORE_AT}, got {score_at!r}" if not self.pseudo
                              else f"{self.name}: score_at is for 'miou' (its labels are the original's size)")
        if not isinstance(random_init, bool):
            raise ConfigError(f"{self.name}: random_init must be true or false, got {random_init!r}")
        if random_init and checkpoint is not None:
            raise ConfigError(f"{self.name}: give checkpoint or random_init, not both")
        options: dict[str, Any] = {}
        if checkpoint is not None:
            options["checkpoint"] = str(checkpoint)
        if random_init:
            options.update(random_init=True, seed=int(seed))
        self.test_scale = _test_scale(self.name, test_scale)
        if self.test_scale is not None:
            options["test_scale"] = list(self.test_scale)
        self.score_at = score_at
        if score_at != "image":
            options["score_at"] = score_at
        super().__init__(device, **options)
        self.batch_size = int(batch_size)
        self.random_seed = int(seed) if random_init else None
        self._override: Any = None
        self._weights_path: Any = None
        self._segmenter: Any = None
        self._pseudo_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        if checkpoint is not None:
            from gcbench import weights
            from gcbench.metrics.pspnet import WEIGHTS_ENTRY

            self._override = weights.describe_override(checkpoint, WEIGHTS_ENTRY)

    @classmethod
    def available(cls) -> Availability:
        return require_modules("torch", "mmseg", "mmengine", "mmcv", extra="seg")

    def _weights_id(self) -> str:
        from gcbench import weights
        from gcbench.metrics.pspnet import WEIGHTS_ENTRY

        if self.random_seed is not None:
            return f"random-init:he-normal:seed={self.random_seed}"
        return weights.identity_of(WEIGHTS_ENTRY, self._override)

    def versions(self) -> dict[str, str]:
        from gcbench.metrics.mmcv_ops_shim import ops_backend

        return {"mmsegmentation": _version("mmsegmentation"), "mmengine": _version("mmengine"),
                "mmcv": _version("mmcv") if _version("mmcv") != "not installed" else f"lite {_version('mmcv-lite')}",
                "mmcv.ops": ops_backend(), "torch": _version("torch"), "pspnet": self._weights_id()}

    def preflight(self) -> None:
        self.prepare()

    def prepare(self) -> None:
        """Find the weights (fails here, before any image, when they are missing); the model loads on first use."""
        if self._weights_path is not None or self.random_seed is not None:
            return
        if self._override is not None:
            self._weights_path = self._override.path
        else:
            from gcbench import weights
            from gcbench.metrics.pspnet import WEIGHTS_ENTRY

            self._weights_path = weights.resolve(WEIGHTS_ENTRY)

    def segmenter(self) -> Any:
        if self._segmenter is None:
            from gcbench.metrics.pspnet import PSPNetSegmenter

            self.prepare()
            self._segmenter = PSPNetSegmenter(self.device, checkpoint=self._weights_path, random_seed=self.random_seed,
                                              test_scale=self.test_scale, batch_size=self.batch_size)
        return self._segmenter

    # -- labels ----------------------------------------------------------------------------------
    def _cached_pseudo(self, context: ImageContext, shape: tuple[int, ...]) -> np.ndarray | None:
        """The original's segmentation from memory or from the reference features the run handed over."""
        found = self._pseudo_cache.get(context.sha256)
        if found is None:
            cached = self.references.get(context.sha256)
            if cached is not None:
                found = decode_map(cached)
        if found is None or found.shape != tuple(shape[:2]):
            return None
        self._remember(context.sha256, found)
        return found

    def _remember(self, sha256: str, label_map: np.ndarray) -> None:
        self._pseudo_cache[sha256] = label_map
        self._pseudo_cache.move_to_end(sha256)
        while len(self._pseudo_cache) > 4:
            self._pseudo_cache.popitem(last=False)

    def _pseudo_label(self, original: np.ndarray, context: ImageContext) -> np.ndarray:
        found = self._cached_pseudo(context, original.shape)
        if found is None:
            found = self.segmenter().segment([original])[0]
            self._remember(context.sha256, found)
        return found

    # -- the protocol ----------------------------------------------------------------------------
    def item_features(self, original: np.ndarray, reconstruction: np.ndarray, context: ImageContext) -> np.ndarray:
        if reconstruction.shape != original.shape:
            raise MetricError(f"reconstruction is {reconstruction.shape}, original is {original.shape}")
        if not self.pseudo:
            return self._ground_truth_counts(reconstruction, context)
        label = self._cached_pseudo(context, original.shape)
        if np.array_equal(reconstruction, original):
            # the same input gives the same map: no second pass (and no batch-size rounding at ties)
            pred = label if label is not None else self._pseudo_label(original, context)
            label = pred
        elif label is None:
            label, pred = self.segmenter().segment([original, reconstruction])
            self._remember(context.sha256, label)
        else:
            pred = self.segmenter().segment([reconstruction])[0]
        return confusion(pred, label)

    def _ground_truth_counts(self, reconstruction: np.ndarray, context: ImageContext) -> np.ndarray:
        """Confusion matrix and weighted instance counts against the Cityscapes ground truth."""
        from gcbench.data.cityscapes import read_instances, read_label

        at_label = self.score_at == "label"
        # sent by value to workers that cannot see the dataset's files; read beside the image otherwise
        label = (context.label if context.label is not None
                 else read_label(context.path, None if at_label else reconstruction.shape[:2]))
        pred = self.segmenter().segment([reconstruction])[0]
        if at_label:
            pred = upsample_nearest(pred, label.shape)
        matrix = confusion(pred, label)
        instances = read_instances(context.path, label.shape)
        counts = (instance_counts(pred, instances) if instances is not None
                  else np.full((INSTANCE_ROWS, NUM_CLASSES), np.nan))
        return np.concatenate([matrix.astype(np.float64), counts])

    def finalize(self, features: Any, references: Any) -> SetResult:
        arrays = as_feature_set(features)
        if not len(arrays):
            raise MetricError("no confusion matrices to compute from")
        shape = CONFUSION_SHAPE if self.pseudo else GROUND_TRUTH_SHAPE
        total = np.zeros(shape, np.int64 if self.pseudo else np.float64)
        without_instances = 0
        for f in arrays:  # one image's array at a time
            if np.shape(f) != shape:
                raise MetricError(f"a stored {self.name} array has shape {np.shape(f)}, expected {shape} "
                                  "(stored by another gcbench version?)")
            without_instances += int(not self.pseudo and np.isnan(f[NUM_CLASSES + 1:]).any())
            total += f
        values = self._values(total)
        flags = self._flags()
        if without_instances:
            flags.append(f"iIoU left empty: {without_instances} of {len(arrays)} images have no "
                         "*_gtFine_instanceIds.png beside their label")
        return SetResult(values=values, n_items=len(arrays), flags=flags)

    def _values(self, total: np.ndarray) -> dict[str, float]:
        matrix = total[:NUM_CLASSES + 1].astype(np.int64)  # exact integer counts
        s = scores(matrix)
        x = self.suffix
        values = {f"miou{x}": s["miou"], f"macc{x}": s["macc"], f"aacc{x}": s["aacc"]}
        for name, iou in zip(CLASSES, s["iou"], strict=True):
            values[f"iou{x}_{_column(name)}"] = float(iou)
        categories = category_ious(matrix)
        values[f"miou_cat{x}"] = _nanmean(np.array(list(categories.values())))
        values.update({f"iou_cat{x}_{c}": v for c, v in categories.items()})
        if not self.pseudo:
            classes, instance_categories = instance_ious(matrix, total[NUM_CLASSES + 1:])
            values["iiou"] = _nanmean(np.array(list(classes.values())))
            values.update({f"iiou_{_column(c)}": v for c, v in classes.items()})
            values["iiou_cat"] = _nanmean(np.array(list(instance_categories.values())))
            values.update({f"iiou_cat_{c}": v for c, v in instance_categories.items()})
        return values

    def _flags(self) -> list[str]:
        flags = []
        if self.random_seed is not None:
            flags.append(f"NOT the published PSPNet: a randomly initialised stand-in (seed {self.random_seed}), "
                         "for offline tests only; these values mean nothing")
        if self._override is not None:
            flags.append(f"NOT the published PSPNet: {self._override.label}")
        if self.test_scale is not None:
            flags.append(f"inference at {self.test_scale[0]}×{self.test_scale[1]}, "
                         f"not the config's {CONFIG_SCALE[0]}×{CONFIG_SCALE[1]}")
        if self.score_at == "label":
            flags.append("scored at the labels' resolution: predictions upsampled (nearest) from the "
                         "reconstructions' size")
        return flags


def _columns(suffix: str, what: str, instances: bool) -> tuple[Column, ...]:
    fraction = {"minimum": 0.0, "maximum": 1.0}
    cols = [Column(f"miou{suffix}", True, f"mIoU{what}", **fraction),
            Column(f"macc{suffix}", True, f"mAcc{what}", **fraction),
            Column(f"aacc{suffix}", True, f"aAcc{what}", **fraction)]
    cols += [Column(f"iou{suffix}_{_column(c)}", True, f"IoU {c}{what}", **fraction) for c in CLASSES]
    cols.append(Column(f"miou_cat{suffix}", True, f"mIoU categories{what}", **fraction))
    cols += [Column(f"iou_cat{suffix}_{c}", True, f"IoU category {c}{what}", **fraction) for c in CATEGORIES]
    if instances:
        cols.append(Column("iiou", True, "iIoU", **fraction))
        cols += [Column(f"iiou_{_column(c)}", True, f"iIoU {c}", **fraction) for c in INSTANCE_CLASSES]
        cols.append(Column("iiou_cat", True, "iIoU categories", **fraction))
        cols += [Column(f"iiou_cat_{c}", True, f"iIoU category {c}", **fraction) for c in INSTANCE_CATEGORIES]
    return tuple(cols)


class CityscapesMIoU(_PSPNetMIoU):
    """PSPNet mIoU of reconstructions against Cityscapes ground truth (19 classes, ignore 255)."""

    name = "miou"
    columns = _columns("", "", instances=True)
    needs_label = True


class PseudoLabelMIoU(_PSPNetMIoU):
    """PSPNet mIoU of reconstructions against PSPNet's segmentation of the originals."""

    name = "miou-pseudo"
    columns = _columns("_pseudo", " (vs original)", instances=False)
    suffix = "_pseudo"
    pseudo = True

    def reference_features(self, original: np.ndarray, context: ImageContext) -> np.ndarray | None:
        """The original's segmentation, PNG-compressed (cached by the run, reused by workers)."""
        return encode_map(self._pseudo_label(original, context))
