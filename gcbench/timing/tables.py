"""Summaries (median, IQR per image and per megapixel), the paper-shaped table (Markdown, LaTeX, CSV) and merging machines."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.core.errors import ConfigError, GcbenchError

if TYPE_CHECKING:
    import pandas as pd

from gcbench.timing.common import DIRECTIONS
from gcbench.timing.storage import load_timing

# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------

GROUP = ["hw_name", "dataset", "codec", "setting"]
_CARRY = ["setting_value", "rate_param", "bpp_kind", "timing_kind", "timer", "device", "codec_device", "warmup",
          "repeats", "threads", "torch_intra_op", "torch_inter_op", "omp_num_threads", "codec_threads",
          "codec_threads_via", "startup_via", "startup_programs", "includes_startup", "random_weights",
          "codec_versions"]


def _stats(values: Any, prefix: str, scale: float = 1e3) -> dict[str, float]:
    import numpy as np

    v = np.asarray(values, dtype=float) * scale
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {}
    q1, med, q3 = (float(x) for x in np.quantile(v, [0.25, 0.5, 0.75]))
    return {f"{prefix}_median": med, f"{prefix}_q25": q1, f"{prefix}_q75": q3, f"{prefix}_iqr": q3 - q1}


def stage_names(df: pd.DataFrame, direction: str) -> list[str]:
    """Stage keys recorded for ``direction``, in the order their columns appear."""
    pat = re.compile(rf"^{direction}_stage_(.+)_s$")
    return [m.group(1) for c in df.columns if (m := pat.match(c))]


def summarise(samples: pd.DataFrame) -> pd.DataFrame:
    """Median and IQR per (machine, dataset, codec, setting) over all images × repeats.

    Times in milliseconds, per image and per megapixel; ``*_repeat_spread`` is the median over
    images of (IQR / median) across one image's repeats: how much the clock itself wobbles.
    """
    import numpy as np
    import pandas as pd

    from gcbench.results.views import sort_rows

    hw_cols = [c for c in samples.columns if c.startswith("hw_")]
    out = []
    for key, g in samples.groupby(GROUP, sort=False, dropna=False):
        row: dict[str, Any] = dict(zip(GROUP, key, strict=True))
        first = g.iloc[0]
        for c in hw_cols:
            row[c] = first[c]
        for c in _CARRY:
            if c in g.columns:
                row[c] = first[c]
        per_image = g.drop_duplicates("image")
        row["n_images"] = int(per_image.shape[0])
        row["n_samples"] = int(g.shape[0])
        row["bpp"] = float(per_image["bpp"].mean())
        row["megapixels"] = float(per_image["megapixels"].mean())
        for d in DIRECTIONS:
            row.update(_stats(g[f"{d}_s"], f"{d}_ms"))
            row.update(_stats(g[f"{d}_s"] / g["megapixels"], f"{d}_ms_per_mp"))
            spreads = []
            for _, gi in g.groupby("image", sort=False):
                q1, med, q3 = np.quantile(gi[f"{d}_s"].to_numpy(dtype=float), [0.25, 0.5, 0.75])
                if med > 0:
                    spreads.append((q3 - q1) / med)
            row[f"{d}_repeat_spread"] = float(np.median(spreads)) if spreads else float("nan")
            gpu = f"{d}_gpu_s"
            if gpu in g.columns and g[gpu].notna().any():
                row.update(_stats(g[gpu], f"{d}_gpu_ms"))
            for name in stage_names(g, d):
                col = f"{d}_stage_{name}_s"
                if g[col].notna().any():
                    row.update(_stats(g[col], f"{d}_stage_{name}_ms"))
        if "startup_s" in g.columns and pd.notna(first.get("startup_s")):
            row["startup_ms_median"] = float(first["startup_s"]) * 1e3
            row["startup_ms_iqr"] = float(first["startup_iqr_s"]) * 1e3 if pd.notna(first.get("startup_iqr_s")) else 0.0
        if "prepare_s" in g.columns:
            row["prepare_s"] = float(first["prepare_s"])
        out.append(row)
    df = pd.DataFrame(out)
    if df.empty:
        return df
    return sort_rows(df, ["hw_name", "dataset", "codec", "setting_value", "setting"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# The paper-shaped table
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measure:
    stem: str  # summary column stem: stem_median, stem_iqr
    label: str


@dataclass
class TimingTable:
    """Rows = (dataset, codec, setting); a column group per machine; cells = (median, IQR) in ms."""

    keys: list[dict[str, Any]]
    machines: list[str]
    measures: list[Measure]
    cells: dict[tuple[int, str, str], tuple[float, float]]
    notes: list[str]
    show_dataset: bool = False

    def header(self) -> list[str]:
        return (["Dataset"] if self.show_dataset else []) + ["Codec", "Setting", "bpp"]

    def key_cells(self, i: int) -> list[str]:
        k = self.keys[i]
        bpp = "" if k["bpp"] is None or not math.isfinite(k["bpp"]) else f"{k['bpp']:.3f}"
        codec = k["codec"] + (" (random weights)" if k.get("random_weights") else "")
        return ([k["dataset"]] if self.show_dataset else []) + [codec, k["setting_label"], bpp]

    def cell_text(self, i: int, machine: str, m: Measure) -> str:
        value = self.cells.get((i, machine, m.stem))
        if value is None:
            return "--"
        med, iqr = value
        d = _decimals(med)
        return f"{med:.{d}f} [{iqr:.{d}f}]"


def _truthy(value: Any) -> bool:
    """A flag as written to CSV and read back (True, "True", 1) or missing (NaN, None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return str(value).strip().lower() in ("true", "1", "yes")


def _decimals(x: float) -> int:
    ax = abs(x)
    return 0 if ax >= 100 else 1 if ax >= 10 else 2 if ax >= 1 else 3


def timing_table(summary: pd.DataFrame, *, per: str = "both", stages: bool = True) -> TimingTable:
    """Arrange a (merged) summary like a paper's timing table.

    ``per``: ``"image"`` (ms per image), ``"mp"`` (ms per megapixel) or ``"both"``. Stage
    columns (ms per image) follow when any codec recorded stages; start-up when any codec has it.
    """
    import pandas as pd

    from gcbench.core.hardware import describe
    from gcbench.results.views import sort_rows

    if per not in ("image", "mp", "both"):
        raise ConfigError(f"per must be image, mp or both, got {per!r}")
    if summary is None or summary.empty:
        raise GcbenchError("no timing rows to tabulate")
    machines = list(dict.fromkeys(summary["hw_name"].astype(str)))
    measures: list[Measure] = []
    if per in ("image", "both"):
        measures += [Measure("encode_ms", "Enc. ms/img"), Measure("decode_ms", "Dec. ms/img")]
    if per in ("mp", "both"):
        measures += [Measure("encode_ms_per_mp", "Enc. ms/MP"), Measure("decode_ms_per_mp", "Dec. ms/MP")]
    if "startup_ms_median" in summary.columns and summary["startup_ms_median"].notna().any():
        measures.append(Measure("startup_ms", "Start-up ms"))
    if stages:
        for d, short in (("encode", "Enc."), ("decode", "Dec.")):
            seen = [c[len(d) + 7:-10] for c in summary.columns
                    if c.startswith(f"{d}_stage_") and c.endswith("_ms_median")]
            measures += [Measure(f"{d}_stage_{n}_ms", f"{short} {n.replace('_', ' ')} ms") for n in dict.fromkeys(seen)]
    ordered = sort_rows(summary, ["dataset", "codec", "setting_value", "setting"])
    keys: list[dict[str, Any]] = []
    index: dict[tuple[str, str, str], int] = {}
    for _, r in ordered.iterrows():
        k = (str(r["dataset"]), str(r["codec"]), str(r["setting"]))
        if k not in index:
            index[k] = len(keys)
            keys.append({"dataset": k[0], "codec": k[1], "setting": k[2],
                         "setting_value": r.get("setting_value"), "rate_param": r.get("rate_param"),
                         "setting_label": f"{r.get('rate_param')}={k[2]}" if pd.notna(r.get("rate_param")) else k[2],
                         "bpp": float(r["bpp"]) if pd.notna(r.get("bpp")) else None,
                         "random_weights": _truthy(r.get("random_weights"))})
    cells: dict[tuple[int, str, str], tuple[float, float]] = {}
    for _, r in summary.iterrows():
        i = index[(str(r["dataset"]), str(r["codec"]), str(r["setting"]))]
        for m in measures:
            med = r.get(f"{m.stem}_median")
            if med is not None and pd.notna(med):
                iqr = r.get(f"{m.stem}_iqr")
                cells[(i, str(r["hw_name"]), m.stem)] = (float(med), float(iqr) if pd.notna(iqr) else 0.0)
    notes = ["Times in milliseconds: median [inter-quartile range] over all images × timed repeats, "
             "after warm-up runs that are not counted; I/O excluded."]
    for machine in machines:
        g = summary[summary["hw_name"].astype(str) == machine]
        r = g.iloc[0]
        n_img = int(g["n_images"].max())
        parts = [f"{machine}: {describe(r.to_dict())}",
                 f"device {r.get('device')}, timer {r.get('timer')}",
                 f"{n_img} image{'s' if n_img != 1 else ''} × {int(r.get('repeats'))} repeats after "
                 f"{int(r.get('warmup'))} warm-up",
                 f"threads {int(r.get('threads'))} (torch intra-op {r.get('torch_intra_op')}, "
                 f"inter-op {r.get('torch_inter_op')}, OMP_NUM_THREADS {r.get('omp_num_threads')})"]
        notes.append("; ".join(parts) + ".")
    if any(m.stem == "startup_ms" for m in measures):
        notes.append("Command-line codecs start one process per call: their encode and decode times include it; "
                     "the start-up column is that cost measured apart.")
    if any(k["random_weights"] for k in keys):
        notes.append("Codecs marked (random weights) are untrained architectures, timed for their cost only; "
                     "their bpp means nothing.")
    if summary["bpp_kind"].eq("estimated").any() if "bpp_kind" in summary.columns else False:
        notes.append("Some bpp values are estimated from likelihoods (no entropy coder).")
    show_dataset = ordered["dataset"].nunique() > 1
    return TimingTable(keys, machines, measures, cells, notes, show_dataset)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(table: TimingTable) -> str:
    """The timing table as Markdown, a column group per machine."""
    multi = len(table.machines) > 1
    header = table.header() + [f"{mach}: {m.label}" if multi else m.label
                               for mach in table.machines for m in table.measures]
    n_key = len(table.header())
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
             "| " + " | ".join(["---"] * (n_key - 1) + ["---:"] + ["---:"] * (len(header) - n_key)) + " |"]
    for i in range(len(table.keys)):
        cells = table.key_cells(i) + [table.cell_text(i, mach, m) for mach in table.machines for m in table.measures]
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    lines.append("")
    lines += [f"- {_md_cell(n)}" for n in table.notes]
    return "\n".join(lines)


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "[": "{[}", "]": "{]}",
        "×": r"$\times$"}


def tex_escape(text: str) -> str:
    """Escape LaTeX's special characters in a table cell."""
    return "".join(_TEX.get(ch, ch) for ch in str(text))


def to_latex(table: TimingTable, label: str = "tab:timing") -> str:
    """A booktabs table: a column group per machine, caption naming each machine."""
    n_key, n_m = len(table.header()), len(table.measures)
    spec = "l" * (n_key - 1) + "r" + "".join("r" * n_m for _ in table.machines)
    lines = ["% gcbench timing table; needs \\usepackage{booktabs}", r"\begin{table}[t]", r"\centering", r"\small",
             rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    groups = " & ".join(rf"\multicolumn{{{n_m}}}{{c}}{{{tex_escape(m)}}}" for m in table.machines)
    lines.append(" & " * (n_key - 1) + " & " + groups + r" \\")
    rules = " ".join(rf"\cmidrule(lr){{{n_key + 1 + j * n_m}-{n_key + (j + 1) * n_m}}}"
                     for j in range(len(table.machines)))
    lines.append(rules)
    head = [tex_escape(h) for h in table.header()]
    head += [tex_escape(m.label) for _ in table.machines for m in table.measures]
    lines.append(" & ".join(head) + r" \\")
    lines.append(r"\midrule")
    for i in range(len(table.keys)):
        row = [tex_escape(c) for c in table.key_cells(i)]
        row += [tex_escape(table.cell_text(i, mach, m)) for mach in table.machines for m in table.measures]
        lines.append(" & ".join(row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}",
              rf"\caption{{{tex_escape(' '.join(table.notes))}}}", rf"\label{{{label}}}", r"\end{table}", ""]
    return "\n".join(lines)


def to_frame(table: TimingTable) -> pd.DataFrame:
    """The table as numbers: key columns, then ``<machine>: <stem>_median`` / ``_iqr`` per measure."""
    import pandas as pd

    records = []
    for i, k in enumerate(table.keys):
        rec = {"dataset": k["dataset"], "codec": k["codec"], "setting": k["setting"],
               "setting_value": k["setting_value"], "rate_param": k["rate_param"], "bpp": k["bpp"]}
        for mach in table.machines:
            for m in table.measures:
                value = table.cells.get((i, mach, m.stem))
                rec[f"{mach}: {m.stem}_median"] = value[0] if value else float("nan")
                rec[f"{mach}: {m.stem}_iqr"] = value[1] if value else float("nan")
        records.append(rec)
    return pd.DataFrame.from_records(records)


def render(table: TimingTable, fmt: str) -> str:
    """The timing table in ``fmt``: md, tex or csv."""
    fmt = fmt.lower()
    if fmt in ("md", "markdown"):
        return to_markdown(table) + "\n"
    if fmt in ("tex", "latex"):
        return to_latex(table)
    if fmt == "csv":
        return to_frame(table).to_csv(index=False)
    raise ConfigError(f"unknown table format {fmt!r}; choose md, tex or csv")


# ---------------------------------------------------------------------------------------------
# Several machines
# ---------------------------------------------------------------------------------------------

def merge_timing(sources: Sequence[str | Path | pd.DataFrame]) -> pd.DataFrame:
    """Summaries of several timing folders in one frame; each machine name must be unique."""
    import pandas as pd

    frames, origin = [], {}
    unique: list[Any] = []
    for src in sources:  # the same folder named twice is one folder
        if isinstance(src, pd.DataFrame) or all(
                isinstance(u, pd.DataFrame) or Path(u).resolve() != Path(src).resolve() for u in unique):
            unique.append(src)
    for src in unique:
        df = src if isinstance(src, pd.DataFrame) else load_timing(src)
        where = "a DataFrame" if isinstance(src, pd.DataFrame) else str(src)
        for name in df["hw_name"].astype(str).unique():
            if name in origin:
                raise ConfigError(f"machine name {name!r} appears in both {origin[name]} and {where}; "
                                  "time each machine with its own --hardware-name")
            origin[name] = where
        frames.append(df)
    if not frames:
        raise ConfigError("nothing to merge: give one or more timing folders")
    return pd.concat(frames, ignore_index=True, sort=False)
