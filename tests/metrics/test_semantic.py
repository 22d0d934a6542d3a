"""PSPNet mIoU (``miou``, ``miou-pseudo``) against mmsegmentation's own model and IoUMetric.

The Cityscapes checkpoint cannot be downloaded here, so PSPNet is built from mmsegmentation's
config with the explicit offline stand-in (``random_init``: He-normal weights from a seed); the
reference side builds the same network with mmsegmentation's ``init_model`` and the same
stand-in weights, runs mmsegmentation's ``inference_model`` and scores with its ``IoUMetric``.
Images are tiny and inference runs at their own size (``test_scale``) to keep CPU time small.
"""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gcbench.cli import main
from gcbench.core.errors import ConfigError, UnavailableError, WeightsError
from gcbench.metrics.semantic import CLASSES, CityscapesMIoU, PseudoLabelMIoU, confusion, scores, total_areas
from gcbench.metrics.registry import get_metric
from gcbench.results.store import ResultStore
from gcbench.results.views import per_image, set_table
from test_cityscapes import cityscapes_scripts_scores, make_cityscapes

SIZE = (32, 64)  # H, W
SCALE = "[64,32]"  # W, H: inference at the images' own size
STANDIN = ["--metric-option", "miou.random_init=true", "--metric-option", f"miou.test_scale={SCALE}",
           "--metric-option", "miou-pseudo.random_init=true", "--metric-option", f"miou-pseudo.test_scale={SCALE}"]


def mmseg_iou(preds: list[np.ndarray], labels: list[np.ndarray]) -> tuple[dict[str, float], np.ndarray]:
    """mmsegmentation's IoUMetric: its summary (percent, 2 decimals) and its per-class IoU (fractions)."""
    import torch

    from gcbench.metrics.mmcv_ops_shim import install

    install()
    from mmseg.evaluation import IoUMetric

    metric = IoUMetric(iou_metrics=["mIoU"])
    metric.dataset_meta = {"classes": CLASSES}
    metric.process({}, [{"pred_sem_seg": {"data": torch.from_numpy(p.astype(np.int64))[None]},
                         "gt_sem_seg": {"data": torch.from_numpy(lab.astype(np.int64))[None]}}
                        for p, lab in zip(preds, labels, strict=True)])
    summary = metric.compute_metrics(metric.results)
    totals = [sum(r[i] for r in metric.results) for i in range(4)]
    per_class = IoUMetric.total_area_to_metrics(*totals, metrics=["mIoU"])["IoU"]
    return summary, per_class


def _assert_equals_mmseg(values: dict[str, float], suffix: str, preds: list[np.ndarray], labels: list[np.ndarray]) -> None:
    summary, per_class = mmseg_iou(preds, labels)
    assert round(values[f"miou{suffix}"] * 100, 2) == summary["mIoU"]
    assert round(values[f"aacc{suffix}"] * 100, 2) == summary["aAcc"]
    assert round(values[f"macc{suffix}"] * 100, 2) == summary["mAcc"]
    ours = np.array([values[f"iou{suffix}_{c.replace(' ', '_')}"] for c in CLASSES])
    np.testing.assert_allclose(ours, per_class, rtol=1e-6, equal_nan=True)  # theirs: float32 sums


# -- counting ---------------------------------------------------------------------------------


def test_counts_equal_mmsegmentations_intersect_and_union(rng: np.random.Generator) -> None:
    """Ignore pixels, classes absent from an image or from everything, labels outside 0…18."""
    import torch

    from gcbench.metrics.mmcv_ops_shim import install

    install()
    from mmseg.evaluation import IoUMetric

    preds, labels = [], []
    for i, (h, w) in enumerate([(17, 23), (40, 31), (8, 8), (25, 50)]):
        present = rng.choice(19, size=6, replace=False)  # a few classes per image
        label = present[rng.integers(0, 6, (h, w))].astype(np.uint8)
        pred = np.where(rng.random((h, w)) < 0.7, label, rng.integers(0, 19, (h, w))).astype(np.uint8)
        pred[pred == 4] = 5  # class 4 is never predicted
        label[rng.random((h, w)) < 0.15] = 255  # ignored
        if i == 1:
            label[:3, :3] = 30  # not 255, not a class: counted in the prediction area only
        if i == 2:
            label[:] = 255  # an image with nothing to score
        label[label == 18] = 17  # class 18 is in no label…
        pred[pred == 18] = 17  # …and never predicted
        if i in (0, 3):
            label[-1, -1] = 4  # class 4 is in labels (and never predicted)
        preds.append(pred)
        labels.append(label)
    for pred, label in zip(preds, labels, strict=True):
        theirs = IoUMetric.intersect_and_union(torch.from_numpy(pred.astype(np.int64)),
                                               torch.from_numpy(label.astype(np.int64)), 19, 255)
        for ours, ref in zip(total_areas(confusion(pred, label)), theirs, strict=True):
            assert np.array_equal(ours, ref.numpy().astype(np.int64))
    metric = CityscapesMIoU(random_init=True)
    no_instances = np.full((4, 19), np.nan)  # these labels come without instance maps: no iIoU
    result = metric.finalize([np.concatenate([confusion(p, lab), no_instances])
                              for p, lab in zip(preds, labels, strict=True)], [])
    assert result.n_items == 4 and np.isnan(result.values["iiou"])
    _assert_equals_mmseg(result.values, "", preds, labels)
    assert np.isnan(result.values["iou_bicycle"])  # class 18: in no label and never predicted
    assert result.values["iou_fence"] == 0.0  # class 4: in labels, never predicted


def test_scores_by_hand() -> None:
    label = np.array([[0, 0, 1, 255]], np.uint8)
    pred = np.array([[0, 1, 1, 2]], np.uint8)
    s = scores(confusion(pred, label))
    assert s["iou"][0] == 1 / 2 and s["iou"][1] == 1 / 2 and np.isnan(s["iou"][2])  # the 255 pixel is left out
    assert s["miou"] == 0.5 and s["aacc"] == 2 / 3 and s["macc"] == (1 / 2 + 1) / 2


# -- end to end -------------------------------------------------------------------------------


def _standin(scale: tuple[int, int]):
    """mmsegmentation's own PSPNet from the same config, with the same stand-in weights (seed 0),
    inference at ``scale`` (W, H)."""
    from mmengine import Config
    from mmengine.model import revert_sync_batchnorm

    from gcbench.metrics.mmcv_ops_shim import install
    from gcbench.metrics.pspnet import config_file, he_normal_

    install()
    from mmseg.apis import inference_model, init_model

    cfg = Config.fromfile(str(config_file()))
    cfg.test_pipeline[1]["scale"] = scale
    model = revert_sync_batchnorm(init_model(cfg, None, device="cpu"))
    he_normal_(model, 0)

    def segment(rgb: np.ndarray) -> np.ndarray:
        return inference_model(model, np.ascontiguousarray(rgb[..., ::-1])).pred_sem_seg.data[0].numpy()

    return segment


@pytest.fixture(scope="module")
def standin_model():
    return _standin((SIZE[1], SIZE[0]))


def _ground_truth(root: Path, names: list[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(labelIds, instanceIds) of images, from the instance maps (labelId × 1000 + k, or labelId)."""
    instances = [np.asarray(Image.open(root / "gtFine" / "val" / n.replace("_leftImg8bit.png", "_gtFine_instanceIds.png")),
                            dtype=np.int32) for n in names]
    return [np.where(i >= 1000, i // 1000, i).astype(np.uint8) for i in instances], instances


def _assert_equals_cityscapes_scripts(values: dict, folder: Path, preds: list[np.ndarray], root: Path,
                                      names: list[str]) -> None:
    from gcbench.metrics.cityscapes_eval import INSTANCE_CATEGORIES, INSTANCE_CLASSES

    label_ids, instances = _ground_truth(root, names)
    theirs = cityscapes_scripts_scores(folder, [p.astype(np.uint8) for p in preds], label_ids, instances)
    pairs = [(values["iiou"], theirs["averageScoreInstClasses"]), (values["miou_cat"], theirs["averageScoreCategories"]),
             (values["iiou_cat"], theirs["averageScoreInstCategories"]), (values["miou"], theirs["averageScoreClasses"])]
    pairs += [(values[f"iiou_{c}"], theirs["classInstScores"][c]) for c in INSTANCE_CLASSES]
    pairs += [(values[f"iiou_cat_{c}"], theirs["categoryInstScores"][c]) for c in INSTANCE_CATEGORIES]
    ours, ref = np.array(pairs, dtype=np.float64).T
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-12, equal_nan=True)
    assert np.isfinite(ours).sum() >= 4  # not all empty


@pytest.fixture(scope="module")
def cityscapes_run(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("cityscapes")
    make_cityscapes(root, cities={"aachen": 2, "bochum": 1}, size=SIZE)
    out = root.parent / (root.name + "-out")
    with pytest.MonkeyPatch.context() as mp:  # module scope: set up before conftest's per-test isolation
        mp.setenv("GCBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "gcbench-cache"))
        mp.setenv("GCBENCH_OFFLINE", "1")
        code = main(["run", "--codec", "png", "--codec", "jpeg@5", "--dataset", "cityscapes", "--data-root", str(root),
                     "--metric", "psnr", "--metric", "miou", "--metric", "miou-pseudo", *STANDIN, "--out", str(out),
                     "--no-progress", "--no-outputs"])
    assert code == 0
    return root, out


def _reconstructions(out: Path, codec: str) -> dict[str, np.ndarray]:
    df = per_image(out)
    with ResultStore(out) as store:
        return {r.image: np.asarray(Image.open(io.BytesIO(store.read_bitstream(r.key))).convert("RGB"))
                for r in df[df.codec == codec].itertuples()}


def test_run_on_cityscapes_equals_mmsegmentation(cityscapes_run, standin_model) -> None:
    root, out = cityscapes_run
    sets = set_table(out).set_index(["codec", "metric"])
    assert (sets["status"] == "ok").all() and (sets["n_items"] == 3).all()
    assert all("NOT the published PSPNet" in f for f in sets["flags"])  # the stand-in is never a result
    folder = root / "leftImg8bit" / "val"
    originals = {p.relative_to(folder).as_posix(): np.asarray(Image.open(p).convert("RGB"))
                 for p in sorted(folder.rglob("*.png"))}
    labels = {name: np.asarray(Image.open(root / "gtFine" / "val" / name.replace("_leftImg8bit.png",
                                                                               "_gtFine_labelTrainIds.png")))
              for name in originals}
    assert all((lab == 255).any() for lab in labels.values())
    for codec in ("png", "jpeg"):
        recons = _reconstructions(out, codec)
        names = sorted(recons)
        preds = [standin_model(recons[n]) for n in names]
        row = sets.loc[(codec, "miou")]
        _assert_equals_mmseg(row.to_dict(), "", preds, [labels[n] for n in names])
        # iIoU and category scores: cityscapesScripts' evaluation on the same predictions
        _assert_equals_cityscapes_scripts(row.to_dict(), out.parent / f"cs-{codec}", preds, root, names)
        pseudo = [standin_model(originals[n]) for n in names]
        _assert_equals_mmseg(sets.loc[(codec, "miou-pseudo")].to_dict(), "_pseudo", preds, pseudo)
    # a lossless codec keeps PSPNet's segmentation of the original exactly; a lossy one does not
    assert sets.loc[("png", "miou-pseudo"), "miou_pseudo"] == 1.0
    assert sets.loc[("jpeg", "miou-pseudo"), "miou_pseudo"] < 1.0
    assert (per_image(out).query("codec == 'png'")["psnr"] == np.inf).all()


def test_pseudo_labels_are_cached_per_original_and_reused(cityscapes_run, standin_model) -> None:
    from gcbench.core.arrays import load_array
    from gcbench.execution.reference_features import reference_path
    from gcbench.metrics.semantic import decode_map

    root, out = cityscapes_run
    metric = get_metric("miou-pseudo", random_init=True, test_scale=[SIZE[1], SIZE[0]])
    from gcbench.data.images import load_image

    for path in sorted((root / "leftImg8bit" / "val").rglob("*.png")):
        loaded = load_image(path)
        cached = reference_path(metric.reference_identity(), loaded.sha256)
        assert np.array_equal(decode_map(load_array(cached)), standin_model(loaded.array))
    # a re-run finds everything stored and computes nothing
    code = main(["run", "--codec", "png", "--codec", "jpeg@5", "--dataset", "cityscapes", "--data-root", str(root),
                 "--metric", "psnr", "--metric", "miou", "--metric", "miou-pseudo", *STANDIN, "--out", str(out),
                 "--no-progress", "--no-outputs"])
    assert code == 0
    with ResultStore(out) as store:
        runs = store.query("SELECT summary FROM runs ORDER BY run_id")
    assert '"n_ok": 0' in runs[-1]["summary"] and '"n_skipped": 6' in runs[-1]["summary"]


def test_ground_truth_mode_needs_cityscapes_labels(image_folder, tmp_path: Path) -> None:
    out = tmp_path / "o"
    code = main(["run", "--codec", "png", "--dataset", str(image_folder(1, SIZE)), "--metric", "miou", *STANDIN[:4],
                 "--out", str(out), "--no-progress", "--no-outputs"])
    assert code == 1
    errors = per_image(out)["metric_errors"].iloc[0]
    assert "not in the Cityscapes layout" in errors and "miou-pseudo" in errors


# -- weights, options, availability -----------------------------------------------------------


def test_real_weights_are_resolved_through_the_manifest() -> None:
    from gcbench import weights

    entry = weights.get("pspnet-r50-d8-cityscapes")
    assert entry.sha256 == "2966598c" and entry.sha256 in entry.filename and entry.url.endswith(entry.filename)
    metric = get_metric("miou")
    with pytest.raises(WeightsError, match=r"pspnet_r50-d8_512x1024_40k_cityscapes_20200605_003338-2966598c\.pth.*"
                                           r"download\.openmmlab\.com"):
        metric.prepare()  # offline here: a clear error, never random weights
    assert metric.versions()["pspnet"] == "pspnet-r50-d8-cityscapes:2966598c"
    assert metric.identity() != get_metric("miou", random_init=True).identity()


def test_a_checkpoint_file_loads_exactly_and_is_flagged(tmp_path: Path) -> None:
    import torch

    standin = get_metric("miou-pseudo", random_init=True, seed=3, test_scale=[8, 8])
    model = standin.segmenter().model
    path = tmp_path / "pspnet.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {}}, path)
    other = get_metric("miou-pseudo", checkpoint=str(path), test_scale=[8, 8])
    loaded = other.segmenter().model.state_dict()
    assert all(torch.equal(v, loaded[k]) for k, v in model.state_dict().items())
    assert other.versions()["pspnet"].startswith("override:")
    assert any("NOT the published PSPNet: unverified pspnet.pth" in f for f in other._flags())
    for name, state in (("partial", {"backbone.stem.0.weight": model.state_dict()["backbone.stem.0.weight"]}),
                        ("misshapen", {"backbone.stem.0.weight": torch.zeros(1)})):
        torch.save({"state_dict": state}, tmp_path / f"{name}.pth")
        wrong = get_metric("miou-pseudo", checkpoint=str(tmp_path / f"{name}.pth"), test_scale=[8, 8])
        with pytest.raises(WeightsError, match="is not a pspnet_r50-d8_4xb2-40k_cityscapes-512x1024 checkpoint"):
            wrong.segmenter()


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="not both"):
        get_metric("miou", random_init=True, checkpoint="x.pth")
    with pytest.raises(ConfigError, match="random_init must be true or false"):
        get_metric("miou", random_init="yes")
    with pytest.raises(ConfigError, match=r"test_scale must be \[width, height\]"):
        get_metric("miou", test_scale=5)
    with pytest.raises(ConfigError, match="unknown option.*'scale'"):
        get_metric("miou", scale=[1, 2])
    assert "test_scale" not in get_metric("miou", test_scale=[2048, 1024]).options  # the config's own size
    with pytest.raises(ConfigError, match="--metric-option for miou, which is not among the metrics run"):
        from gcbench.cli import build_parser
        from gcbench.cli.run import config_from_args

        args = build_parser().parse_args(["run", "--codec", "png", "--dataset", "x", "--out", "y",
                                          "--metric-option", "miou.random_init=true"])
        args.argv = []
        config_from_args(args)


def test_without_the_extra_the_metrics_are_unavailable_with_the_install_command(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    from gcbench.catalog import list_metrics

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mmseg" else real(name, *a))
    for cls in (CityscapesMIoU, PseudoLabelMIoU):
        avail = cls.available()
        assert not avail and avail.hint == "pip install 'gcbench[seg]'"
    listed = list_metrics("miou*").set_index("metric")["status"]
    assert listed.str.contains(r"unavailable.*pip install 'gcbench\[seg\]'").all() and len(listed) == 2
    code = main(["run", "--codec", "png", "--dataset", "sample", "--metric", "miou-pseudo", "--out", str(tmp_path / "o")])
    assert code == 2 and "pip install 'gcbench[seg]'" in capsys.readouterr().err


# -- the mmcv.ops stand-in ----------------------------------------------------------------------


def test_mmcv_ops_standin_serves_mmcv_lites_own_point_sample() -> None:
    import torch
    import torch.nn.functional as F

    from gcbench.metrics.mmcv_ops_shim import compiled_ops_present, install, ops_backend

    assert not compiled_ops_present()  # mmcv-lite here
    assert install() == "gcbench-shim" == ops_backend()
    import mmcv.ops
    from mmcv.ops import point_sample, sigmoid_focal_loss

    assert point_sample.__module__ == "mmcv.ops.point_sample"  # mmcv-lite's own file, not a copy
    feats = torch.arange(2 * 3 * 5 * 7, dtype=torch.float32).reshape(2, 3, 5, 7)
    points = torch.rand(2, 11, 2, generator=torch.Generator().manual_seed(0))
    expected = F.grid_sample(feats, (2 * points - 1)[:, :, None], align_corners=False).squeeze(3)
    torch.testing.assert_close(point_sample(feats, points), expected)
    with pytest.raises(UnavailableError, match="compiled op and mmcv-lite has none"):
        sigmoid_focal_loss(feats, feats)
    with pytest.raises(ModuleNotFoundError):  # what mmseg's fallbacks expect for missing compiled ops
        from mmcv.ops import CrissCrossAttention  # noqa: F401
    import mmseg.models.decode_heads.cc_head as cc_head

    assert cc_head.CrissCrossAttention is None and mmcv.ops.__gcbench_shim__


def test_mmcv_ops_standin_is_not_installed_over_compiled_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    from gcbench.metrics import mmcv_ops_shim

    monkeypatch.delitem(sys.modules, "mmcv.ops", raising=False)
    monkeypatch.setattr(mmcv_ops_shim, "compiled_ops_present", lambda: True)
    assert mmcv_ops_shim.install() == "compiled"
    assert "mmcv.ops" not in sys.modules


def test_summary_has_per_class_columns(cityscapes_run) -> None:
    from gcbench.results.views import summary_table

    _, out = cityscapes_run
    table = summary_table(out)
    assert {"miou", "miou_pseudo", "iou_road", "iou_pseudo_traffic_light", "miou_n", "miou_pseudo_flags"} <= set(table.columns)
    assert isinstance(table, pd.DataFrame) and len(table) == 2


@pytest.mark.slow
def test_score_at_label_upsamples_predictions_to_the_labels(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Images half the labels' size (a 1024×512 generator's inputs): PSPNet segments each
    reconstruction at its size, the map is upsampled ×2 nearest and scored against the full labels."""
    root = tmp_path_factory.mktemp("cityscapes-half")
    half = (SIZE[0] // 2, SIZE[1] // 2)
    make_cityscapes(root, cities={"ulm": 2}, size=SIZE, image_size=half, seed=4)
    out = root.parent / (root.name + "-out")
    scale = f"[{half[1]},{half[0]}]"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GCBENCH_CACHE", str(root.parent / "cache-half"))
        mp.setenv("GCBENCH_OFFLINE", "1")
        code = main(["run", "--codec", "jpeg@20", "--dataset", "cityscapes", "--data-root", str(root), "--metric", "miou",
                     "--metric-option", "miou.random_init=true", "--metric-option", f"miou.test_scale={scale}",
                     "--metric-option", "miou.score_at=label", "--out", str(out), "--no-progress", "--no-outputs"])
    assert code == 0
    row = set_table(out).iloc[0]
    assert row["status"] == "ok" and "scored at the labels' resolution" in row["flags"]
    segment = _standin((half[1], half[0]))
    recons = _reconstructions(out, "jpeg")
    names = sorted(recons)
    preds = [np.repeat(np.repeat(segment(recons[n]), 2, axis=0), 2, axis=1) for n in names]  # every pixel ×2
    labels = [np.asarray(Image.open(root / "gtFine" / "val" / n.replace("_leftImg8bit.png", "_gtFine_labelTrainIds.png")))
              for n in names]
    assert all(p.shape == lab.shape == SIZE for p, lab in zip(preds, labels, strict=True))
    _assert_equals_mmseg(row.to_dict(), "", preds, labels)
    _assert_equals_cityscapes_scripts(row.to_dict(), out.parent / "cs-half", preds, root, names)
    # without the option the sizes disagree: a clear error naming it
    code = main(["run", "--codec", "jpeg@20", "--dataset", "cityscapes", "--data-root", str(root), "--metric", "miou",
                 "--metric-option", "miou.random_init=true", "--metric-option", f"miou.test_scale={scale}",
                 "--out", str(out.parent / "plain"), "--no-progress", "--no-outputs"])
    assert code == 1
    assert "miou.score_at=label" in per_image(out.parent / "plain")["metric_errors"].iloc[0]
