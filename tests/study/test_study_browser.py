"""The participant's page in headless Chromium: a scripted participant completes it with the
mouse and with the keyboard, and what it downloads analyses to what was scripted; the page
loads nothing but its own files, reveals nothing about the codecs, and keeps hostile names inert."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from study.study_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    EVIL_CODEC,
    EVIL_IMAGES,
    side_for,
)

from gcbench.study.analyze import AnalysisConfig, analyze_study
from gcbench.study.export import ExportConfig, export_study
from gcbench.study.integrity import canonical_text, verify

MIN_VIEW_S = 0.5
EVIL_TEXT = "<img src=x onerror=alert('title')>\"'</script><script>alert('t2')</script>&amp;"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _export(results: Path, out: Path, **kw: Any) -> dict:
    base = dict(results=results, codecs=["jpeg", "webp"], out=out, settings={"jpeg": "30", "webp": "10"}, crops=1,
                crop_size=96, participants=2, reference=True, catch_rate=0.25, seed=7, min_view_s=MIN_VIEW_S)
    base.update(kw)
    export_study(ExportConfig(**base))
    return json.loads((out / "study-key.json").read_text())


class Form:
    """One participant's page in a fresh browser context, with everything it does logged."""

    def __init__(self, browser: Any, page_path: Path) -> None:
        self.context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 800},
                                           device_scale_factor=1)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.goto(page_path.resolve().as_uri())

    def close(self) -> None:
        self.context.close()


def _flip_in_place(page: Any, keyboard: bool) -> None:
    """Flip twice (left, then right, shown in the same place) and return to side by side."""
    before = page.locator("#img-left").bounding_box()
    page.keyboard.press("Space") if keyboard else page.click("#flip")
    assert page.get_attribute("#stage", "class") == "flip"
    assert page.is_visible("#img-left") and not page.is_visible("#img-right")
    shown_left = page.locator("#img-left").bounding_box()
    page.keyboard.press("f") if keyboard else page.click("#img-left")  # clicking the image flips too
    assert page.is_visible("#img-right") and not page.is_visible("#img-left")
    shown_right = page.locator("#img-right").bounding_box()
    assert (shown_left["x"], shown_left["y"]) == (shown_right["x"], shown_right["y"])  # in place
    assert page.is_visible("#img-ref") == (page.get_attribute("#panel-ref", "hidden") is None)
    page.keyboard.press("s") if keyboard else page.click("#side-by-side")
    assert page.is_visible("#img-left") and page.is_visible("#img-right")
    assert page.locator("#img-left").bounding_box() == before


def complete(form: Form, key: dict, prefer: Callable[[str, str, str], str], *, keyboard: bool, save_to: Path | None = None,
             flip_at: tuple[int, ...] = (0,), forbidden: tuple[str, ...] = (), stop_after: int | None = None) -> tuple[list[str], str | None]:
    """Answer every trial as ``prefer`` dictates (the original in catch trials); download the answers
    to ``save_to``; returns the sides chosen and the download's suggested file name."""
    page = form.page
    n = page.evaluate("JSON.parse(document.getElementById('study-data').textContent).trials.length")
    start = int(page.get_attribute("#trial", "data-index") or 0) if page.get_attribute("body", "data-screen") == "trial" else None
    if start is None:
        page.keyboard.press("Enter") if keyboard else page.click("#start")
        start = int(page.get_attribute("#trial", "data-index"))
    sides = []
    for i in range(start, n):
        page.wait_for_selector(f'#trial[data-index="{i}"]')
        if i == start:
            # A choice before the minimum viewing time is ignored (the buttons are still disabled).
            was_disabled = page.evaluate("""() => { const d = document.getElementById('choose-left').disabled;
                document.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowLeft'})); return d; }""")
            assert was_disabled and page.get_attribute("#trial", "data-index") == str(i)
        page.wait_for_selector(f'#trial[data-index="{i}"] #choose-left:not([disabled])')
        assert page.text_content("#progress-text") == f"Comparison {i + 1} of {n}"
        dom = page.content().lower()
        for secret in forbidden:
            assert secret.lower() not in dom, f"the page shows {secret!r}"
        if i in flip_at:
            _flip_in_place(page, keyboard)
        side = side_for(key, page.get_attribute("#img-left", "src"), page.get_attribute("#img-right", "src"), prefer)
        if keyboard:
            page.keyboard.press(("ArrowLeft" if side == "left" else "ArrowRight") if i % 2 else ("1" if side == "left" else "2"))
        else:
            page.click(f"#choose-{side}")
        sides.append(side)
        if stop_after is not None and len(sides) == stop_after:
            page.wait_for_selector(f'#trial[data-index="{i + 1}"]')
            return sides, None
    page.wait_for_selector('body[data-screen="done"]')
    with page.expect_download() as info:
        page.keyboard.press("Enter") if keyboard else page.click("#download")
    info.value.save_as(save_to)
    return sides, info.value.suggested_filename


def always(codec: str):
    return lambda left, right, image: "left" if left == codec else "right"


def webp_on_img00(left: str, right: str, image: str) -> str:
    return always("webp" if image == "img00.png" else "jpeg")(left, right, image)


def _own_files_only(form: Form, handout: Path, participant: dict) -> None:
    allowed = {(handout / participant["form"].split("/", 1)[1]).resolve().as_uri()}
    for t in participant["trials"]:
        for fid in (t["left"], t["right"], t["reference"]):
            if fid:
                allowed.add((handout / "img" / f"{fid}.png").resolve().as_uri())
    network = [u for u in form.requests if not u.startswith("blob:")]  # the download is a blob in memory
    assert network and set(network) <= allowed, set(network) - allowed


def test_scripted_participants_by_mouse_and_keyboard(browser, results_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "study"
    key = _export(results_dir, out)
    forbidden = ["jpeg", "webp", "img00", "img01", "img02", "bpp", "setting"]
    forbidden += [repr(f["bpp"]) for f in key["files"].values() if "bpp" in f]
    files = []
    for part, prefer, keyboard in zip(key["participants"], [always("jpeg"), webp_on_img00], [False, True]):
        form = Form(browser, out / part["form"])
        try:
            if not keyboard:
                page = form.page
                page.screenshot(path=str(tmp_path / "intro.png"))
            path = tmp_path / f"answers-{part['id']}.json"
            sides, name = complete(form, key, prefer, keyboard=keyboard, save_to=path, flip_at=(0, 2),
                                   forbidden=forbidden)
            assert form.dialogs == [] and form.errors == []
            _own_files_only(form, out / "handout", part)
        finally:
            form.close()
        assert name == f"answers-{part['code']}.json"
        doc = json.loads(path.read_text())
        assert [t["choice"] for t in doc["trials"]] == sides
        assert [t["trial"] for t in doc["trials"]] == [t["trial"] for t in part["trials"]]
        assert [t["flips"] for t in doc["trials"]] == [2 if i in (0, 2) else 0 for i in range(len(sides))]
        assert all(t["rt_ms"] >= MIN_VIEW_S * 1000 for t in doc["trials"])
        assert doc["complete"] is True
        assert verify(part["hmac_key"], canonical_text(doc["study"], doc["participant"], doc["token"], doc["trials"]),
                      doc["signature"])  # the page's own SHA-256/HMAC agrees with Python's
        files.append(path)
    report = analyze_study(AnalysisConfig(key=out, answers=files, out=tmp_path / "analysis", bootstrap=50, elo_orders=50))
    assert report.rejected == []
    assert report.participants.status.tolist() == ["kept", "kept"]
    assert report.participants.catch_correct.tolist() == [1, 1]
    row = report.pairs.iloc[0]
    # 3 images, 1 crop: P01 prefers jpeg on all 3, P02 on img01 and img02 only.
    assert (row.codec_a, row.codec_b, row.n, row.wins_a, row.wins_b) == ("jpeg", "webp", 6, 5, 1)


def test_the_image_is_shown_at_its_native_pixels(browser, results_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "study"
    key = _export(results_dir, out, participants=1, min_view_s=0.0)
    part = key["participants"][0]
    form = Form(browser, out / part["form"])
    try:
        page = form.page
        page.click("#start")
        page.wait_for_selector('#trial[data-index="0"] #choose-left:not([disabled])')
        screen = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"))
        for side in ("left", "right", "ref"):
            shown = np.asarray(Image.open(out / "handout" / page.get_attribute(f"#img-{side}", "src")).convert("RGB"))
            box = page.locator(f"#img-{side}").bounding_box()
            assert (box["width"], box["height"]) == (shown.shape[1], shown.shape[0])
            # Layout may put the box at a fractional offset; Chromium paints the image snapped to
            # whole pixels, unscaled: one image pixel per screen pixel.
            top, left = round(box["y"]), round(box["x"])
            np.testing.assert_array_equal(screen[top : top + shown.shape[0], left : left + shown.shape[1]], shown)
    finally:
        form.close()


def test_hostile_names_and_texts_are_inert(browser, evil_results: Path, tmp_path: Path) -> None:
    out = tmp_path / "study"
    key = _export(evil_results, out, codecs=[EVIL_CODEC, "webp"], settings={EVIL_CODEC: "20", "webp": "30"},
                  title=EVIL_TEXT, instructions=EVIL_TEXT + "\nsecond line", question=EVIL_TEXT, participants=1)
    assert sorted(key["selection"]["images"]) == sorted([EVIL_IMAGES[0], f"{EVIL_IMAGES[1]}/{EVIL_IMAGES[2]}"])
    part = key["participants"][0]
    source = (out / part["form"]).read_text()
    assert source.count("</script>") == 2  # the data block's and the script's own: nothing closes them early
    assert EVIL_CODEC not in source and EVIL_IMAGES[2] not in source
    form = Form(browser, out / part["form"])
    try:
        page = form.page
        assert page.text_content("#title") == EVIL_TEXT
        assert page.title() == EVIL_TEXT
        assert page.text_content("#instructions") == EVIL_TEXT + "\nsecond line"
        prefer = always(EVIL_CODEC)
        path = tmp_path / "answers.json"
        complete(form, key, prefer, keyboard=True, save_to=path, flip_at=(1,),
                 forbidden=[EVIL_CODEC, EVIL_IMAGES[0], EVIL_IMAGES[2], "webp"])
        assert page.text_content("#question") == EVIL_TEXT
        assert page.evaluate("document.querySelectorAll('img[src=\"x\"], [onerror]').length") == 0
        assert page.evaluate("[...document.scripts].map(s => s.type || 'js')") == ["application/json", "js"]
        assert form.dialogs == [] and form.errors == []
    finally:
        form.close()
    report = analyze_study(AnalysisConfig(key=out, answers=[path], out=tmp_path / "a", bootstrap=0))
    assert report.rejected == [] and report.pairs.iloc[0].codec_a == EVIL_CODEC and report.pairs.iloc[0].wins_a == 2
    assert (tmp_path / "a" / "preferences.png").is_file()


def test_answers_posted_to_the_given_url_and_progress_survives_a_reload(browser, results_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "study"
    url = "http://127.0.0.1:9/collect"
    key = _export(results_dir, out, participants=1, post_url=url, catch_rate=0.0, reference=False)
    part = key["participants"][0]
    source = (out / part["form"]).read_text()
    assert "connect-src http://127.0.0.1:9;" in source
    posted: list[str] = []

    def collect(route: Any) -> None:
        posted.append(route.request.post_data)
        route.fulfill(status=200, body="ok", headers={"Access-Control-Allow-Origin": "*"})

    form = Form(browser, out / part["form"])
    try:
        page = form.page
        page.route(url, collect)
        first, _ = complete(form, key, always("webp"), keyboard=False, flip_at=(), stop_after=1)
        # the page stores each answer at once, but Chromium passes the write on to its storage
        # process asynchronously; a participant's reload comes a second later, not within
        # milliseconds (an immediate one has been seen to read the state from before the answer)
        page.wait_for_timeout(1000)
        page.reload()
        assert page.text_content("#start") == "Continue (1 of 3 done)"
        saved = tmp_path / "saved.json"
        rest, _ = complete(form, key, always("webp"), keyboard=False, save_to=saved, flip_at=())
        page.wait_for_function("document.getElementById('post-status').textContent.includes('sent')")
        assert page.text_content("#post-status") == "Your answers were sent."
        others = [u for u in form.requests if not u.startswith(("file:", "blob:"))]
        assert others == [url]
    finally:
        form.close()
    assert len(posted) == 1
    sent = tmp_path / "posted.json"
    sent.write_text(posted[0])
    assert [t["choice"] for t in json.loads(posted[0])["trials"]] == first + rest
    report = analyze_study(AnalysisConfig(key=out, answers=[sent, saved], out=tmp_path / "a", bootstrap=0, plot=False))
    assert report.pairs.iloc[0].wins_b == 3  # webp every time
    assert [r.reason.split(":")[0] for r in report.rejected] == ["duplicate"]
