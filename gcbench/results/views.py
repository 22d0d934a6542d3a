"""pandas views of a results store: the tidy per-image table and the per-(codec, setting) summary.

The per-image table has one row per (dataset, codec, setting, image) with the setting value
itself and one column per metric column; summaries are means of per-image values, computed
here and never stored. Exports: CSV, Parquet, Markdown, LaTeX.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.core.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from gcbench.results.store import ResultStore

TASK_COLUMNS = [
    "dataset", "image", "codec", "setting", "setting_value", "rate_param", "status", "error_stage", "error",
    "height", "width", "n_bytes", "bpp", "bpp_kind", "encode_s", "decode_s", "timing_kind",
]
KEY_COLUMNS = ["dataset", "codec", "setting"]
# Compression ratios, which several papers report instead of bpp: ``cr`` = 24 / bpp (8-bit RGB)
# and ``cr_file`` = original file bytes / bitstream bytes. Summaries derive them from the
# aggregates (24 / mean bpp; total file bytes / total bitstream bytes), never average them.
RATIO_COLUMNS = ["file_bytes", "cr", "cr_file"]


def with_compression_ratios(df: pd.DataFrame, images: list[dict[str, Any]]) -> pd.DataFrame:
    """Add ``file_bytes`` (size of the original file, where it is still readable), ``cr``, ``cr_file``."""
    import os

    import pandas as pd

    sizes: dict[tuple[str, str], float] = {}
    for r in images:
        try:
            sizes[(r["dataset"], r["name"])] = float(os.path.getsize(r["path"]))
        except (OSError, TypeError):
            pass
    df["file_bytes"] = [sizes.get((d, i), float("nan")) for d, i in zip(df["dataset"], df["image"], strict=True)]
    df["cr"] = 24.0 / pd.to_numeric(df["bpp"], errors="coerce")
    df["cr_file"] = df["file_bytes"] / pd.to_numeric(df["n_bytes"], errors="coerce")
    return df


def _open(source: str | Path | ResultStore) -> tuple[ResultStore, bool]:
    from gcbench.results.store import ResultStore

    if isinstance(source, ResultStore):
        return source, False
    return ResultStore(source, create=False), True


def per_image(source: str | Path | ResultStore) -> pd.DataFrame:
    """One row per (dataset, codec, setting, image): bytes, bpp, times, status, metric values."""
    import pandas as pd

    from gcbench.results.store import decode_values

    store, owned = _open(source)
    try:
        tasks = store.query("SELECT * FROM tasks ORDER BY created")
        metrics = store.query("SELECT task_key, metric, status, \"values\", error, created FROM metric_results ORDER BY created")
        images = store.query("SELECT dataset, name, path FROM images")
    finally:
        if owned:
            store.close()
    if not tasks:
        return pd.DataFrame(columns=TASK_COLUMNS + ["codec_versions", "key"])
    # Latest row wins when an image was re-run under another key (say, a new library version).
    latest: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for t in tasks:
        latest[(t["dataset"], t["codec"], t["setting"], t["image"])] = t
    rows = {t["key"]: {c: t[c] for c in TASK_COLUMNS} | {"codec_versions": t["codec_versions"], "key": t["key"]}
            for t in latest.values()}
    metric_cols: list[str] = []
    for m in metrics:
        row = rows.get(m["task_key"])
        if row is None:
            continue
        if m["status"] == "ok":
            for col, value in decode_values(m["values"]).items():
                row[col] = value
                if col not in metric_cols:
                    metric_cols.append(col)
        else:
            errs = row.setdefault("metric_errors", {})
            errs[m["metric"]] = m["error"]
    records = []
    for row in rows.values():
        errs = row.pop("metric_errors", None)
        row["metric_errors"] = json.dumps(errs, sort_keys=True) if errs else ""
        records.append(row)
    df = pd.DataFrame.from_records(records)
    ordered = TASK_COLUMNS + metric_cols + ["metric_errors", "codec_versions", "key"]
    df = with_compression_ratios(df.reindex(columns=ordered), images)
    df = df.reindex(columns=TASK_COLUMNS + RATIO_COLUMNS + ordered[len(TASK_COLUMNS):])
    return sort_rows(df, ["dataset", "codec", "setting_value", "setting", "image"]).reset_index(drop=True)


def sort_rows(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Numeric settings sort numerically, named ones after them by text."""
    by = [c for c in by if c in df.columns]
    return df.sort_values(by, kind="stable", na_position="last")


def metric_columns(df: pd.DataFrame) -> list[str]:
    skip = set(TASK_COLUMNS) | set(RATIO_COLUMNS) | {"metric_errors", "codec_versions", "key", "n_images", "n_failed"}
    return [c for c in df.columns if c not in skip and not c.endswith("_n") and df[c].dtype.kind in "fiu"]


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Means of per-image values per (dataset, codec, setting), over the images that succeeded."""
    import pandas as pd

    cols = metric_columns(df)
    base = ["dataset", "codec", "setting", "setting_value", "rate_param", "n_images", "n_failed", "bpp_kind", "bpp"]
    if df.empty:
        return pd.DataFrame(columns=base + cols + ["encode_s", "decode_s"])
    out = []
    for (dataset, codec, setting), g in df.groupby(KEY_COLUMNS, sort=False, dropna=False):
        ok = g[g["status"] == "ok"]
        row: dict[str, Any] = {
            "dataset": dataset, "codec": codec, "setting": setting,
            "setting_value": g["setting_value"].iloc[0], "rate_param": g["rate_param"].iloc[0],
            "n_images": len(ok), "n_failed": int((g["status"] != "ok").sum()),
            "bpp_kind": "estimated" if (ok["bpp_kind"] == "estimated").any() else "exact",
            "bpp": ok["bpp"].mean() if len(ok) else float("nan"),
        }
        if "file_bytes" in ok.columns:  # compression ratios from the aggregates (RATIO_COLUMNS)
            whole = len(ok) > 0 and ok["file_bytes"].notna().all() and ok["n_bytes"].notna().all()
            row["cr"] = 24.0 / row["bpp"] if len(ok) else float("nan")
            row["cr_file"] = ok["file_bytes"].sum() / ok["n_bytes"].sum() if whole else float("nan")
        for c in cols:
            row[c] = ok[c].mean() if len(ok) else float("nan")
        row["encode_s"] = ok["encode_s"].mean() if len(ok) else float("nan")
        row["decode_s"] = ok["decode_s"].mean() if len(ok) else float("nan")
        out.append(row)
    result = pd.DataFrame(out)
    return sort_rows(result, ["dataset", "codec", "setting_value", "setting"]).reset_index(drop=True)


FORMATS = ("csv", "md", "parquet", "tex")


def write_table(df: pd.DataFrame, path: str | Path, fmt: str | None = None) -> Path:
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".") or "csv").lower()
    if fmt == "markdown":
        fmt = "md"
    if fmt not in FORMATS:
        raise ConfigError(f"unknown table format {fmt!r}; choose one of {', '.join(FORMATS)}")
    from gcbench.core.atomic import atomic_path

    with atomic_path(path, suffix=f".{fmt}") as tmp:
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        elif fmt == "parquet":
            try:
                df.to_parquet(tmp, index=False)
            except ImportError as exc:
                raise ConfigError("Parquet export needs pyarrow: pip install 'gcbench[parquet]'") from exc
        elif fmt == "md":
            tmp.write_text(to_markdown(df) + "\n", encoding="utf-8")
        else:
            tmp.write_text(df.to_latex(index=False, float_format="%.4f", na_rep="--"), encoding="utf-8")
    return path


def to_markdown(df: pd.DataFrame, floatfmt: str = ".4f") -> str:
    """A GitHub-style Markdown table (no tabulate dependency)."""
    import math

    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, float):
            return format(v, floatfmt)
        return str(v).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "| " + " | ".join("---:" if df[c].dtype.kind in "fiu" else "---" for c in df.columns) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, sep, *body])


def failures(source: str | Path | ResultStore) -> pd.DataFrame:
    """Every failure: unreadable images, failed tasks, failed metrics."""
    import pandas as pd

    store, owned = _open(source)
    try:
        rows = [
            {"kind": "image", "dataset": r["dataset"], "image": r["name"], "codec": "", "setting": "",
             "stage": "load", "error": r["error"]}
            for r in store.query("SELECT * FROM images WHERE status='error'")
        ]
        rows += [
            {"kind": "task", "dataset": r["dataset"], "image": r["image"], "codec": r["codec"],
             "setting": r["setting"], "stage": r["error_stage"], "error": r["error"]}
            for r in store.query("SELECT * FROM tasks WHERE status='error'")
        ]
        rows += [
            {"kind": "metric", "dataset": r["dataset"], "image": r["image"], "codec": r["codec"],
             "setting": r["setting"], "stage": r["metric"], "error": r["error"]}
            for r in store.query(
                "SELECT t.dataset, t.image, t.codec, t.setting, m.metric, m.error FROM metric_results m "
                "JOIN tasks t ON t.key = m.task_key WHERE m.status='error'")
        ]
        # metrics a run left out before any work (a missing weight file), from the latest run
        latest = store.query("SELECT config FROM runs ORDER BY run_id DESC LIMIT 1")
        left_out = json.loads(latest[0]["config"] or "{}").get("metrics_left_out", {}) if latest else {}
        rows += [{"kind": "metric", "dataset": "", "image": "", "codec": "", "setting": "", "stage": name,
                  "error": message} for name, message in sorted(left_out.items())]
    finally:
        if owned:
            store.close()
    return pd.DataFrame(rows, columns=["kind", "dataset", "image", "codec", "setting", "stage", "error"])


def set_table(source: str | Path | ResultStore) -> pd.DataFrame:
    """Set and task metrics (FID, KID, mIoU): one row per (dataset, codec, setting, metric)."""
    import pandas as pd

    from gcbench.results.store import decode_values

    store, owned = _open(source)
    try:
        rows = store.query("SELECT * FROM set_metrics ORDER BY created")
    finally:
        if owned:
            store.close()
    latest: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for r in rows:
        latest[(r["dataset"], r["codec"], r["setting"], r["metric"])] = r
    records = []
    for r in latest.values():
        rec = {k: r[k] for k in ("dataset", "codec", "setting", "setting_value", "metric", "status", "n_items", "error")}
        rec["flags"] = "; ".join(json.loads(r["flags"] or "[]"))
        rec.update(decode_values(r["values"]))
        records.append(rec)
    cols = ["dataset", "codec", "setting", "setting_value", "metric", "status", "n_items", "flags", "error"]
    df = pd.DataFrame.from_records(records)
    if df.empty:
        return pd.DataFrame(columns=cols)
    return sort_rows(df, ["dataset", "codec", "setting_value", "setting", "metric"]).reset_index(drop=True)


def summary_table(source: str | Path | ResultStore) -> pd.DataFrame:
    """The summary of a results folder: per-image means plus set-metric values as columns.

    Each set metric adds its value columns, ``<metric>_n`` (items it was computed from) and
    ``<metric>_flags`` (warnings such as too few patches for a comparable FID).
    """
    store, owned = _open(source)
    try:
        table = summary(per_image(store))
        sets = set_table(store)
    finally:
        if owned:
            store.close()
    if sets.empty:
        return table
    for metric, g in sets.groupby("metric", sort=True):
        value_cols = [c for c in g.columns if c not in ("dataset", "codec", "setting", "setting_value", "metric",
                                                        "status", "n_items", "flags", "error") and g[c].notna().any()]
        name = str(metric).replace("-", "_")
        part = g[KEY_COLUMNS + value_cols + ["n_items", "flags"]].rename(
            columns={"n_items": f"{name}_n", "flags": f"{name}_flags"})
        table = table.merge(part, on=KEY_COLUMNS, how="left")
    return table
