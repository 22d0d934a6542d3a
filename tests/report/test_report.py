"""The report: one self-contained HTML file that opens in headless Chromium with no request and
no console error, whose tables are `gcbench table`'s; its Markdown twin; crops from the stored
bitstreams; the timing table when a timing folder is given; provenance."""

from __future__ import annotations

import base64
import html.parser
import io
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from gcbench.cli import main as cli
from gcbench.metrics.base import Column, PairMetric, SetMetric, SetResult

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


class _MeanAbsError(PairMetric):
    name = "t-mae"
    columns = (Column("t_mae", higher_is_better=False, label="MAE"),)

    def compute(self, original, reconstruction):
        return {"t_mae": float(np.abs(original.astype(np.float64) - reconstruction).mean())}


class _SetMSE(SetMetric):
    """A set metric that flags itself when computed from fewer than 3 images."""

    name = "t-setmse"
    columns = (Column("t_setmse", higher_is_better=False, label="set MSE"),)

    def item_features(self, original, reconstruction, context):
        return np.array([np.mean((original.astype(np.float64) - reconstruction) ** 2)])

    def finalize(self, features, references):
        flags = [f"only {len(features)} images (< 3)"] if len(features) < 3 else []
        return SetResult({"t_setmse": float(np.mean(np.concatenate(list(features))))}, n_items=len(features), flags=flags)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, kodak_dir: Path):
    """A small real run on Kodak (JPEG and WebP, two images, an equal-bitrate target) and a timing folder."""
    from gcbench.metrics.registry import metrics

    metrics.add("t-mae", _MeanAbsError, replace=True)
    metrics.add("t-setmse", _SetMSE, replace=True)
    root = tmp_path_factory.mktemp("report")
    out = root / "kodak"
    argv = ["run", "--codec", "jpeg@5,10,20,40", "--codec", "webp@5,20,40,75", "--dataset", str(kodak_dir),
            "--max-images", "2", "--metric", "psnr", "--metric", "t-mae", "--metric", "t-setmse",
            "--out", str(out), "--no-progress", "--target-bpp", "0.4"]
    assert cli(argv) == 0
    timing = root / "timing"
    assert cli(["timing", "--codec", "jpeg@40", "--dataset", str(kodak_dir), "--max-images", "1", "--warmup", "0",
                "--repeats", "2", "--out", str(timing), "--no-progress"]) == 0
    yield out, timing
    metrics.remove("t-mae")
    metrics.remove("t-setmse")


@pytest.fixture(scope="module")
def report(results, tmp_path_factory: pytest.TempPathFactory):
    out, timing = results
    path = tmp_path_factory.mktemp("html") / "report.html"
    assert cli(["report", str(out), str(timing), "--out", str(path), "--bootstrap", "200"]) == 0
    return path


class _Tables(html.parser.HTMLParser):
    """Every <table id=…> as a list of rows of cell texts (header row first)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._id: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._id = dict(attrs).get("id") or f"anon{len(self.tables)}"
            self.tables[self._id] = []
        elif tag == "tr" and self._id:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._id].append(self._row)
            self._row = None
        elif tag == "table":
            self._id = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _markdown_rows(text: str) -> list[list[str]]:
    lines = [line for line in text.strip().splitlines() if line.startswith("|")]
    rows = [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]] for line in lines]
    return [rows[0]] + rows[2:]  # drop the alignment row


def _gcbench_table(folder: Path, capsys: pytest.CaptureFixture[str]) -> list[list[str]]:
    capsys.readouterr()
    assert cli(["table", str(folder)]) == 0
    return _markdown_rows(capsys.readouterr().out)


def test_tables_match_gcbench_table(report: Path, results, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = results
    parser = _Tables()
    parser.feed(report.read_text(encoding="utf-8"))
    want = _gcbench_table(out, capsys)
    assert parser.tables["summary-0"] == want
    assert any(row[:3] == ["kodak", "webp", "40"] for row in want)
    # the set metric's warning flag is shown in the table and among the warnings
    header = want[0]
    flags = [row[header.index("t_setmse_flags")] for row in want[1:]]
    assert all(re.fullmatch(r"only [12] images \(< 3\)", f) for f in flags if f) and any(flags)
    text = report.read_text(encoding="utf-8")
    assert "t_setmse flagged: only 2 images (&lt; 3)" in text
    # the Markdown twin holds the same table, its images beside it
    md = report.with_suffix(".md").read_text(encoding="utf-8")
    assert "\n".join("| " + " | ".join(r) + " |" for r in want[1:]) in md
    for ref in re.findall(r"\]\((report_files/[^)]+)\)", md):
        assert (report.parent / ref).is_file()


def test_bd_table_in_report(report: Path, results) -> None:
    from gcbench.analysis.bjontegaard import bd_rate
    from gcbench.results.curves import load_results

    out, _ = results
    parser = _Tables()
    parser.feed(report.read_text(encoding="utf-8"))
    table = parser.tables["bd-table"]
    header = table[0]
    row = next(r for r in table[1:] if r[header.index("metric")] == "psnr" and r[header.index("method")] == "pchip")
    curves = load_results(out).curves
    a, t = curves[curves.series == "jpeg"], curves[curves.series == "webp"]
    want = bd_rate(a["bpp"], a["psnr"], t["bpp"], t["psnr"], method="pchip")
    assert float(row[header.index("BD-rate %")]) == pytest.approx(want.value, abs=5e-4)
    assert row[header.index("points (anchor/test)")] == "4/4"
    assert re.fullmatch(r"\[-?\d+\.\d+, -?\d+\.\d+\]", row[header.index("BD-rate 95% CI")])
    mae = next(r for r in table[1:] if r[header.index("metric")] == "t_mae")
    assert mae[header.index("better")] == "lower"
    # the set metric is compared too (no interval: it has no per-image values)
    setrow = next(r for r in table[1:] if r[header.index("metric")] == "t_setmse")
    assert setrow[header.index("BD-rate 95% CI")] == ""


def test_sections_provenance_timing_crops(report: Path, results) -> None:
    from PIL import Image

    from gcbench.results.store import ResultStore

    out, _ = results
    text = report.read_text(encoding="utf-8")
    for ident in ("summary", "ci", "bd", "plots", "equal-bitrate", "crops", "timing", "provenance"):
        assert f'<section id="{ident}">' in text
    parser = _Tables()
    parser.feed(text)
    runs = parser.tables["runs"]
    header = runs[0]
    command = runs[1][header.index("command")]
    assert command.startswith("gcbench run --codec jpeg@5,10,20,40") and "--target-bpp 0.4" in command
    assert "libjpeg" in runs[1][header.index("codecs (library, binary versions)")]
    assert "numpy" in runs[1][header.index("libraries")]
    assert any(t.startswith("timing-") for t in parser.tables)
    # crops: what the stored bitstream decodes to (checked with Pillow's own decoder)
    m = re.search(r"region (\d+)×(\d+) px at \((\d+), (\d+)\)", text)
    w, h, left, top = map(int, m.groups())
    crops = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="(\w+) crop">', text)
    assert {alt for _, alt in crops} == {"original", "jpeg", "webp"}
    with ResultStore(out, create=False) as store:
        selected = store.selections()
        path = store.query("SELECT path FROM images WHERE name='kodim01.png'")[0]["path"]
        for data, alt in crops:
            shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))
            if alt == "original":
                original = np.asarray(Image.open(path).convert("RGB"))
                assert np.array_equal(shown, original[top:top + h, left:left + w])
                continue
            sel = next(s for s in selected if s["codec"] == alt and s["image"] == "kodim01.png")
            key = store.query("SELECT key FROM tasks WHERE codec=? AND setting=? AND image=?",
                              (alt, str(sel["setting"]), "kodim01.png"))[0]["key"]
            full = np.asarray(Image.open(io.BytesIO(store.read_bitstream(key))).convert("RGB"))
            assert np.array_equal(shown, full[top:top + h, left:left + w])


def test_opens_in_headless_chromium(report: Path, results, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package 'chromium' (scripts/debian-packages.txt)")
    out, _ = results
    requests, console, errors = [], [], []
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                    headless=True, args=CHROMIUM_ARGS,
                                                    viewport={"width": 1400, "height": 900})
        try:
            page = ctx.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.resolve().as_uri())
            page.wait_for_load_state("networkidle")
            dom_rows = page.eval_on_selector_all(
                "#summary-0 tr", "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))")
            images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            ctx.close()
    assert requests == [report.resolve().as_uri()]  # the page itself and nothing else
    assert [c for c in console if c[0] in ("error", "warning")] == [] and errors == []
    assert dom_rows == _gcbench_table(out, capsys)
    assert len(images) >= 5 and all(done and width > 0 for done, width in images)
    from PIL import Image

    shot = np.asarray(Image.open(tmp_path / "report.png").convert("L"))
    assert shot.shape[0] > 2000 and shot.std() > 10  # a long page with content, not a blank one


def test_static_html_has_no_external_reference(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    for attr in re.findall(r'(?:src|href)="([^"]*)"', text):
        assert attr.startswith(("data:", "#")), attr
    assert "<script" not in text and "@import" not in text and "url(" not in text


def test_report_without_timing_module(results, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = results
    monkeypatch.setitem(sys.modules, "gcbench.timing", None)  # as if the module were not installed
    path = tmp_path / "r.html"
    assert cli(["report", str(out), "--out", str(path), "--bootstrap", "0", "--no-crops", "--no-markdown"]) == 0
    text = path.read_text(encoding="utf-8")
    assert '<section id="timing">' not in text and '<section id="summary">' in text
    assert not path.with_suffix(".md").exists()


def test_report_errors(results, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = results
    assert cli(["report", str(out), "--out", str(tmp_path / "r.txt")]) == 2
    assert ".html" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli(["report", str(tmp_path / "empty"), "--out", str(tmp_path / "r.html")]) == 2
    assert "gcbench run" in capsys.readouterr().err
    assert cli(["report", str(out), "--out", str(tmp_path / "r.html"), "--anchor", "nope", "--no-crops"]) == 2
    assert "anchor" in capsys.readouterr().err
    capsys.readouterr()
    assert cli(["bdrate", str(out), "--anchor", "jpeg", "--metric", "psnr", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("dataset,anchor,series,metric,method") and len(lines) == 3


def test_report_opens_with_plots_bd_and_crops_before_the_long_tables(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    order = [text.index(f'<section id="{ident}">') for ident in
             ("plots", "bd", "crops", "equal-bitrate", "summary", "ci", "timing", "provenance")]
    assert order == sorted(order)
    first_table = text.index("<table")
    assert text.index('<section id="plots">') < text.index("<img") < text.index('<section id="bd">') < first_table
    md = report.with_suffix(".md").read_text(encoding="utf-8")
    assert md.index("## Plots") < md.index("## Bjøntegaard deltas") < md.index("## Summary")


def test_set_metrics_record_the_images_they_combined(results) -> None:
    from gcbench.results.views import set_table

    from gcbench.results.views import per_image

    out, _ = results
    sets = set_table(out).set_index(["codec", "setting"])
    ok = per_image(out).query("status == 'ok'").groupby(["codec", "setting"]).size()
    assert sets["n_images"].to_dict() == ok.to_dict() and set(ok) == {1, 2}  # targeted settings: one image
    assert (sets["n_images"] == sets["n_items"]).all()  # this metric's items are its images


def test_report_config_carries_the_options(results, tmp_path: Path) -> None:
    from gcbench.report.document import ReportConfig, build_report

    out, _ = results
    path = tmp_path / "payload.html"
    build_report([out], path, ReportConfig(bootstrap=0, crops=False, markdown=False, rate="bpp_payload",
                                           psnr_cap=60.0, title="payload rate"))
    text = path.read_text(encoding="utf-8")
    assert "<title>payload rate</title>" in text and "rate: bpp_payload" in text
    assert "bpp_payload range used" in text and "psnr_capped" in text
    with pytest.raises(Exception, match="--confidence"):
        build_report([out], path, ReportConfig(confidence=1.5))
