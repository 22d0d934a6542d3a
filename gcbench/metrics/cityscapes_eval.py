"""cityscapesScripts' pixel-level scores beyond class IoU: category IoU, and instance-weighted iIoU.

``cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling`` (the official evaluation, the
numbers of the Cityscapes benchmark table) reports, besides the per-class IoU:

- **category IoU**: the 19 classes merged into their 7 categories (flat, construction, object,
  nature, sky, human, vehicle): true positives are pixels of a category's classes predicted as
  any class of the same category; false positives are pixels of evaluated classes of other
  categories predicted in this one (pixels whose label is ignored never count).
- **iIoU** (instance-level IoU) of the 8 classes with instances (person, rider, car, truck, bus,
  train, motorcycle, bicycle): IoU = TP / (TP + FP + FN) where TP and FN are counted on the
  pixels of ground-truth instances, each instance's pixels weighted by the class's average
  instance size over the instance's own size (so a small pedestrian counts as much as a large
  one), and FP are the plain false-positive pixels of the class IoU. Likewise per category for
  human and vehicle (the categories whose every class has instances).

Everything here works on train ids (0…18, 255 ignored) and the ``instanceIds`` map
(``labelId × 1000 + k``), which gives cityscapesScripts' numbers on its label ids because the
19 evaluated classes are exactly the train ids and ignored labels are exactly 255.

Per image, :func:`instance_counts` returns a (4, 19) float64 array, summed over images: rows
weighted TP and FN per class (columns: train id), weighted TP and FN per category (columns:
index in ``CATEGORIES``). Means are over the classes (categories) with a value, as
cityscapesScripts' ``getScoreAverage`` does (NaN when the denominator is 0).
"""

from __future__ import annotations

import numpy as np

from gcbench.data.cityscapes import AVG_CLASS_SIZE, CATEGORIES, EVALUATED, INSTANCE_BASE

NUM_CLASSES = len(EVALUATED)
#: train id → index of its category in CATEGORIES
CATEGORY_OF = np.array([CATEGORIES.index(cat) for _name, _id, cat in EVALUATED])
#: the evaluated classes with instances, in train-id order
INSTANCE_CLASSES = tuple(name for name, _id, _cat in EVALUATED if name in AVG_CLASS_SIZE)
#: categories whose every class has instances (cityscapesScripts' instance categories)
INSTANCE_CATEGORIES = ("human", "vehicle")
#: label id → train id of the evaluated classes with instances (caravan and trailer have instances
#: but are not evaluated: their instances are skipped, as in cityscapesScripts)
_TRAIN_OF_LABEL = {label_id: train for train, (name, label_id, _cat) in enumerate(EVALUATED) if name in AVG_CLASS_SIZE}
_WEIGHT = np.array([AVG_CLASS_SIZE.get(name, np.nan) for name, _id, _cat in EVALUATED])
INSTANCE_ROWS = 4


def instance_counts(pred: np.ndarray, instances: np.ndarray) -> np.ndarray:
    """(4, 19) weighted TP/FN per class and per category of one image's ground-truth instances.

    ``pred``: train ids (H×W); ``instances``: the instanceIds map of the same size.
    """
    if pred.shape != instances.shape:
        raise ValueError(f"prediction is {pred.shape}, instance map is {instances.shape}")
    out = np.zeros((INSTANCE_ROWS, NUM_CLASSES), np.float64)
    inside = instances > INSTANCE_BASE
    ids, which = np.unique(instances[inside], return_inverse=True)
    if not ids.size:
        return out
    train = np.array([_TRAIN_OF_LABEL.get(int(i) // INSTANCE_BASE, -1) for i in ids])
    evaluated = train >= 0
    train = np.where(evaluated, train, 0)
    predicted = pred[inside].astype(np.int64)
    size = np.bincount(which, minlength=len(ids))
    tp = np.bincount(which, weights=predicted == train[which], minlength=len(ids))
    pred_category = np.where(predicted < NUM_CLASSES, CATEGORY_OF[np.clip(predicted, 0, NUM_CLASSES - 1)], -1)
    cat_tp = np.bincount(which, weights=pred_category == CATEGORY_OF[train][which], minlength=len(ids))
    weight = _WEIGHT[train] / size
    for i in np.flatnonzero(evaluated):  # instance by instance, in id order, as cityscapesScripts adds them
        c, cat = train[i], CATEGORY_OF[train[i]]
        out[0, c] += tp[i] * weight[i]
        out[1, c] += (size[i] - tp[i]) * weight[i]
        out[2, cat] += cat_tp[i] * weight[i]
        out[3, cat] += (size[i] - cat_tp[i]) * weight[i]
    return out


def _iou(tp: float, fp: float, fn: float) -> float:
    denominator = tp + fp + fn
    return float(tp / denominator) if denominator else float("nan")


def nanmean(values: list[float]) -> float:
    """Mean over the values that are not NaN (NaN when none is)."""
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _category_members(category: str) -> np.ndarray:
    return np.flatnonzero(CATEGORY_OF == CATEGORIES.index(category))


def _category_fp(valid: np.ndarray, members: np.ndarray) -> float:
    others = np.setdiff1d(np.arange(NUM_CLASSES), members)
    return float(valid[np.ix_(others, members)].sum())


def category_ious(matrix: np.ndarray) -> dict[str, float]:
    """Category IoU from a summed confusion matrix (rows: label train ids 0…18 first)."""
    valid = np.asarray(matrix, np.float64)[:NUM_CLASSES]
    out = {}
    for category in CATEGORIES:
        members = _category_members(category)
        tp = float(valid[np.ix_(members, members)].sum())
        fn = float(valid[members].sum()) - tp
        out[category] = _iou(tp, _category_fp(valid, members), fn)
    return out


def instance_ious(matrix: np.ndarray, counts: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
    """iIoU per class with instances and per instance category, from a summed confusion matrix and
    summed :func:`instance_counts`."""
    valid = np.asarray(matrix, np.float64)[:NUM_CLASSES]
    classes = {}
    for name in INSTANCE_CLASSES:
        c = [n for n, _id, _cat in EVALUATED].index(name)
        fp = float(valid[:, c].sum() - valid[c, c])
        classes[name] = _iou(counts[0, c], fp, counts[1, c])
    categories = {}
    for category in INSTANCE_CATEGORIES:
        k = CATEGORIES.index(category)
        categories[category] = _iou(counts[2, k], _category_fp(valid, _category_members(category)), counts[3, k])
    return classes, categories
