"""Export of a blind study: selection, crops, design, files, key."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from study.study_helpers import png_chunks

from gcbench.core.errors import ConfigError, GcbenchError
from gcbench.results.store import ResultStore
from gcbench.study.crops import choose_boxes
from gcbench.study.design import catch_count
from gcbench.study.export import ExportConfig, export_study
from gcbench.study.recon import load_original
from gcbench.study.selection import select
from gcbench.results.views import per_image


def _export(results: Path, out: Path, **kw) -> tuple[dict, object]:
    base = dict(results=results, codecs=["jpeg", "webp"], out=out, target_bpp=0.6, crops=2, crop_size=96,
                participants=3, reference=True, catch_rate=0.2, seed=11, min_view_s=0.0)
    base.update(kw)
    report = export_study(ExportConfig(**base))
    return json.loads((out / "study-key.json").read_text()), report


@pytest.fixture(scope="module")
def exported(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, object]:
    out = tmp_path_factory.mktemp("exported") / "study"
    key, report = _export(results_dir, out)
    return out, key, report


def test_nearest_bpp_choice_matches_brute_force(results_dir: Path) -> None:
    df = per_image(results_dir)
    with ResultStore(results_dir, create=False) as store:
        for target in (0.2, 0.6, 1.5):
            sel = select(store, ["jpeg", "webp"], target_bpp=target)
            assert sel.images == ["img00.png", "img01.png", "img02.png"]
            for (codec, image), rec in sel.chosen.items():
                rows = df[(df.codec == codec) & (df.image == image)]
                best = rows.iloc[int(np.argmin(np.abs(rows.bpp.to_numpy() - target)))]
                assert rec.setting == best.setting and rec.bpp == pytest.approx(best.bpp)
                assert rec.bpp == pytest.approx(8.0 * rec.n_bytes / (rec.height * rec.width))


def test_setting_choice_and_clear_errors(results_dir: Path) -> None:
    with ResultStore(results_dir, create=False) as store:
        sel = select(store, ["jpeg", "webp"], settings={"jpeg": "30", "webp": "60"})
        assert {(c, r.setting) for (c, _), r in sel.chosen.items()} == {("jpeg", "30"), ("webp", "60")}
        with pytest.raises(ConfigError, match="Did you mean 'jpeg'"):
            select(store, ["jpg", "webp"], target_bpp=0.5)
        with pytest.raises(ConfigError, match=r"stored settings: 10, 30, 60"):
            select(store, ["jpeg", "webp"], settings={"jpeg": "99", "webp": "30"})
        with pytest.raises(ConfigError, match="no setting given for codec 'webp'"):
            select(store, ["jpeg", "webp"], settings={"jpeg": "30"})
        with pytest.raises(ConfigError, match="not both"):
            select(store, ["jpeg", "webp"], settings={"jpeg": "30", "webp": "30"}, target_bpp=0.5)
        with pytest.raises(ConfigError, match="at least two codecs"):
            select(store, ["jpeg"], target_bpp=0.5)


def test_layout_key_outside_handout_and_nothing_revealing(exported: tuple[Path, dict, object], results_dir: Path) -> None:
    out, key, _ = exported
    handout = out / "handout"
    assert (out / "study-key.json").is_file() and not list(handout.rglob("*key*"))
    assert (out / "study-key.json").stat().st_mode & 0o077 == 0  # owner only
    pages = sorted(handout.glob("*.html"))
    images = sorted((handout / "img").iterdir())
    assert sorted(p.name for p in handout.iterdir()) == sorted([p.name for p in pages] + ["img"])
    assert all(re.fullmatch(r"[0-9a-f]{8}\.html", p.name) for p in pages) and len(pages) == 3
    assert all(re.fullmatch(r"[0-9a-f]{16}\.png", p.name) for p in images)
    assert {p.stem for p in images} == set(key["files"])
    for path in images:
        assert png_chunks(path) == ["IHDR", "IDAT", "IEND"]  # no text, time, gamma or profile
        with Image.open(path) as im:
            assert im.info == {} and not im.getexif()
    # The files were made image by image, codec by codec; their timestamps do not say so.
    assert len({p.stat().st_mtime_ns for p in images}) == 1
    assert not list(out.glob(".staging-*"))
    secrets_ = ["jpeg", "webp", "img0", "bpp", "setting", "libjpeg", "pillow"]
    for rec in (f for f in key["files"].values() if f["role"] == "reconstruction"):
        secrets_ += [repr(rec["bpp"]), f"{rec['bpp']:.3f}", rec["task"]]
    for page in pages:
        text = page.read_text().lower()
        for s in secrets_:
            assert s.lower() not in text, f"{page.name} contains {s!r}"
    crowd = (out / "crowd" / "trials.csv").read_text()
    for s in secrets_:
        assert s.lower() not in crowd.lower()


def test_design_counts_catch_rate_and_participant_pages(exported: tuple[Path, dict, object]) -> None:
    out, key, report = exported
    n_items = 3 * 2 * 1  # images × crops × codec pairs
    n_catch = catch_count(n_items, 0.2)
    assert n_catch == 2 and report.n_items == n_items
    all_ids: list[str] = []
    for part in key["participants"]:
        trials = part["trials"]
        assert len(trials) == n_items + n_catch
        assert sum(t["kind"] == "catch" for t in trials) == n_catch
        assert sorted(t["item"] for t in trials if t["kind"] == "pair") == sorted(i["item"] for i in key["items"])
        for t in trials:
            assert t["left"] != t["right"]
            if t["kind"] == "pair":
                assert {t["left_codec"], t["right_codec"]} == {"jpeg", "webp"}
                assert key["files"][t["left"]]["codec"] == t["left_codec"]
                assert key["files"][t["right"]]["codec"] == t["right_codec"]
            else:
                orig = t["left"] if t["original_side"] == "left" else t["right"]
                assert key["files"][orig]["role"] == "original"
            assert key["files"][t["reference"]]["role"] == "original"
        page = (out / part["form"]).read_text()
        data = json.loads(re.search(r'id="study-data">(.*?)</script>', page, re.DOTALL).group(1))
        assert data["token"] == part["token"] and data["key"] == part["hmac_key"] and data["participant"] == part["code"]
        assert [t["id"] for t in data["trials"]] == [t["trial"] for t in trials]
        assert [t["left"] for t in data["trials"]] == [f"img/{t['left']}.png" for t in trials]
        all_ids += [t["trial"] for t in trials]
    assert len(set(all_ids)) == len(all_ids)  # trial ids unique across the study
    orders = [[(t.get("item"), t["kind"]) for t in p["trials"]] for p in key["participants"]]
    assert orders[0] != orders[1] or orders[1] != orders[2]  # orders are drawn per participant
    tokens = {p["token"] for p in key["participants"]} | {p["hmac_key"] for p in key["participants"]}
    assert len(tokens) == 6 and all(len(t) >= 32 for t in tokens)


def _structure(key: dict) -> list:
    items = {i["item"]: (i["image"], i["crop"], tuple(i["box"])) for i in key["items"]}
    return [[(t["kind"], items.get(t.get("item")), t.get("left_codec"), t.get("source"), t.get("original_side"))
             for t in p["trials"]] for p in key["participants"]]


def test_same_seed_same_design_other_seed_other_design(results_dir: Path, exported, tmp_path: Path) -> None:
    _, key, _ = exported
    again, _ = _export(results_dir, tmp_path / "again")
    other, _ = _export(results_dir, tmp_path / "other", seed=12)
    assert again["seed"] == key["seed"] == 11
    assert _structure(again) == _structure(key)
    assert _structure(other) != _structure(key)
    assert again["study"] != key["study"] and set(again["files"]).isdisjoint(key["files"])  # ids are not seeded


def test_images_are_crops_of_decoded_bitstreams(exported, results_dir: Path) -> None:
    out, key, _ = exported
    with ResultStore(results_dir, create=False) as store:
        tasks = {t["key"]: t for t in store.query("SELECT * FROM tasks")}
        paths = {r["name"]: r["path"] for r in store.query("SELECT name, path FROM images")}
    for fid, meta in key["files"].items():
        shown = np.asarray(Image.open(out / "handout" / "img" / f"{fid}.png").convert("RGB"))
        top, left, h, w = meta["box"]
        assert shown.shape == (h, w, 3) == (96, 96, 3)
        original = np.asarray(Image.open(paths[meta["image"]]).convert("RGB"))[top : top + h, left : left + w]
        if meta["role"] == "reconstruction":
            task = tasks[meta["task"]]
            assert (task["codec"], task["setting"], task["bpp"]) == (meta["codec"], meta["setting"], meta["bpp"])
            data = (results_dir / task["bitstream"]).read_bytes()
            decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))[top : top + h, left : left + w]
            np.testing.assert_array_equal(shown, decoded)
        elif meta["role"] == "original":
            np.testing.assert_array_equal(shown, original)
        else:
            mse = np.mean((shown.astype(float) - original) ** 2)
            assert 10 * np.log10(255**2 / mse) < 28  # strongly degraded


def test_crop_rules() -> None:
    img = np.full((300, 400, 3), 128, np.uint8)
    img[180:260, 40:120] = np.random.default_rng(0).integers(0, 256, (80, 80, 3))  # the only texture
    (box,) = choose_boxes(img, 1, 80, "variance", np.random.default_rng(0))
    assert box == (180, 40, 80, 80)
    boxes = choose_boxes(img, 3, 80, "variance", np.random.default_rng(0))
    assert len(set(boxes)) == 3
    a = choose_boxes(img, 4, 100, "random", np.random.default_rng(5))
    assert a == choose_boxes(img, 4, 100, "random", np.random.default_rng(5))
    assert all(0 <= t <= 200 and 0 <= lf <= 300 and (h, w) == (100, 100) for t, lf, h, w in a)
    assert choose_boxes(img, 1, 512, "random", np.random.default_rng(0)) == [(0, 0, 300, 400)]  # small image: whole
    with pytest.raises(ConfigError, match="unknown crop rule"):
        choose_boxes(img, 1, 64, "saliency-net", np.random.default_rng(0))


def test_variance_rule_export(results_dir: Path, tmp_path: Path) -> None:
    key, _ = _export(results_dir, tmp_path / "v", crop_rule="variance", crops=1, participants=1, catch_rate=0.0,
                     reference=False)
    assert key["options"]["crop_rule"] == "variance"
    assert all(t["kind"] == "pair" and t["reference"] is None for t in key["participants"][0]["trials"])


def test_refuses_to_overwrite_and_checks_options(results_dir: Path, exported, tmp_path: Path) -> None:
    out, _, _ = exported
    with pytest.raises(ConfigError, match="already holds a study"):
        _export(results_dir, out)
    for bad in ({"catch_rate": 0.7}, {"participants": 0}, {"crops": 0}, {"post_url": "javascript:alert(1)"},
                {"post_url": "https://x.org/a'b"}, {"crop_size": 8}):
        with pytest.raises(ConfigError):
            _export(results_dir, tmp_path / f"bad{len(list(tmp_path.iterdir()))}", **bad)


def test_original_is_checked_against_the_stored_hash(results_dir: Path, tmp_path: Path) -> None:
    with ResultStore(results_dir, create=False) as store:
        sel = select(store, ["jpeg", "webp"], target_bpp=0.5)
        rec = sel.chosen[("jpeg", "img01.png")]
        moved = replace(rec, dataset="moved-away")  # no recorded path: only --originals can find it
        with pytest.raises(GcbenchError, match="--originals"):
            load_original(store, moved, None)
        folder = tmp_path / "orig"
        folder.mkdir()
        good = load_original(store, rec, None)
        Image.fromarray(good).save(folder / "img01.png")
        np.testing.assert_array_equal(load_original(store, moved, folder), good)
        Image.fromarray(255 - good).save(folder / "img01.png")
        with pytest.raises(GcbenchError, match="pixels changed"):
            load_original(store, moved, folder)


def test_crowd_csv(exported) -> None:
    out, key, _ = exported
    rows = list(csv.DictReader((out / "crowd" / "trials.csv").open()))
    trials = key["crowd"]["trials"]
    assert [r["trial_id"] for r in rows] == [t["trial"] for t in trials]
    assert all(r["left_url"] == f"img/{t['left']}.png" and r["reference_url"] == f"img/{t['reference']}.png"
               for r, t in zip(rows, trials))
    assert all((out / "handout" / r["left_url"]).is_file() and (out / "handout" / r["right_url"]).is_file() for r in rows)


def test_decoder_falls_back_to_the_registry_when_the_run_config_lacks_specs(results_dir: Path, tmp_path: Path) -> None:
    import shutil
    from dataclasses import replace as dc_replace

    from gcbench.study.recon import Decoders

    copy = tmp_path / "results"
    shutil.copytree(results_dir, copy)
    with ResultStore(copy, create=False) as store:
        store.conn.execute("UPDATE runs SET config='{}'")
        rec = select(store, ["jpeg", "webp"], target_bpp=0.5).chosen[("jpeg", "img00.png")]
        decoded = Decoders(store).decode(rec)
        expected = np.asarray(Image.open(io.BytesIO(store.read_bitstream(rec.key))).convert("RGB"))
        np.testing.assert_array_equal(decoded, expected)
        with pytest.raises(ConfigError, match="cannot rebuild codec 'jpeg'"):
            Decoders(store).decode(dc_replace(rec, codec_spec_hash="0" * 16))
