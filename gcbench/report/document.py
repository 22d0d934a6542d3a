"""The report: one self-contained HTML file (and a Markdown twin) from one or more results folders.

    gcbench report results/kodak results/kodak-learned --out report.html

The HTML file carries everything inside it — plots and crops as ``data:`` URIs, styles
inline, no script, no font, no link to anything — so it opens offline, in a mail, in an
archive years later. The Markdown twin (``report.md``) holds the same sections, with the
images written beside it (``report_files/``).

Sections, what people look at first at the top: warnings; RD plots (one panel per metric),
per-image scatter, the distortion–perception plane; BD-rate and BD-metric against an anchor
for every quality axis, with PCHIP and Akima, the range used, the number of points, warnings
and bootstrap intervals; example crops at equal bpp decoded from the stored bitstreams;
equal-bitrate tables; then the long tables: the summary of each folder (exactly what
``gcbench table`` prints), means with bootstrap confidence intervals over images; timing
(``gcbench timing`` folders); failures; provenance: every run with its exact command,
gcbench, library, codec and metric versions and the hardware.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
import re
import shlex
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.core import defaults
from gcbench.core.errors import ConfigError, GcbenchError

if TYPE_CHECKING:
    import pandas as pd

    from gcbench.analysis.references import ReferenceCurve
    from gcbench.report.crops import CropSet
    from gcbench.results.curves import Results


# -- a small document model, rendered twice -----------------------------------------------------

@dataclass
class Block:
    kind: str  # "p", "table", "image", "crops", "list", "details"
    text: str = ""
    table: str = ""  # a Markdown table (views.to_markdown)
    data: bytes = b""
    name: str = ""  # file name of an image in the Markdown twin
    items: list[str] = field(default_factory=list)
    crops: Any = None
    ident: str = ""


@dataclass
class Section:
    title: str
    ident: str
    blocks: list[Block] = field(default_factory=list)

    def p(self, text: str) -> None:
        self.blocks.append(Block("p", text=text))

    def table(self, df: pd.DataFrame, caption: str = "", ident: str = "", floatfmt: str = ".4f") -> None:
        from gcbench.results.views import to_markdown

        self.blocks.append(Block("table", text=caption, table=to_markdown(df, floatfmt), ident=ident))


_SPLIT = re.compile(r"(?<!\\)\|")


def _md_rows(table: str) -> tuple[list[str], list[bool], list[list[str]]]:
    """Header, right-alignment per column and body cells of a Markdown table."""
    lines = table.splitlines()

    def cells(line: str) -> list[str]:
        parts = _SPLIT.split(line.strip())[1:-1]
        return [p.strip().replace("\\|", "|") for p in parts]

    header = cells(lines[0])
    right = [c.endswith(":") for c in cells(lines[1])]
    return header, right, [cells(line) for line in lines[2:]]


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem auto;max-width:1400px;
padding:0 1rem;color:#1d1d1f;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;border-bottom:1px solid #ccc;margin-top:2rem}
nav a{margin-right:.8rem}.meta{color:#555;font-size:.9rem}
.tablewrap{overflow-x:auto;margin:.5rem 0 1rem}
table{border-collapse:collapse;font-size:.78rem}caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #d6d6d6;padding:.2rem .45rem;vertical-align:top}th{background:#f2f2f2;position:sticky;top:0}
td.r{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.l{max-width:38rem;overflow-wrap:anywhere}
tbody tr:nth-child(even){background:#fafafa}
figure{margin:.5rem 0 1.2rem}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85rem;color:#444}
.crops{display:flex;flex-wrap:wrap;gap:.6rem}.crops figure{margin:0}
.crops figure{width:288px}.crops img{image-rendering:pixelated;width:288px;height:auto}
.warn{color:#7a2a00}details{margin:.4rem 0 1rem}
"""


def _html_table(block: Block) -> str:
    header, right, rows = _md_rows(block.table)
    ident = f' id="{html.escape(block.ident)}"' if block.ident else ""
    out = [f'<div class="tablewrap"><table{ident}>']
    if block.text:
        out.append(f"<caption>{html.escape(block.text)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(
            f'<td class="{"r" if r else "l"}">{html.escape(c)}</td>' for c, r in zip(row, right, strict=False)) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def _data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _crop_caption(panel: Any) -> str:
    values = ", ".join(f"{k} {v:.4g}" for k, v in panel.values.items())
    return f"{panel.series} @ {panel.setting}: {panel.bpp:.4f} bpp" + (f"; {values}" if values else "")


def _html_crops(cs: CropSet) -> str:
    top, left, h, w = cs.box
    intro = (f"<p>{html.escape(cs.folder)} · {html.escape(cs.dataset)} / {html.escape(cs.image)}: "
             f"{html.escape(cs.how)}; region {w}×{h} px at ({left}, {top}), shown at 2×.</p>")
    out = [intro, '<div class="crops">']
    if cs.original_png:
        out.append(f'<figure><img src="{_data_uri(cs.original_png)}" alt="original crop">'
                   "<figcaption>original</figcaption></figure>")
    for panel in cs.panels:
        if panel.png:
            out.append(f'<figure><img src="{_data_uri(panel.png)}" alt="{html.escape(panel.series)} crop">'
                       f"<figcaption>{html.escape(_crop_caption(panel))}</figcaption></figure>")
        else:
            out.append(f'<figure><figcaption class="warn">{html.escape(panel.series)}: '
                       f"{html.escape(panel.note)}</figcaption></figure>")
    out.append("</div>")
    return "\n".join(out)


def render_html(title: str, meta: str, sections: list[Section]) -> str:
    """The self-contained HTML page of the sections (images inline, no script, no link)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # no favicon request: the page must not ask for anything
        '<link rel="icon" href="data:,">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p class=\"meta\">{html.escape(meta)}</p>",
        "<nav>" + "".join(f'<a href="#{s.ident}">{html.escape(s.title)}</a>' for s in sections) + "</nav>",
    ]
    for s in sections:
        parts.append(f'<section id="{s.ident}"><h2>{html.escape(s.title)}</h2>')
        for b in s.blocks:
            if b.kind == "p":
                parts.append(f"<p>{html.escape(b.text)}</p>")
            elif b.kind == "table":
                parts.append(_html_table(b))
            elif b.kind == "details":
                parts.append(f"<details><summary>{html.escape(b.text)}</summary>{_html_table(b)}</details>")
            elif b.kind == "image":
                parts.append(f'<figure><img src="{_data_uri(b.data)}" alt="{html.escape(b.text)}">'
                             f"<figcaption>{html.escape(b.text)}</figcaption></figure>")
            elif b.kind == "list":
                parts.append('<ul class="warn">' + "".join(f"<li>{html.escape(i)}</li>" for i in b.items) + "</ul>")
            elif b.kind == "crops":
                parts.append(_html_crops(b.crops))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render_markdown(title: str, meta: str, sections: list[Section], files_dir: Path, md_path: Path) -> str:
    """The Markdown twin of the sections; its images are written into ``files_dir``."""
    rel = files_dir.name
    if files_dir.is_dir():  # images of an earlier version of this report
        for pattern in ("rd.png", "per_image.png", "dp*.png", "crop*.png"):
            for old in files_dir.glob(pattern):
                old.unlink()
    lines = [f"# {title}", "", meta, ""]
    counter = 0

    def image(data: bytes, name: str) -> str:
        files_dir.mkdir(parents=True, exist_ok=True)
        (files_dir / name).write_bytes(data)
        return f"{rel}/{name}"

    for s in sections:
        lines += [f"## {s.title}", ""]
        for b in s.blocks:
            if b.kind == "p":
                lines += [b.text, ""]
            elif b.kind in ("table", "details"):
                if b.text:
                    lines += [f"**{b.text}**", ""]
                lines += [b.table, ""]
            elif b.kind == "image":
                lines += [f"![{b.text}]({image(b.data, b.name)})", "", f"*{b.text}*", ""]
            elif b.kind == "list":
                lines += [f"- {i}" for i in b.items] + [""]
            elif b.kind == "crops":
                cs = b.crops
                top, left, h, w = cs.box
                lines += [f"{cs.folder} · {cs.dataset} / {cs.image}: {cs.how}; region {w}×{h} px at ({left}, {top}).", ""]
                if cs.original_png:
                    counter += 1
                    lines += [f"![original]({image(cs.original_png, f'crop{counter:02d}-original.png')}) original", ""]
                for panel in cs.panels:
                    counter += 1
                    if panel.png:
                        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", panel.series)
                        path = image(panel.png, f"crop{counter:02d}-{safe}.png")
                        lines += [f"![{panel.series}]({path}) {_crop_caption(panel)}", ""]
                    else:
                        lines += [f"- {panel.series}: {panel.note}", ""]
    return "\n".join(lines).rstrip() + "\n"


# -- gathering ---------------------------------------------------------------------------------

def _is_results(folder: Path) -> bool:
    """Whether ``folder`` holds results of ``gcbench run`` (a timing folder has a database, no runs)."""
    from gcbench.results.store import DB_NAME, ResultStore

    if not (folder / DB_NAME).is_file():
        return False
    with ResultStore(folder, create=False) as store:
        return bool(store.runs())


def _load_timing(folder: Path) -> tuple[pd.DataFrame | None, str]:
    """The timing summary of a folder, when gcbench.timing is installed and the folder has one."""
    try:
        from gcbench import timing
    except ImportError:
        return None, ""
    load = getattr(timing, "load_timing", None)
    if load is None:
        return None, ""
    try:
        df = load(folder)
    except GcbenchError:
        return None, ""  # no timing output in this folder
    except Exception as exc:  # noqa: BLE001 - a broken timing file must not stop the report
        return None, f"{folder}: timing results could not be read: {exc}"
    return (df if df is not None and len(df) else None), ""


def _timing_columns(df: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("hw_name", "dataset", "codec", "setting", "n_images", "bpp") if c in df.columns]
    times = [c for c in df.columns if re.search(r"_ms(_per_mp)?_(median|iqr)$", c)]
    extra = [c for c in ("threads", "device") if c in df.columns]
    return df[keys + times + extra] if times else df


def _when(ts: Any) -> str:
    if ts is None:
        return ""
    return _dt.datetime.fromtimestamp(float(ts), _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _versions_text(d: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items()) if v not in (None, ""))


def _hardware_text(hw: dict[str, Any]) -> str:
    gpus = hw.get("gpus") or []
    gpu_text = "; ".join(str(g.get("name", g)) if isinstance(g, dict) else str(g) for g in gpus) or "no GPU"
    memory = hw.get("memory_bytes")
    return (f"{hw.get('name', '')} (id {hw.get('id', '')}): {hw.get('cpu_model', '')} × {hw.get('cpu_count', '')}"
            f"{f', {memory / 2**30:.0f} GiB' if memory else ''}, {gpu_text}; {hw.get('platform', '')}; "
            f"Python {hw.get('python', '')}")


def runs_table(folder: Path, label: str) -> pd.DataFrame:
    """Every run of a folder: command, versions of everything, hardware."""
    import pandas as pd

    from gcbench.results.store import ResultStore

    with ResultStore(folder, create=False) as store:
        runs = store.runs()
        metric_versions = store.metric_versions()
    by_run: dict[int, dict[str, str]] = {}
    for run_id, metric, versions in metric_versions:
        by_run.setdefault(run_id, {})[metric] = _versions_text(versions) or "-"
    rows = []
    for r in runs:
        config = r.config
        command = shlex.join(r.argv) if r.argv else (
            f"(called from Python: gcbench.run(RunConfig(...)), codecs {config.codecs or None}, "
            f"dataset {config.dataset or None!r})")
        codecs = "; ".join(f"{s.get('name')} [{s.get('library', '')}]: {_versions_text(s.get('versions', {}))}"
                           for s in config.codec_specs)
        metrics = "; ".join(f"{m}: {v}" for m, v in sorted(by_run.get(r.run_id, {}).items()))
        if not metrics and config.metrics:
            metrics = ", ".join(config.metrics) + " (no values stored by this run)"
        rows.append({"folder": label, "run": r.run_id, "started": _when(r.started), "finished": _when(r.finished),
                     "status": r.status, "command": command, "gcbench": r.gcbench_version,
                     "hardware": _hardware_text(r.hardware), "libraries": _versions_text(r.hardware.get("versions", {})),
                     "codecs (library, binary versions)": codecs, "metrics (versions)": metrics,
                     "executor": json.dumps(config.executor, sort_keys=True)})
    return pd.DataFrame(rows)


def _ci_wide(ci: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Long CI rows → one row per (dataset, series, setting), a 'mean [lo, hi]' cell per column."""
    import pandas as pd

    if ci.empty:
        return pd.DataFrame()
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in ci.itertuples(index=False):
        key = (r.dataset, r.series, r.setting)
        row = rows.setdefault(key, {"dataset": r.dataset, "series": r.series, "setting": r.setting,
                                    "n_images": r.n_images})
        row["n_images"] = max(row["n_images"], r.n_images)
        lo = "" if r.ci_lo != r.ci_lo else f"{r.ci_lo:.4f}"
        hi = "" if r.ci_hi != r.ci_hi else f"{r.ci_hi:.4f}"
        row[r.column] = f"{r.mean:.4f} [{lo}, {hi}]" if lo else f"{r.mean:.4f}"
    return pd.DataFrame(list(rows.values()))


def _bd_display(bd: pd.DataFrame, confidence: float, rate: str = defaults.RATE) -> pd.DataFrame:
    import pandas as pd

    from gcbench.results.columns import declared_columns

    decl = declared_columns()

    def num(v: float) -> str:
        return f"{v:.2f}" if abs(v) >= 1 else f"{v:.3g}"

    def ci(lo: float, hi: float) -> str:
        return "" if math.isnan(lo) or math.isnan(hi) else f"[{num(lo)}, {num(hi)}]"

    rows = []
    for r in bd.itertuples(index=False):
        unit = decl[r.metric].unit if r.metric in decl else ""
        rows.append({
            "dataset": r.dataset, "anchor": r.anchor, "series": r.series, "metric": r.metric,
            "better": "higher" if r.higher_is_better else "lower", "method": r.method,
            "BD-rate %": r.bd_rate, f"BD-rate {confidence:.0%} CI": ci(r.bd_rate_ci_lo, r.bd_rate_ci_hi),
            "metric range used": f"{r.rate_metric_lo:.4g} … {r.rate_metric_hi:.4g}" if r.rate_metric_lo == r.rate_metric_lo else "",
            "overlap": f"{r.rate_overlap:.0%}",
            "BD-metric": r.bd_metric, "unit": unit,
            f"BD-metric {confidence:.0%} CI": ci(r.bd_metric_ci_lo, r.bd_metric_ci_hi),
            f"{rate} range used": f"{r.metric_bpp_lo:.4g} … {r.metric_bpp_hi:.4g}" if r.metric_bpp_lo == r.metric_bpp_lo else "",
            "points (anchor/test)": f"{r.n_anchor}/{r.n_test}", "bootstrap": r.n_boot,
            "warnings": r.warnings,
        })
    return pd.DataFrame(rows)


def _png(path_stem: Path, draw: Any) -> bytes | None:
    written = draw(path_stem)
    pngs = [p for p in written if p.suffix == ".png"]
    return pngs[0].read_bytes() if pngs else None


def _dp_pairs(curves: pd.DataFrame, columns: list[str]) -> list[tuple[str, str]]:
    """Distortion–perception planes to draw: the first column against each set/no-reference metric
    column (FID, KID, NIQE …); without those, against the first column of another metric."""
    from gcbench.results.curves import column_owners

    if len(columns) < 2:
        return []
    owners = column_owners()
    x = columns[0]
    perception = [c for c in columns[1:] if c in owners and owners[c][1].kind in ("set", "task", "noref")]
    if perception:
        return [(x, y) for y in perception]
    other = [c for c in columns[1:] if c in owners and x in owners and owners[c][0] != owners[x][0]]
    return [(x, other[0])] if other else []


# -- the report --------------------------------------------------------------------------------

@dataclass
class ReportConfig:
    """Everything about a report besides its folders and its file; ``gcbench report`` flags map onto these."""

    anchor: str | None = None  # the curve BD values are computed against (default: the first)
    references: Sequence[ReferenceCurve] = ()  # published curves to overlay and compare
    methods: tuple[str, ...] = defaults.BD_METHODS
    bootstrap: int = defaults.BOOTSTRAP_REPLICATES  # replicates over images (0: no intervals)
    seed: int = defaults.SEED
    confidence: float = defaults.CONFIDENCE
    crops: bool = True
    crop_size: int = defaults.CROP_SIZE
    markdown: bool = True  # write the Markdown twin beside the HTML file
    title: str | None = None
    argv: list[str] | None = None  # the command that asked for the report, recorded in it
    rate: str = defaults.RATE  # rate axis of plots and BD values: bpp or bpp_payload
    psnr_cap: float | None = None  # add psnr_capped: each image's PSNR capped at this many dB

    def check(self) -> None:
        """Raise ConfigError on a value no report can use."""
        from gcbench.results.columns import check_rate

        if self.bootstrap < 0:
            raise ConfigError("--bootstrap must be 0 (off) or a number of replicates")
        if not 0 < self.confidence < 1:
            raise ConfigError("--confidence must lie between 0 and 1")
        check_rate(self.rate)


# The order of the sections: what people look at first (plots, BD values, crops), then the long tables.
SECTION_ORDER = ("warnings", "plots", "bd", "crops", "equal-bitrate", "summary", "ci", "timing", "failures",
                 "provenance")


@dataclass
class _Document:
    """The sections being gathered (any order) and the warnings shown first."""

    sections: dict[str, Section] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def section(self, ident: str, title: str) -> Section:
        return self.sections.setdefault(ident, Section(title, ident))

    def ordered(self) -> list[Section]:
        if self.warnings:
            self.section("warnings", "Warnings").blocks = [Block("list", items=list(dict.fromkeys(self.warnings)))]
        rank = {ident: i for i, ident in enumerate(SECTION_ORDER)}
        return sorted((s for s in self.sections.values() if s.blocks), key=lambda s: rank.get(s.ident, len(rank)))


def _folders(sources: Sequence[str | Path]) -> tuple[list[Path], list[Path], dict[Path, tuple[Any, str]]]:
    """(every folder, those with results, timing summary of each); ConfigError when none holds anything."""
    folders = [Path(s) for s in sources]
    if not folders:
        raise ConfigError("give at least one results folder")
    for f in folders:
        if not f.is_dir():
            raise ConfigError(f"{f} is not a folder")
    result_folders = [f for f in folders if _is_results(f)]
    timing = {f: _load_timing(f) for f in folders}
    if not result_folders and not any(t[0] is not None for t in timing.values()):
        raise ConfigError("none of the folders holds gcbench results (gcbench.sqlite) or timing results; "
                          "run `gcbench run --out DIR` first")
    return folders, result_folders, timing


def build_report(sources: Sequence[str | Path], out: str | Path, config: ReportConfig | None = None) -> list[Path]:
    """Write ``out`` (HTML) and, unless ``config.markdown`` is False, ``out`` with ``.md`` beside it."""
    from gcbench import __version__
    from gcbench.results.curves import load_results

    config = config or ReportConfig()
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--out must name an .html file, got {out}")
    config.check()
    folders, result_folders, timing = _folders(sources)
    doc = _Document()
    results = load_results(result_folders, psnr_cap=config.psnr_cap) if result_folders else None
    labels = results.labels if results else {}
    if results is not None:
        with tempfile.TemporaryDirectory(prefix="gcbench-report-") as tmp:
            _results_sections(doc, results, Path(tmp), config)
    _timing_section(doc, timing, labels)
    _failures_section(doc, result_folders, labels)
    _provenance_section(doc, result_folders, labels, config)
    title = config.title or "gcbench report: " + ", ".join(labels.get(f, f.name) for f in folders)
    meta = (f"gcbench {__version__} · folders: {', '.join(str(f) for f in folders)} · "
            f"bootstrap: {config.bootstrap} replicates over images, {config.confidence:.0%} percentile intervals, "
            f"seed {config.seed}")
    return _write(out, title, meta, doc.ordered(), config.markdown)


def _write(out: Path, title: str, meta: str, sections: list[Section], markdown: bool) -> list[Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    md_path = out.with_suffix(".md")
    files_dir = out.with_name(out.stem + "_files")
    text_md = render_markdown(title, meta, sections, files_dir, md_path) if markdown else None
    tmp_html = out.with_name(f".{out.name}.tmp")
    tmp_html.write_text(render_html(title, meta, sections), encoding="utf-8")
    tmp_html.replace(out)
    written = [out]
    if text_md is not None:
        md_path.write_text(text_md, encoding="utf-8")
        written.append(md_path)
    return written


def _timing_section(doc: _Document, timing: dict[Path, tuple[Any, str]], labels: dict[Path, str]) -> None:
    for f, (df, problem) in timing.items():
        if problem:
            doc.warnings.append(problem)
        if df is not None:
            sec = doc.section("timing", "Timing")
            sec.table(_timing_columns(df), caption=f"{labels.get(f, f.name)}: encode/decode time (median, IQR)",
                      ident=f"timing-{len(sec.blocks)}")


def _failures_section(doc: _Document, result_folders: list[Path], labels: dict[Path, str]) -> None:
    from gcbench.results.views import failures

    for f in result_folders:
        fail = failures(f)
        if not fail.empty:
            doc.section("failures", "Failures").table(fail, caption=f"{labels[f]}: {len(fail)} failure(s)")
            doc.warnings.append(f"{labels[f]}: {len(fail)} failed image(s), task(s) or metric(s); see Failures")


def _provenance_section(doc: _Document, result_folders: list[Path], labels: dict[Path, str],
                        config: ReportConfig) -> None:
    import pandas as pd

    from gcbench import __version__

    prov = doc.section("provenance", "Provenance")
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    prov.p(f"Report written {now} by gcbench {__version__}" +
           (f" with: {shlex.join(config.argv)}" if config.argv else " (called from Python)") + ".")
    runs = [r for r in (runs_table(f, labels[f]) for f in result_folders) if not r.empty]
    if runs:
        prov.table(pd.concat(runs, ignore_index=True), caption="Runs: exact command, versions, hardware", ident="runs")
    if config.references:
        prov.table(pd.DataFrame([{"curve": r.name, "source": r.source, "dataset": r.dataset, "file": r.file,
                                  "sha256": r.file_sha256} for r in config.references]),
                   caption="Published reference curves")


def _results_sections(doc: _Document, results: Results, tmp: Path, config: ReportConfig) -> None:
    """Plots, BD values, crops, equal-bitrate and summary tables of the results folders."""
    from gcbench.analysis.bjontegaard import curve_columns

    cols = curve_columns(results.curves) if not results.curves.empty else []
    _flag_warnings(doc, results.curves, cols)
    _summary_section(doc, results, config)
    ci = _ci_section(doc, results, config)
    if cols:
        _bd_section(doc, results, config)
        _plots_section(doc, results, tmp, config, ci)
    _equal_bitrate_section(doc, results)
    if config.crops:
        _crops_section(doc, results, cols, config)


def _flag_warnings(doc: _Document, curves: pd.DataFrame, cols: list[str]) -> None:
    """Set-metric flags and infinite means (lossless images) of the curves, among the warnings."""
    from gcbench.results.curves import flags_column

    for col in cols:
        fc = flags_column(col)
        if fc and fc in curves.columns:
            for r in curves[curves[fc].fillna("").astype(str) != ""].itertuples(index=False):
                doc.warnings.append(f"{r.series} @ {r.setting} ({r.dataset}): {col} flagged: {getattr(r, fc)}")
    if "flags" in curves.columns:
        for r in curves[curves["flags"].fillna("").astype(str) != ""].itertuples(index=False):
            doc.warnings.append(f"{r.series} @ {r.setting} ({r.dataset}): {r.flags}; such a point is left out of "
                                "BD values (report with --psnr-cap to keep it, capped)")


def _summary_section(doc: _Document, results: Results, config: ReportConfig) -> None:
    from gcbench.results.views import summary_table

    summ = doc.section("summary", "Summary")
    cap = f" --psnr-cap {config.psnr_cap:g}" if config.psnr_cap is not None else ""
    summ.p("Means over the images that succeeded, per (dataset, codec, setting); MS-SSIM and SSIM in dB are "
           "−10·log10(1 − mean), CompressAI's convention; set metrics (FID, KID, …) as computed over the whole "
           "set, with the number of items and any warning flags. Each table is the one `gcbench table DIR` prints.")
    for i, f in enumerate(results.folders):
        summ.table(summary_table(f, psnr_cap=config.psnr_cap), caption=f"{results.labels[f]} (gcbench table {f}{cap})",
                   ident=f"summary-{i}")


def _ci_section(doc: _Document, results: Results, config: ReportConfig) -> pd.DataFrame | None:
    from gcbench.analysis.bjontegaard import summary_ci

    if not config.bootstrap or results.per_image.empty:
        return None
    ci = summary_ci(results.per_image, bootstrap=config.bootstrap, seed=config.seed, confidence=config.confidence)
    sec = doc.section("ci", f"Means with {config.confidence:.0%} bootstrap intervals")
    sec.p(f"Mean [lower, upper] over images, {config.bootstrap} bootstrap replicates (images drawn with replacement, "
          f"seed {config.seed}, percentile interval). Sweep settings only.")
    sec.table(_ci_wide(ci, config.confidence), caption="means with intervals", ident="ci-table")
    return ci


def _bd_section(doc: _Document, results: Results, config: ReportConfig) -> None:
    from gcbench.analysis.bjontegaard import bd_results_table

    bd, chosen = bd_results_table(results, config.anchor, references=config.references, methods=config.methods,
                                  bootstrap=config.bootstrap, seed=config.seed, confidence=config.confidence,
                                  rate=config.rate)
    sec = doc.section("bd", "Bjøntegaard deltas")
    sec.p(f"Anchor: {chosen}; rate: {config.rate}. BD-rate: mean difference of log-rate at equal quality over the "
          "metric range both curves cover, in percent (negative: fewer bits than the anchor). BD-metric: mean "
          "difference of the metric at equal rate over the common log-rate range, test − anchor in the metric's "
          "units (for a lower-is-better metric a negative value is a gain). PCHIP is the JCT-VC/JVET "
          "common-test-condition interpolation, Akima the alternative of Herglotz et al. 2022; both computed by "
          "gcbench and equal to the bjontegaard package. Intervals: the same bootstrap over images, paired across "
          "codecs; published curves and set metrics have none. Only quality axes are compared (not KID's spread "
          "or the original's NIQE); a point with an infinite value is left out and named in the warnings.")
    if bd.empty:
        sec.p("No curve shares a metric with the anchor.")
    else:
        sec.table(_bd_display(bd, config.confidence, config.rate), caption=f"BD against {chosen}", ident="bd-table",
                  floatfmt=".3f")


def _plots_section(doc: _Document, results: Results, tmp: Path, config: ReportConfig,
                   ci: pd.DataFrame | None) -> None:
    from gcbench.analysis.plots import plot_columns, plot_distortion_perception, plot_per_image, plot_rd

    curves = results.curves
    plots = doc.section("plots", "Plots")
    png = _png(tmp / "rd", lambda stem: plot_rd(curves, stem, formats=("png",), references=config.references,
                                                ci=ci, rate=config.rate))
    if png:
        plots.blocks.append(Block("image", text=f"Rate–distortion–perception: {config.rate} against every metric "
                                  "(error bars: bootstrap intervals; hollow markers: flagged set-metric values; "
                                  "dotted: published curves)", data=png, name="rd.png"))
    png = _png(tmp / "per_image", lambda stem: plot_per_image(results.per_image, stem, formats=("png",),
                                                              curves=curves, rate=config.rate))
    if png:
        plots.blocks.append(Block("image", text="Per image: every image's point, the mean curve on top",
                                  data=png, name="per_image.png"))
    for i, (x, y) in enumerate(_dp_pairs(curves, plot_columns(curves))):
        png = _png(tmp / f"dp{i}", lambda stem, x=x, y=y: plot_distortion_perception(curves, stem, x, y,
                                                                                     formats=("png",)))
        if png:
            plots.blocks.append(Block("image", text=f"Distortion–perception plane: {x} against {y} at equal rate",
                                      data=png, name=f"dp{i}.png"))


def _equal_bitrate_section(doc: _Document, results: Results) -> None:
    from gcbench.execution.equal_bitrate import equal_bitrate_summary, equal_bitrate_table
    from gcbench.results.views import to_markdown

    for f in results.folders:
        table = equal_bitrate_table(f)
        if table.empty:
            continue
        eq = doc.section("equal-bitrate", "Equal bitrate")
        eq.p(f"{results.labels[f]}: per image, each codec's setting with bpp nearest the target "
             f"(mode '{table['mode'].iloc[0]}'); means over images. n_off_target counts images where the codec "
             "could not get near the target (outside its settings).")
        eq.table(equal_bitrate_summary(table), caption=f"{results.labels[f]}: means at equal bitrate",
                 ident=f"equal-bitrate-{len(eq.blocks)}")
        detail = Block("details", text=f"{results.labels[f]}: the setting chosen for every image")
        detail.table = to_markdown(table[[c for c in table.columns if c not in ("bpp_kind", "encode_s", "decode_s",
                                                                                 "task_status")]])
        eq.blocks.append(detail)
        off = int((table["status"] != "ok").sum())
        if off:
            doc.warnings.append(f"{results.labels[f]}: {off} equal-bitrate selection(s) could not reach the target")


def _crops_section(doc: _Document, results: Results, cols: list[str], config: ReportConfig) -> None:
    from gcbench.report.crops import example_crops
    from gcbench.results.views import per_image

    many = len(results.folders) > 1
    for f in results.folders:
        rows = per_image(f)
        rows = rows.assign(series=[f"{c} ({results.labels[f]})" if many else str(c) for c in rows["codec"]])
        for cs in example_crops(f, rows, cols, size=config.crop_size):
            cs.folder = results.labels[f]
            doc.section("crops", "Example crops at equal bpp").blocks.append(Block("crops", crops=cs))
            for panel in cs.panels:
                if panel.png is None:
                    doc.warnings.append(f"crop of {panel.series}: {panel.note}")
