"""Category IoU and instance-weighted iIoU against cityscapesScripts' own evaluation.

Ground truth is generated here (labelIds with ignored labels, instanceIds with instances of every
class that has them, crowds, caravans and trailers), predictions are noisy train-id maps; the
reference is ``cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling.evaluateImgLists``
run on PNG files of the same arrays, gcbench is its counting per image and ``finalize``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_cityscapes import cityscapes_scripts_scores, synthetic_ground_truth, train_ids

from gcbench.core.errors import ConfigError, MetricError
from gcbench.data import cityscapes
from gcbench.metrics.cityscapes_eval import INSTANCE_CATEGORIES, INSTANCE_CLASSES, instance_counts
from gcbench.metrics.semantic import CLASSES, CityscapesMIoU, PseudoLabelMIoU, confusion, upsample_nearest


def test_tables_are_cityscapesscripts() -> None:
    from cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling import args
    from cityscapesscripts.helpers.labels import labels

    evaluated = sorted((lab.trainId, lab.name, lab.id, lab.category) for lab in labels if not lab.ignoreInEval)
    assert [(n, i, c) for _t, n, i, c in evaluated] == list(cityscapes.EVALUATED)
    assert [t for t, *_ in evaluated] == list(range(19)) and tuple(n for _t, n, *_ in evaluated) == CLASSES
    assert tuple(dict.fromkeys(c for *_, c in evaluated)) == cityscapes.CATEGORIES
    with_instances = [lab.name for lab in labels if lab.hasInstances and not lab.ignoreInEval]
    assert list(INSTANCE_CLASSES) == with_instances
    assert cityscapes.AVG_CLASS_SIZE == {n: args.avgClassSize[n] for n in with_instances}


def _noisy_prediction(rng: np.random.Generator, label_ids: np.ndarray, instances: np.ndarray) -> np.ndarray:
    """Mostly right, some pixels wrong at random, some instances missed whole."""
    pred = train_ids(label_ids).astype(np.int64)
    ignored = pred == 255
    pred[ignored] = rng.integers(0, 19, ignored.sum())
    wrong = rng.random(pred.shape) < 0.2
    pred[wrong] = rng.integers(0, 19, wrong.sum())
    for inst in np.unique(instances[instances > 1000])[::3]:
        pred[instances == inst] = rng.integers(0, 19)
    return pred.astype(np.uint8)


def _ground_truth_arrays(preds, label_ids, instances) -> list[np.ndarray]:
    """What the miou metric stores per task: confusion (exact) and weighted instance counts."""
    return [np.concatenate([confusion(p, train_ids(lab)).astype(np.float64), instance_counts(p, inst)])
            for p, lab, inst in zip(preds, label_ids, instances, strict=True)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ious_iious_and_categories_equal_cityscapesscripts(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = [(48, 96), (64, 64), (40, 120)]
    label_ids, instances = zip(*(synthetic_ground_truth(rng, s, n_instances=12) for s in sizes), strict=True)
    preds = [_noisy_prediction(rng, lab, inst) for lab, inst in zip(label_ids, instances, strict=True)]
    theirs = cityscapes_scripts_scores(tmp_path, preds, list(label_ids), list(instances))
    ours = CityscapesMIoU(random_init=True).finalize(_ground_truth_arrays(preds, label_ids, instances), []).values

    def same(a: float, b: float) -> bool:
        return (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, rel=1e-6, abs=1e-12)

    for name in CLASSES:
        assert same(ours[f"iou_{name.replace(' ', '_')}"], theirs["classScores"][name]), name
    for name in INSTANCE_CLASSES:
        assert same(ours[f"iiou_{name}"], theirs["classInstScores"][name]), name
    for category in cityscapes.CATEGORIES:
        assert same(ours[f"iou_cat_{category}"], theirs["categoryScores"][category]), category
    for category in INSTANCE_CATEGORIES:
        assert same(ours[f"iiou_cat_{category}"], theirs["categoryInstScores"][category]), category
    assert same(ours["miou"], theirs["averageScoreClasses"])
    assert same(ours["iiou"], theirs["averageScoreInstClasses"])
    assert same(ours["miou_cat"], theirs["averageScoreCategories"])
    assert same(ours["iiou_cat"], theirs["averageScoreInstCategories"])
    assert set(ours) == {c.name for c in CityscapesMIoU.columns}  # every declared column, nothing else
    # the weighting matters: iIoU is not the plain IoU of the instance classes
    assert any(abs(ours[f"iiou_{n}"] - ours[f"iou_{n}"]) > 1e-3 for n in INSTANCE_CLASSES)


def test_an_image_without_instance_map_leaves_only_iiou_empty(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    label_ids, instances = synthetic_ground_truth(rng, (32, 64))
    pred = _noisy_prediction(rng, label_ids, instances)
    arrays = _ground_truth_arrays([pred, pred], [label_ids, label_ids], [instances, instances])
    arrays[1][20:] = np.nan  # what a task stores when the image has no *_gtFine_instanceIds.png
    result = CityscapesMIoU(random_init=True).finalize(arrays, [])
    assert np.isnan(result.values["iiou"]) and np.isnan(result.values["iiou_cat_human"])
    assert not np.isnan(result.values["miou"]) and not np.isnan(result.values["miou_cat"])
    assert "iIoU left empty: 1 of 2 images have no *_gtFine_instanceIds.png" in "; ".join(result.flags)
    with pytest.raises(MetricError, match=r"has shape \(20, 19\), expected \(24, 19\)"):
        CityscapesMIoU(random_init=True).finalize([arrays[0][:20]], [])


def test_pseudo_mode_has_category_ious_and_no_iiou() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 19, (2, 20, 30)).astype(np.uint8)
    values = PseudoLabelMIoU(random_init=True).finalize([confusion(a, b)], []).values
    assert "miou_cat_pseudo" in values and "iou_cat_pseudo_vehicle" in values
    assert not [k for k in values if k.startswith("iiou")]
    assert set(values) == {c.name for c in PseudoLabelMIoU.columns}
    assert {c.name for c in CityscapesMIoU.columns} >= {"iiou", "iiou_person", "iiou_cat_vehicle", "miou_cat"}


@pytest.mark.parametrize("small,big", [((16, 32), (32, 64)), ((10, 20), (30, 60)), ((7, 13), (16, 30)),
                                       ((16, 32), (16, 32))])
def test_upsampling_is_pillows_nearest(small: tuple[int, int], big: tuple[int, int]) -> None:
    from PIL import Image

    rng = np.random.default_rng(small[0])
    pred = rng.integers(0, 19, small).astype(np.uint8)
    up = upsample_nearest(pred, big)
    assert up.shape == big
    np.testing.assert_array_equal(up, np.asarray(Image.fromarray(pred).resize(big[::-1], Image.NEAREST)))
    if big[0] % small[0] == 0 and big[1] % small[1] == 0:  # an integer factor: every pixel repeated
        fy, fx = big[0] // small[0], big[1] // small[1]
        np.testing.assert_array_equal(up, np.repeat(np.repeat(pred, fy, axis=0), fx, axis=1))


def test_upsampling_refuses_a_smaller_or_other_shaped_label() -> None:
    pred = np.zeros((16, 32), np.uint8)
    for shape in ((8, 16), (32, 32)):
        with pytest.raises(MetricError, match="score_at=label needs a label at least as large"):
            upsample_nearest(pred, shape)


def test_score_at_option() -> None:
    assert CityscapesMIoU(random_init=True, score_at="label").options["score_at"] == "label"
    assert "score_at" not in CityscapesMIoU(random_init=True).options
    assert (CityscapesMIoU(random_init=True, score_at="label").identity()
            != CityscapesMIoU(random_init=True).identity())
    assert any("scored at the labels' resolution" in f for f in CityscapesMIoU(random_init=True, score_at="label")._flags())
    with pytest.raises(ConfigError, match="score_at must be one of"):
        CityscapesMIoU(score_at="labels")
    with pytest.raises(ConfigError, match="score_at is for 'miou'"):
        PseudoLabelMIoU(score_at="label")
