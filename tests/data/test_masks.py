"""Per-image masks: reading and validating them, matching them to images, and a run that uses them."""

from __future__ import annotations

import json
import sqlite3
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from gcbench.core.errors import ConfigError, DatasetError
from gcbench.data.masks import MaskError, MaskSet, read_mask
from gcbench.execution.runner import RunConfig, run
from gcbench.results.views import per_image

# -- reading one mask --------------------------------------------------------------------------


def _roi(h: int = 12, w: int = 16) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[3:9, 4:12] = 1
    return m


def test_grey_png_is_divided_by_255(tmp_path: Path) -> None:
    values = np.arange(12 * 16, dtype=np.uint8).reshape(12, 16)
    Image.fromarray(values, "L").save(tmp_path / "m.png")
    np.testing.assert_allclose(read_mask(tmp_path / "m.png"), values / 255.0, rtol=1e-6)


def test_binary_forms_all_read_as_zero_one(tmp_path: Path) -> None:
    roi = _roi()
    Image.fromarray(roi * 255).save(tmp_path / "l.png")
    Image.fromarray(roi.astype(bool)).save(tmp_path / "one.png")  # mode "1"
    rgba = np.zeros((12, 16, 4), np.uint8)
    rgba[..., :3] = 200  # colour is ignored: the alpha channel is the mask
    rgba[..., 3] = roi * 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    la = np.stack([np.full_like(roi, 9), roi * 255], axis=-1)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    Image.fromarray(np.repeat((roi * 255)[..., None], 3, axis=2)).save(tmp_path / "grey_rgb.png")
    np.save(tmp_path / "bool.npy", roi.astype(bool))
    np.save(tmp_path / "int.npy", roi.astype(np.int64))
    np.save(tmp_path / "chan.npy", roi.astype(np.float32)[..., None])
    for name in ("l.png", "one.png", "alpha.png", "la.png", "grey_rgb.png", "bool.npy", "int.npy", "chan.npy"):
        mask = read_mask(tmp_path / name, (12, 16))
        assert mask.dtype == np.float32 and mask.shape == (12, 16), name
        np.testing.assert_array_equal(mask, roi.astype(np.float32), err_msg=name)


def test_sixteen_bit_png_and_float_npy_saliency(tmp_path: Path, rng: np.random.Generator) -> None:
    values = rng.integers(0, 65536, (12, 16)).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "s16.png")
    np.testing.assert_allclose(read_mask(tmp_path / "s16.png"), values / 65535.0, rtol=1e-6)
    sal = rng.uniform(0, 1, (12, 16))
    np.save(tmp_path / "sal.npy", sal)
    np.testing.assert_allclose(read_mask(tmp_path / "sal.npy"), sal, rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (6, 7), elements=st.floats(-5, 5)).filter(lambda a: a.min() < 0 or a.max() > 1))
def test_values_outside_zero_one_are_an_error_naming_the_file(tmp_path_factory: pytest.TempPathFactory, values: np.ndarray) -> None:
    path = tmp_path_factory.mktemp("bad") / "kodim01.npy"
    np.save(path, values)
    with pytest.raises(MaskError, match=r"kodim01\.npy: mask values outside \[0, 1\]"):
        read_mask(path)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 20), st.integers(1, 20), st.integers(1, 20), st.integers(1, 20))
def test_wrong_size_is_an_error_naming_the_file(tmp_path_factory: pytest.TempPathFactory, h: int, w: int, ih: int, iw: int) -> None:
    folder = tmp_path_factory.mktemp("size")
    Image.fromarray(np.zeros((h, w), np.uint8)).save(folder / "img.png")
    if (h, w) == (ih, iw):
        assert read_mask(folder / "img.png", (ih, iw)).shape == (h, w)
        return
    with pytest.raises(MaskError, match=rf"img\.png: mask is {w}×{h} \(W×H\), the image is {iw}×{ih}"):
        read_mask(folder / "img.png", (ih, iw))


def test_other_bad_masks(tmp_path: Path) -> None:
    np.save(tmp_path / "nan.npy", np.array([[0.5, np.nan]]))
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 4)))
    np.save(tmp_path / "text.npy", np.array([["a", "b"]]))
    Image.fromarray(np.stack([np.zeros((4, 4), np.uint8), np.ones((4, 4), np.uint8) * 255,
                              np.zeros((4, 4), np.uint8)], axis=-1)).save(tmp_path / "colour.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    cases = {"nan.npy": "NaN", "cube.npy": "must be H×W", "text.npy": "must hold numbers",
             "colour.png": "must be grey", "junk.png": "not a recognised image format", "absent.png": "no such mask file"}
    for name, text in cases.items():
        with pytest.raises(MaskError, match=text) as info:
            read_mask(tmp_path / name)
        assert name in str(info.value)


# -- a mask set -----------------------------------------------------------------------------------


def test_masks_are_matched_by_name_and_recorded(tmp_path: Path) -> None:
    root = tmp_path / "masks"
    (root / "sub").mkdir(parents=True)
    Image.fromarray(_roi() * 255).save(root / "a.png")
    np.save(root / "sub" / "b.npy", _roi().astype(np.float32))
    Image.fromarray(_roi() * 255).save(root / "c.png")
    np.save(root / "c.npy", _roi().astype(np.float32))
    ms = MaskSet.open(root, ["a.jpg", "sub/b.png", "c.png", "d.png"])
    assert ms.files == {"a.jpg": root / "a.png", "sub/b.png": root / "sub" / "b.npy"}
    assert "both match image c.png" in ms.problems["c.png"]
    assert "no mask for image d.png" in ms.problems["d.png"] and str(root / "d.npy") in ms.problems["d.png"]
    path, sha = ms.check("sub/b.png", 12, 16)
    assert path == str((root / "sub" / "b.npy").resolve()) and len(sha) == 64
    with pytest.raises(MaskError, match="no mask for image d.png"):
        ms.check("d.png", 12, 16)
    with pytest.raises(MaskError, match="a.png: mask is 16×12"):
        ms.check("a.jpg", 10, 10)
    described = ms.describe()
    assert described["files"]["sub/b.png"] == ["sub/b.npy", sha] and described["identity"] == ms.identity()
    # the identity follows the content of the masks
    before = ms.identity()
    Image.fromarray((1 - _roi()) * 255).save(root / "a.png")
    assert MaskSet.open(root, ["a.jpg", "sub/b.png"]).identity() != before
    with pytest.raises(DatasetError, match="no file matches any image"):
        MaskSet.open(root, ["zzz.png"])
    with pytest.raises(DatasetError, match="does not exist"):
        MaskSet.open(tmp_path / "nowhere", ["a.png"])


# -- a run with masks -----------------------------------------------------------------------------


def _dataset(image_folder, tmp_path: Path, n: int = 3, size: tuple[int, int] = (48, 64)) -> tuple[Path, Path]:
    images = image_folder(n, size)
    masks = tmp_path / "masks"
    masks.mkdir()
    h, w = size
    roi = np.zeros((h, w), np.uint8)
    roi[: h // 2] = 255  # top half
    for i in range(n):
        Image.fromarray(roi).save(masks / f"img{i:02d}.png")
    return images, masks


def _run(images: Path, out: Path, codecs: list[str], metrics: list[str], **kw):
    return run(RunConfig(codecs=codecs, dataset=str(images), out=out, metrics=metrics, progress=False,
                         write_outputs=False, **kw))


def test_run_with_masks_region_values_and_record(tmp_path: Path, image_folder) -> None:
    images, masks = _dataset(image_folder, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = _run(images, tmp_path / "out", ["jpeg@30,60", "webp@50"], ["psnr", "roi-psnr", "saliency-psnr"],
                      masks=str(masks))
    assert not report.failed, report.text()
    ignored = [w for w in caught if "ignore side input" in str(w.message)]
    assert len(ignored) == 1 and "jpeg, webp" in str(ignored[0].message)  # once per run, naming both
    df = per_image(tmp_path / "out")
    assert len(df) == 9
    for _, row in df.iterrows():
        # binary saliency = RoI MSE, and the halves average back to the whole
        assert row["mse_sal"] == pytest.approx(row["mse_in"], rel=1e-9)
        whole = 255.0**2 / 10 ** (row["psnr"] / 10)
        assert (row["mse_in"] + row["mse_out"]) / 2 == pytest.approx(whole, rel=1e-9)
    with sqlite3.connect(tmp_path / "out" / "gcbench.sqlite") as conn:
        config = json.loads(conn.execute("SELECT config FROM runs").fetchone()[0])
    recorded = config["mask_set"]
    assert recorded["root"] == str(masks.resolve()) and recorded["n_masks"] == 3
    assert set(recorded["files"]) == {"img00.png", "img01.png", "img02.png"} and config["masks"] == str(masks)


def test_bad_masks_fail_their_image_only(tmp_path: Path, image_folder) -> None:
    images, masks = _dataset(image_folder, tmp_path)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(masks / "img01.png")  # wrong size
    (masks / "img02.png").unlink()
    np.save(masks / "img02.npy", np.full((48, 64), 1.5))  # out of range
    report = _run(images, tmp_path / "out", ["jpeg@50"], ["roi-psnr"], masks=str(masks))
    errors = dict(report.image_errors)
    assert set(errors) == {"img01.png", "img02.png"} and report.n_ok == 1
    assert str(masks / "img01.png") in errors["img01.png"] and "mask is 10×10" in errors["img01.png"]
    assert str(masks / "img02.npy") in errors["img02.png"]
    assert "outside [0, 1]" in errors["img02.png"]
    assert per_image(tmp_path / "out")["image"].tolist() == ["img00.png"]


def test_mask_metrics_need_masks_and_follow_mask_changes(tmp_path: Path, image_folder) -> None:
    images, masks = _dataset(image_folder, tmp_path, n=2)
    with pytest.raises(ConfigError, match="needs a mask per image: give a folder of masks with --masks"):
        _run(images, tmp_path / "out", ["jpeg@50"], ["roi-psnr"])
    out = tmp_path / "out"
    _run(images, out, ["jpeg@50"], ["psnr", "roi-psnr"], masks=str(masks))
    first = per_image(out)
    # other masks: the stored bitstreams are reused (jpeg ignores masks), region values recomputed
    for i in range(2):
        Image.fromarray(np.full((48, 64), 255, np.uint8)).save(masks / f"img{i:02d}.png")
    again = _run(images, out, ["jpeg@50"], ["psnr", "roi-psnr"], masks=str(masks))
    assert again.n_ok == 2 and again.n_skipped == 0
    second = per_image(out)
    assert (second["encode_s"] == first["encode_s"]).all()  # not re-encoded
    for _, row in second.iterrows():
        assert row["psnr_in"] == pytest.approx(row["psnr"], rel=1e-12) and np.isnan(row["psnr_out"])
    # unchanged masks: nothing left to do
    assert _run(images, out, ["jpeg@50"], ["psnr", "roi-psnr"], masks=str(masks)).n_skipped == 2


def test_cli_masks_option_and_manifest_masks(tmp_path: Path, image_folder, monkeypatch: pytest.MonkeyPatch) -> None:
    from gcbench.data import registry
    from gcbench.cli import main
    from gcbench.data.images import file_sha256

    images, masks = _dataset(image_folder, tmp_path, n=2)
    code = main(["run", "--codec", "jpeg@40", "--dataset", str(images), "--out", str(tmp_path / "cli"),
                 "--metric", "roi-psnr", "--masks", str(masks), "--no-progress", "--no-outputs"])
    assert code == 0
    assert per_image(tmp_path / "cli")["psnr_in"].notna().all()
    # a manifest may name its mask folder (relative to the dataset root)
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    files = "\n".join(f'"img{i:02d}.png" = "{file_sha256(images / f"img{i:02d}.png")}"' for i in range(2))
    (manifests / "withmasks.toml").write_text(f'masks = "../masks"\n[files]\n{files}\n')
    monkeypatch.setenv("GCBENCH_DATASET_PATH", str(manifests))
    monkeypatch.setattr(registry, "datasets", registry.Registry("dataset", populate=registry._populate_datasets))
    report = _run("withmasks", tmp_path / "m", ["jpeg@40"], ["roi-psnr"], data_root=str(images))
    assert not report.failed
    assert per_image(tmp_path / "m")["psnr_in"].notna().all()
    with sqlite3.connect(tmp_path / "m" / "gcbench.sqlite") as conn:
        config = json.loads(conn.execute("SELECT config FROM runs").fetchone()[0])
    assert config["masks"] is None and config["mask_set"]["root"] == str(masks.resolve())
