"""The Cityscapes reader: the official layout from a user path, labels found beside each image,
and a clear error for each way a copy can be wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gcbench.data.cityscapes import label_path, load_cityscapes, read_label
from gcbench.data.datasets import load_dataset
from gcbench.core.errors import DatasetError, MetricError


def make_cityscapes(root: Path, split: str = "val", cities: dict[str, int] | None = None, size: tuple[int, int] = (32, 64),
                    labels: bool = True, raw_labels: bool = False, seed: int = 0) -> list[Path]:
    """A synthetic copy in the official layout: RGB images and labelTrainIds (0…18, 255) maps."""
    rng = np.random.default_rng(seed)
    images = []
    for city, n in (cities or {"aachen": 2, "bochum": 1}).items():
        for i in range(n):
            stem = f"{city}_{i:06d}_000019"
            img = root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png"
            img.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(img)
            gt = root / "gtFine" / split / city
            gt.mkdir(parents=True, exist_ok=True)
            label = rng.integers(0, 19, size, dtype=np.uint8)
            label[: size[0] // 8] = 255
            if labels:
                Image.fromarray(label).save(gt / f"{stem}_gtFine_labelTrainIds.png")
            if raw_labels:
                Image.fromarray(label).save(gt / f"{stem}_gtFine_labelIds.png")
            images.append(img)
    return images


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
    with pytest.raises(MetricError, match="its image is 65×32"):
        read_label(img, (32, 65))
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
