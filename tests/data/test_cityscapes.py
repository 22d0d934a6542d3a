"""The Cityscapes reader: the official layout from a user path, labels and instance maps found
beside each image, and a clear error for each way a copy can be wrong.

Synthetic copies are made in label ids (``labelIds``) with instances (``instanceIds``: labelId ×
1000 + k), and their ``labelTrainIds`` written with cityscapesScripts' own label table, as its
``createTrainIdLabelImgs`` does; :func:`cityscapes_scripts_scores` runs cityscapesScripts'
official evaluation on files, the reference the mIoU tests compare with.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gcbench.data.cityscapes import instance_path, label_path, load_cityscapes, read_instances, read_label
from gcbench.data.datasets import load_dataset
from gcbench.core.errors import DatasetError, MetricError


def train_ids(label_ids: np.ndarray) -> np.ndarray:
    """labelIds → labelTrainIds through cityscapesScripts' table (what createTrainIdLabelImgs writes)."""
    from cityscapesscripts.helpers.labels import id2label

    table = np.full(256, 255, np.uint8)
    for label_id, label in id2label.items():
        if label_id >= 0 and 0 <= label.trainId < 255:
            table[label_id] = label.trainId
    return table[label_ids]


def synthetic_ground_truth(rng: np.random.Generator, size: tuple[int, int],
                           n_instances: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """(labelIds uint8, instanceIds int32) of one image: 4×4 blocks of stuff labels (ignored ones
    included), rectangles of instances of every class with instances (caravan and trailer,
    which are not evaluated, too; some without an instance number, as crowds are), the top rows
    'unlabeled'."""
    h, w = size
    stuff = [i for i in range(24)]  # labels 0…23: no instances (evaluated or not)
    instances = np.kron(rng.choice(stuff, size=(-(-h // 4), -(-w // 4))), np.ones((4, 4), np.int64))[:h, :w]
    for k in range(n_instances):
        cls = int(rng.choice([24, 25, 26, 27, 28, 29, 30, 31, 32, 33]))
        y, x = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2))
        dy, dx = int(rng.integers(2, max(3, h // 2))), int(rng.integers(2, max(3, w // 2)))
        instances[y:y + dy, x:x + dx] = cls if k == n_instances - 1 else cls * 1000 + k  # the last one a crowd
    instances[: h // 8] = 0  # unlabeled
    label_ids = np.where(instances >= 1000, instances // 1000, instances).astype(np.uint8)
    return label_ids, instances.astype(np.int32)


def make_cityscapes(root: Path, split: str = "val", cities: dict[str, int] | None = None, size: tuple[int, int] = (32, 64),
                    labels: bool = True, raw_labels: bool = False, instances: bool = True, seed: int = 0,
                    image_size: tuple[int, int] | None = None) -> list[Path]:
    """A synthetic copy in the official layout: RGB images (``image_size``, default the labels'
    ``size``), labelTrainIds (0…18, 255) maps and instanceIds."""
    rng = np.random.default_rng(seed)
    images = []
    for city, n in (cities or {"aachen": 2, "bochum": 1}).items():
        for i in range(n):
            stem = f"{city}_{i:06d}_000019"
            img = root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png"
            img.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (*(image_size or size), 3), dtype=np.uint8)).save(img)
            gt = root / "gtFine" / split / city
            gt.mkdir(parents=True, exist_ok=True)
            label_ids, instance_ids = synthetic_ground_truth(rng, size)
            if labels:
                Image.fromarray(train_ids(label_ids)).save(gt / f"{stem}_gtFine_labelTrainIds.png")
            if raw_labels:
                Image.fromarray(label_ids).save(gt / f"{stem}_gtFine_labelIds.png")
            if instances:
                Image.fromarray(instance_ids.astype(np.uint16)).save(gt / f"{stem}_gtFine_instanceIds.png")
            images.append(img)
    return images


def cityscapes_scripts_scores(folder: Path, preds: list[np.ndarray], label_ids: list[np.ndarray],
                              instances: list[np.ndarray]) -> dict:
    """cityscapesScripts' evalPixelLevelSemanticLabeling on files written here: predictions in
    train ids (converted to label ids, as its submissions must be), labelIds and instanceIds."""
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as ev
    from cityscapesscripts.helpers.labels import trainId2label

    to_label_id = np.zeros(256, np.uint8)
    for train, label in trainId2label.items():
        if 0 <= train < 255:
            to_label_id[train] = label.id
    pred_files, gt_files = [], []
    folder.mkdir(parents=True, exist_ok=True)
    for i, (pred, lab, inst) in enumerate(zip(preds, label_ids, instances, strict=True)):
        stem = folder / f"city_{i:06d}_000019"
        Image.fromarray(to_label_id[pred]).save(f"{stem}_pred.png")
        Image.fromarray(lab).save(f"{stem}_gtFine_labelIds.png")
        Image.fromarray(inst.astype(np.uint16)).save(f"{stem}_gtFine_instanceIds.png")  # read by name from the gt file
        pred_files.append(f"{stem}_pred.png")
        gt_files.append(f"{stem}_gtFine_labelIds.png")
    args = ev.CArgs()
    vars(args).update(vars(ev.args))  # its defaults (avgClassSize …), in a copy
    args.evalInstLevelScore, args.JSONOutput, args.quiet, args.colorized = True, False, True, False
    return ev.evaluateImgLists(pred_files, gt_files, args)


def test_reads_the_official_layout_by_name_and_by_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cityscapes"
    images = make_cityscapes(root, cities={"aachen": 2, "bochum": 1})
    make_cityscapes(root, split="train", cities={"zurich": 1})  # another split is left out
    ds = load_dataset("cityscapes", root)
    assert ds.name == "cityscapes" and ds.root == root
    assert [r.name for r in ds.images] == ["aachen/aachen_000000_000019_leftImg8bit.png",
                                           "aachen/aachen_000001_000019_leftImg8bit.png",
                                           "bochum/bochum_000000_000019_leftImg8bit.png"]
    assert sorted(r.path for r in ds.images) == sorted(images)
    # $GCBENCH_DATA/cityscapes is found without --data-root
    monkeypatch.setenv("GCBENCH_DATA", str(tmp_path))
    assert len(load_dataset("cityscapes").images) == 3
    assert len(load_cityscapes(root, split="train").images) == 1


def test_label_path_and_read_label(tmp_path: Path) -> None:
    (img,) = make_cityscapes(tmp_path / "data" / "leftImg8bit" / "x", cities={"ulm": 1})  # a folder named like the layout
    lab = label_path(img)
    assert lab == tmp_path / "data" / "leftImg8bit" / "x" / "gtFine" / "val" / "ulm" / "ulm_000000_000019_gtFine_labelTrainIds.png"
    expected = np.asarray(Image.open(lab))
    got = read_label(img, (32, 64))
    assert got.dtype == np.uint8 and np.array_equal(got, expected) and (got == 255).any()
    with pytest.raises(MetricError, match="its image is 65×32.*miou.score_at=label"):
        read_label(img, (32, 65))
    inst = read_instances(img, (32, 64))
    assert instance_path(img).name == "ulm_000000_000019_gtFine_instanceIds.png"
    assert inst.dtype == np.int32 and np.array_equal(inst, np.asarray(Image.open(instance_path(img))))
    assert (inst > 1000).any() and np.array_equal(train_ids(np.where(inst >= 1000, inst // 1000, inst)), got)
    with pytest.raises(MetricError, match="its label map is 65×32"):
        read_instances(img, (32, 65))
    instance_path(img).unlink()
    assert read_instances(img) is None  # no instance map: only the iIoU is left out
    with pytest.raises(DatasetError, match="not in the Cityscapes layout.*miou-pseudo"):
        label_path(tmp_path / "photo.png")


@pytest.mark.parametrize("case,message", [
    ("no-root", "no leftImg8bit/ folder"),
    ("no-split", r"no leftImg8bit/val/ folder \(found \['train'\]"),
    ("flat", r"no <city>/\*_leftImg8bit.png files .*found e.g. leftImg8bit/val/a.png"),
    ("no-labels", r"3 of 3 images have no label file \(gtFine/val/aachen/aachen_000000_000019_gtFine_labelTrainIds.png"),
    ("raw-labels", "createTrainIdLabelImgs"),
])
def test_a_wrong_layout_is_a_clear_error(tmp_path: Path, case: str, message: str) -> None:
    root = tmp_path / "cs"
    root.mkdir()
    if case == "no-split":
        make_cityscapes(root, split="train")
    elif case == "flat":
        (root / "leftImg8bit" / "val").mkdir(parents=True)
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "leftImg8bit" / "val" / "a.png")
    elif case == "no-labels":
        make_cityscapes(root, labels=False)
    elif case == "raw-labels":
        make_cityscapes(root, labels=False, raw_labels=True)
    with pytest.raises(DatasetError, match=message):
        load_dataset("cityscapes", root)


def test_without_a_copy_the_error_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DatasetError, match="Register at https://www.cityscapes-dataset.com/.*--data-root ROOT"):
        load_dataset("cityscapes")


def test_listed_with_the_size_of_its_split() -> None:
    from gcbench.catalog import list_datasets

    row = list_datasets("cityscapes").iloc[0]
    assert row["images"] == 500 and "labelTrainIds" in row["description"]
