"""One task factory: the sweep and the equal-bitrate targets give one (codec, setting, image, mask)
one key; a codec that encodes with the mask is searched with it; other masks re-run what depends
on them, sweep and targets alike.

The side-input codec is ``test_variable_rate:GainCodec`` (its RoI gets a 4× finer step) on a short
integer axis, so the equal-bitrate search probes every setting and each selection is a sweep setting.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gcbench.codecs.spec import spec_from_dict
from gcbench.execution.equal_bitrate import Selection, load_selections, selection_tasks
from gcbench.execution.plan import CodecPlan, ImageItem, make_task, plan_tasks
from gcbench.execution.runner import RunConfig, run
from gcbench.results.views import per_image
from test_variable_rate import _masks

SIZE = (32, 48)
GAINS = [1, 2, 3, 4, 5, 6, 7, 8]


@pytest.fixture
def roi_spec(specs: Path) -> str:
    (specs / "roigain.toml").write_text(
        'adapter = "test_variable_rate:GainCodec"\nrate_param = "gain"\nsettings = [1, 8]\n'
        "rate_increases_with_setting = true\n")
    return "roigain"


def _item(mask_sha: str | None) -> ImageItem:
    return ImageItem("a.png", "/nowhere/a.png", "0" * 64, 32, 48, "/nowhere/m.png" if mask_sha else None, mask_sha)


def test_sweep_and_targets_build_the_same_key() -> None:
    spec = spec_from_dict({"adapter": "pillow", "rate_param": "q", "settings": [10, 50],
                           "rate_increases_with_setting": True, "options": {"format": "JPEG"}}, default_name="c")
    side = CodecPlan(spec, (10, 50), {"lib": "1"}, uses_side_input=True)
    plain = CodecPlan(spec, (10, 50), {"lib": "1"}, uses_side_input=False)
    for plan in (side, plain):
        for mask in ("a" * 64, None):
            image = _item(mask)
            [sweep] = [t for t in plan_tasks([plan], [image], [], "d") if t.setting == 50]
            sel = Selection(0.5, "nearest", "c", "d", image.name, image.sha256, 50, 0.5, "ok", "int", 3)
            [target] = selection_tasks([sel], [plan], [image], [], "d")
            assert sweep.key == target.key == make_task(plan, 50, image, [], "d").key
    # the mask is part of a side-input codec's key, and of no other codec's
    assert make_task(side, 50, _item("a" * 64), [], "d").key != make_task(side, 50, _item("b" * 64), [], "d").key
    assert make_task(plain, 50, _item("a" * 64), [], "d").key == make_task(plain, 50, _item("b" * 64), [], "d").key


def _run(images: Path, masks: Path, out: Path, codec: str, **kw) -> object:
    return run(RunConfig(codecs=[codec], dataset=str(images), out=out, metrics=["psnr", "roi-psnr"], masks=str(masks),
                         progress=False, write_outputs=False, **kw))


def test_targets_reuse_the_sweeps_tasks_and_are_searched_with_the_mask(tmp_path: Path, image_folder,
                                                                        roi_spec: str) -> None:
    images = image_folder(2, SIZE)
    masks = _masks(tmp_path, 2, SIZE, slice(0, 16))
    out = tmp_path / "out"
    report = _run(images, masks, out, f"{roi_spec}@{','.join(map(str, GAINS))}", target_bpp=[1.0, 2.5])
    assert not report.failed
    # every selected setting is a sweep setting: the targets add no task of their own
    assert report.n_tasks == len(GAINS) * 2
    with sqlite3.connect(out / "gcbench.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == len(GAINS) * 2
    df = per_image(out).set_index(["image", "setting"])
    selections = load_selections(out)
    assert len(selections) == 2 * 2
    for sel in selections:
        # the search encoded with the mask: its bpp is the stored task's, byte for byte
        assert sel["bpp"] == df.loc[(sel["image"], str(sel["setting"])), "bpp"]
        assert sel["n_probes"] == len(GAINS)  # a short axis is probed at every setting


def test_other_masks_re_run_sweep_and_targets(tmp_path: Path, image_folder, roi_spec: str) -> None:
    images = image_folder(2, SIZE)
    masks = _masks(tmp_path, 2, SIZE, slice(0, 16))
    out = tmp_path / "out"
    codec = f"{roi_spec}@2,6"
    first = _run(images, masks, out, codec, target_bpp=[1.5])
    assert not first.failed and first.n_ok == first.n_tasks
    again = _run(images, masks, out, codec, target_bpp=[1.5])
    assert again.n_ok == 0 and again.n_skipped == again.n_tasks  # same masks: nothing to do
    keys_before = set(per_image(out)["key"])
    search_before = {s["key"] for s in load_selections(out)}
    _masks(tmp_path, 2, SIZE, slice(16, 32))  # the RoI moves to the bottom half
    changed = _run(images, masks, out, codec, target_bpp=[1.5])
    assert not changed.failed
    assert changed.n_skipped == 0 and changed.n_ok == changed.n_tasks  # sweep and targeted tasks re-run
    after = per_image(out)
    new = after[~after["key"].isin(keys_before)]
    assert len(new) == changed.n_tasks
    for _, row in new.iterrows():  # encoded and measured with the new RoI
        assert row["psnr_in"] - row["psnr_out"] > 9.0
    # searched again with the new masks: two images, one target, new cache keys
    assert len({s["key"] for s in load_selections(out)} - search_before) == 2
