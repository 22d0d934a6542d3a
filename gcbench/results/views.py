"""pandas views of a results store: the tidy per-image table and the per-(codec, setting) summary.

The per-image table has one row per (dataset, codec, setting, image) with the setting value
itself and one column per metric column; summaries are means of per-image values, computed
here and never stored, except columns declared as a transform of another column's mean
(``ms_ssim_db`` = −10·log10(1 − mean ms_ssim), see :mod:`gcbench.results.columns`).
``bpp_payload`` counts the entropy-coded strings only (equal to ``bpp`` when the codec's file
is all payload). A summary's ``flags`` column names values made infinite by lossless images;
a set metric's ``<metric>_flags`` says when it combined fewer images than the setting has.
Exports: CSV, Parquet, Markdown, LaTeX.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.core.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from gcbench.results.records import ImageRecord, StoredTask
    from gcbench.results.store import ResultStore

TASK_COLUMNS = [
    "dataset", "image", "codec", "setting", "setting_value", "rate_param", "status", "error_stage", "error",
    "height", "width", "n_bytes", "payload_bytes", "bpp", "bpp_payload", "bpp_kind", "encode_s", "decode_s",
    "timing_kind",
]
KEY_COLUMNS = ["dataset", "codec", "setting"]
# Compression ratios, which several papers report instead of bpp: ``cr`` = 24 / bpp (8-bit RGB)
# and ``cr_file`` = original file bytes / bitstream bytes. Summaries derive them from the
# aggregates (24 / mean bpp; total file bytes / total bitstream bytes), never average them.
RATIO_COLUMNS = ["file_bytes", "cr", "cr_file"]


def with_compression_ratios(df: pd.DataFrame, images: list[ImageRecord]) -> pd.DataFrame:
    """Add ``file_bytes`` (size of the original file, where it is still readable), ``cr``, ``cr_file``."""
    import os

    import pandas as pd

    sizes: dict[tuple[str, str], float] = {}
    for r in images:
        try:
            sizes[(r.dataset, r.name)] = float(os.path.getsize(r.path))
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


def _task_row(t: StoredTask) -> dict[str, Any]:
    row = {c: getattr(t, c) for c in TASK_COLUMNS}
    row["codec_versions"] = json.dumps(t.codec_versions, sort_keys=True, default=str)
    row["key"] = t.key
    return row


def per_image(source: str | Path | ResultStore, *, psnr_cap: float | None = None) -> pd.DataFrame:
    """One row per (dataset, codec, setting, image): bytes, bpp, times, status, metric values.

    With ``psnr_cap`` (dB), a ``psnr_capped`` column holds each image's PSNR capped there.
    """
    import pandas as pd

    from gcbench.results.columns import with_capped_psnr

    store, owned = _open(source)
    try:
        tasks = store.tasks()  # the latest row of each (dataset, codec, setting, image)
        metrics = store.metric_values()
        images = store.images()
    finally:
        if owned:
            store.close()
    if not tasks:
        return pd.DataFrame(columns=TASK_COLUMNS + ["codec_versions", "key"])
    rows = {t.key: _task_row(t) for t in tasks}
    metric_cols: list[str] = []
    for m in metrics:
        row = rows.get(m.task_key)
        if row is None:
            continue
        if m.status == "ok":
            for col, value in m.values.items():
                row[col] = value
                if col not in metric_cols:
                    metric_cols.append(col)
        else:
            errs = row.setdefault("metric_errors", {})
            errs[m.metric] = m.error
    records = []
    for row in rows.values():
        errs = row.pop("metric_errors", None)
        row["metric_errors"] = json.dumps(errs, sort_keys=True) if errs else ""
        records.append(row)
    df = pd.DataFrame.from_records(records)
    ordered = TASK_COLUMNS + metric_cols + ["metric_errors", "codec_versions", "key"]
    df = with_compression_ratios(df.reindex(columns=ordered), images)
    df = df.reindex(columns=TASK_COLUMNS + RATIO_COLUMNS + ordered[len(TASK_COLUMNS):])
    df = with_capped_psnr(df, psnr_cap)
    return sort_rows(df, ["dataset", "codec", "setting_value", "setting", "image"]).reset_index(drop=True)


def sort_rows(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Numeric settings sort numerically, named ones after them by text."""
    by = [c for c in by if c in df.columns]
    return df.sort_values(by, kind="stable", na_position="last")


def metric_columns(df: pd.DataFrame) -> list[str]:
    """The numeric metric columns of a per-image or summary table (not keys, rates, counts or times)."""
    skip = set(TASK_COLUMNS) | set(RATIO_COLUMNS) | {"metric_errors", "codec_versions", "key", "n_images", "n_failed",
                                                     "flags"}
    return [c for c in df.columns if c not in skip and not c.endswith("_n") and df[c].dtype.kind in "fiu"]


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, codec, setting), over the images that succeeded: means of per-image values, or
    the declared transform of a source column's mean (``ms_ssim_db``); ``flags`` names values made
    infinite by lossless images."""
    import pandas as pd

    from gcbench.results.columns import summary_sources

    cols = metric_columns(df)
    base = ["dataset", "codec", "setting", "setting_value", "rate_param", "n_images", "n_failed", "bpp_kind", "bpp",
            "bpp_payload"]
    if df.empty:
        return pd.DataFrame(columns=base + cols + ["encode_s", "decode_s", "flags"])
    sources = summary_sources(cols)
    out = [_summary_row(key, g, cols, sources) for key, g in df.groupby(KEY_COLUMNS, sort=False, dropna=False)]
    result = pd.DataFrame(out)
    return sort_rows(result, ["dataset", "codec", "setting_value", "setting"]).reset_index(drop=True)


def _summary_row(key: tuple[Any, ...], g: pd.DataFrame, cols: list[str], sources: dict[str, Any]) -> dict[str, Any]:
    from gcbench.results.columns import infinite_flags, summarise_column

    dataset, codec, setting = key
    ok = g[g["status"] == "ok"]
    nan = float("nan")
    row: dict[str, Any] = {
        "dataset": dataset, "codec": codec, "setting": setting,
        "setting_value": g["setting_value"].iloc[0], "rate_param": g["rate_param"].iloc[0],
        "n_images": len(ok), "n_failed": int((g["status"] != "ok").sum()),
        "bpp_kind": "estimated" if (ok["bpp_kind"] == "estimated").any() else "exact",
        "bpp": ok["bpp"].mean() if len(ok) else nan,
    }
    if "bpp_payload" in ok.columns:
        row["bpp_payload"] = ok["bpp_payload"].mean() if len(ok) else nan
    if "file_bytes" in ok.columns:  # compression ratios from the aggregates (RATIO_COLUMNS)
        whole = len(ok) > 0 and ok["file_bytes"].notna().all() and ok["n_bytes"].notna().all()
        row["cr"] = 24.0 / row["bpp"] if len(ok) else nan
        row["cr_file"] = ok["file_bytes"].sum() / ok["n_bytes"].sum() if whole else nan
    for c in cols:
        row[c] = summarise_column(ok, c, sources)
    row["encode_s"] = ok["encode_s"].mean() if len(ok) else nan
    row["decode_s"] = ok["decode_s"].mean() if len(ok) else nan
    row["flags"] = "; ".join(infinite_flags(ok, row, cols))
    return row


FORMATS = ("csv", "md", "parquet", "tex")


def write_table(df: pd.DataFrame, path: str | Path, fmt: str | None = None) -> Path:
    """Export ``df`` atomically as CSV, Parquet, Markdown or LaTeX (``fmt``, or the suffix of ``path``)."""
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
        images = store.images()
        tasks = store.tasks(latest_only=False)
        metrics = store.metric_values()
        runs = store.runs()
    finally:
        if owned:
            store.close()
    rows = [{"kind": "image", "dataset": r.dataset, "image": r.name, "codec": "", "setting": "", "stage": "load",
             "error": r.error} for r in images if r.status == "error"]
    rows += [{"kind": "task", "dataset": t.dataset, "image": t.image, "codec": t.codec, "setting": t.setting,
              "stage": t.error_stage, "error": t.error} for t in tasks if t.status == "error"]
    by_key = {t.key: t for t in tasks}
    rows += [{"kind": "metric", "dataset": t.dataset, "image": t.image, "codec": t.codec, "setting": t.setting,
              "stage": m.metric, "error": m.error}
             for m in metrics if m.status == "error" and (t := by_key.get(m.task_key)) is not None]
    # metrics a run left out before any work (a missing weight file), from the latest run
    left_out = runs[-1].config.metrics_left_out if runs else {}
    rows += [{"kind": "metric", "dataset": "", "image": "", "codec": "", "setting": "", "stage": name,
              "error": message} for name, message in sorted(left_out.items())]
    return pd.DataFrame(rows, columns=["kind", "dataset", "image", "codec", "setting", "stage", "error"])


SET_COLUMNS = ["dataset", "codec", "setting", "setting_value", "metric", "status", "n_items", "n_images", "flags",
               "error"]


def set_table(source: str | Path | ResultStore) -> pd.DataFrame:
    """Set and task metrics (FID, KID, mIoU): one row per (dataset, codec, setting, metric).

    ``n_items`` is what the value was computed from (patches, pixels …), ``n_images`` the images
    whose features it combined (empty for values stored by gcbench 0.1).
    """
    import pandas as pd

    store, owned = _open(source)
    try:
        rows = store.set_metrics()  # the latest value of each (dataset, codec, setting, metric)
    finally:
        if owned:
            store.close()
    records = []
    for r in rows:
        rec: dict[str, Any] = {k: getattr(r, k) for k in SET_COLUMNS if k != "flags"}
        rec["flags"] = "; ".join(r.flags)
        rec.update(r.values)
        records.append(rec)
    df = pd.DataFrame.from_records(records)
    if df.empty:
        return pd.DataFrame(columns=SET_COLUMNS)
    return sort_rows(df, ["dataset", "codec", "setting_value", "setting", "metric"]).reset_index(drop=True)


def summary_table(source: str | Path | ResultStore, *, psnr_cap: float | None = None) -> pd.DataFrame:
    """The summary of a results folder: per-image means plus set-metric values as columns.

    Each set metric adds its value columns, ``<metric>_n`` (items it was computed from) and
    ``<metric>_flags`` (warnings such as too few patches for a comparable FID, or fewer images
    than the setting has when some of its tasks failed).
    """
    store, owned = _open(source)
    try:
        table = summary(per_image(store, psnr_cap=psnr_cap))
        sets = set_table(store)
    finally:
        if owned:
            store.close()
    if sets.empty:
        return table
    for metric, g in sets.groupby("metric", sort=True):
        value_cols = [c for c in g.columns if c not in SET_COLUMNS and g[c].notna().any()]
        name = str(metric).replace("-", "_")
        part = g[KEY_COLUMNS + value_cols + ["n_items", "flags", "n_images"]].rename(
            columns={"n_items": f"{name}_n", "flags": f"{name}_flags", "n_images": "set_n_images"})
        table = table.merge(part, on=KEY_COLUMNS, how="left")
        table[f"{name}_flags"] = _partial_flags(table, f"{name}_flags")
        table = table.drop(columns="set_n_images")
    return table


def _partial_flags(table: pd.DataFrame, flags_col: str) -> list[Any]:
    """A set metric's flags, plus a note when it combined fewer images than its setting has
    (some tasks failed): its value then describes another set than its neighbours'."""
    out = []
    for flags, n_set, n_ok, n_failed in zip(table[flags_col], table["set_n_images"], table["n_images"],
                                            table["n_failed"], strict=True):
        if not isinstance(flags, str):  # no value for this setting
            out.append(flags)
            continue
        used = n_set if n_set == n_set and n_set is not None else n_ok
        total = n_ok + n_failed
        note = f"computed over {int(used)} of {int(total)} images" if used < total else ""
        out.append("; ".join(part for part in (flags, note) if part))
    return out
