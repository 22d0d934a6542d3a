"""The timing output folder: samples, metadata, one machine per folder.

The timed repeats live in the folder's results database (``gcbench.sqlite``, table
``timing_samples``, through :class:`gcbench.results.store.ResultStore`); ``timing_samples.csv``
is written beside it as an export. A folder written by gcbench 0.1 (the CSV file only) is
imported into the database when first read.
"""

from __future__ import annotations

import json
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.core.atomic import write_text
from gcbench.core.errors import ConfigError, GcbenchError
from gcbench.timing.common import META_FILE, SAMPLES_FILE

if TYPE_CHECKING:
    import pandas as pd

    from gcbench.timing.run import TimingConfig


# ---------------------------------------------------------------------------------------------
# The output folder
# ---------------------------------------------------------------------------------------------

def _check_folder(out: Path, hw: dict[str, Any], threads: dict[str, Any], device: str) -> pd.DataFrame | None:
    """Earlier samples in ``out``, refused when they were measured under other conditions.

    One folder holds one machine's timings: new rows replace those of the same (dataset,
    codec, setting) and join the others only if the machine, versions, threads and device match.
    """
    if not has_samples(out):
        return None
    old = load_samples(out)
    if old.empty:
        return None
    first = old.iloc[0]
    checks = {
        "machine name": (str(first["hw_name"]), str(hw["hw_name"])),
        "hardware/versions fingerprint": (str(first["hw_id"]), str(hw["hw_id"])),
        "threads": (str(first["threads"]), str(threads.get("threads"))),
        "device": (str(first["device"]), device),
    }
    differ = [f"{what} {a!r} there, {b!r} now" for what, (a, b) in checks.items() if a != b]
    if differ:
        raise ConfigError(f"{out} already holds timings made under other conditions ({'; '.join(differ)}); "
                          "give another --out (merge the folders afterwards with `gcbench timing merge`)")
    return old


def _combine(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    if old is None or old.empty:
        return new
    if new.empty:
        return old
    keys = ["dataset", "codec", "setting"]
    redone = set(map(tuple, new[keys].astype(str).itertuples(index=False, name=None)))
    keep = ~old[keys].astype(str).apply(tuple, axis=1).isin(redone)
    return pd.concat([old[keep], new], ignore_index=True, sort=False)


def _atomic_write(path: Path, text: str) -> None:
    write_text(path, text)


def _write_samples(out: Path, samples: pd.DataFrame) -> None:
    """Store every sample of the folder (replacing what it held) and export them as CSV."""
    from gcbench.results.store import ResultStore

    with ResultStore(out) as store:
        store.replace_timing_samples(samples.to_dict("records"), everything=True)
    _atomic_write(out / SAMPLES_FILE, samples.to_csv(index=False))


def _write_meta(out: Path, fp: dict[str, Any], config: TimingConfig, threads: dict[str, Any],
                codecs: dict[str, Any], errors: list[dict[str, str]]) -> None:
    path = out / META_FILE
    meta: dict[str, Any] = {"hardware": fp, "runs": []}
    if path.is_file():
        try:
            meta["runs"] = json.loads(path.read_text(encoding="utf-8")).get("runs", [])
        except (OSError, json.JSONDecodeError):
            pass
    # not asdict(): that deep-copies the CUDA backend (locks, streams) and the codec specs
    cfg = {f.name: getattr(config, f.name) for f in fields(config) if f.name not in ("cuda_backend", "codecs")}
    cfg["codecs"] = [c if isinstance(c, str) else getattr(c, "name", str(c)) for c in config.codecs]
    cfg["out"] = str(config.out)
    meta["runs"].append({"finished": time.time(), "argv": config.argv, "config": cfg, "threads": threads,
                         "codecs": codecs, "errors": errors})
    _atomic_write(path, json.dumps(meta, indent=1, sort_keys=True, default=str))


# Columns read as text whatever they hold (a setting "50" stays "50"); missing text is "".
_TEXT_COLUMNS = {"setting", "image", "codec", "dataset", "omp_num_threads", "codec_threads_via", "startup_via",
                 "startup_programs", "hw_name", "hw_id", "hw_cpu_model", "hw_gpu", "hw_gpu_driver", "hw_cuda",
                 "hw_torch", "hw_gcbench", "hw_python", "hw_platform", "hw_hostname", "hw_versions", "hw_libraries"}


def _typed(text: Any) -> pd.DataFrame:
    """Sample rows typed as the CSV export reads back, so folders of every gcbench version agree."""
    import pandas as pd

    df = pd.read_csv(text, dtype={c: str for c in _TEXT_COLUMNS})
    for c in _TEXT_COLUMNS & set(df.columns):
        df[c] = df[c].fillna("")  # CSV cannot tell an empty text from a missing one; empty is what was written
    return df


def has_samples(source: str | Path) -> bool:
    """Whether ``source`` holds timing samples (in its database, or a gcbench 0.1 CSV file)."""
    from gcbench.results.store import DB_NAME, ResultStore

    folder = Path(source)
    if (folder / DB_NAME).is_file():
        with ResultStore(folder, create=False) as store:
            if store.timing_samples(limit=1):
                return True
    return (folder / SAMPLES_FILE).is_file()


def load_samples(source: str | Path) -> pd.DataFrame:
    """Every timed repeat in a timing folder (one row each, hardware fingerprint on every row)."""
    import io

    import pandas as pd

    from gcbench.results.store import DB_NAME, ResultStore

    folder = Path(source)
    rows: list[dict[str, Any]] = []
    if (folder / DB_NAME).is_file():
        with ResultStore(folder, create=False) as store:
            rows = store.timing_samples()
    if rows:
        # through CSV text: the same types and digits as the export read back (0.1 read only that)
        return _typed(io.StringIO(pd.DataFrame.from_records(rows).to_csv(index=False)))
    path = folder / SAMPLES_FILE
    if not path.is_file():
        raise GcbenchError(f"{source}: no timing results here (no samples in its database, no {SAMPLES_FILE}); "
                           f"run `gcbench timing … --out {source}` first")
    samples = _typed(path)  # written by gcbench 0.1: imported into the database, the CSV left as it is
    with ResultStore(folder) as store:
        store.replace_timing_samples(samples.to_dict("records"), everything=True)
    return samples


def load_timing(source: str | Path) -> pd.DataFrame:
    """The summary of a timing folder: one row per (machine, dataset, codec, setting).

    The numbers the table, the chart and the report show: ``encode_ms_median``,
    ``encode_ms_iqr``, ``encode_ms_per_mp_median`` …, stage columns, start-up, threads and
    the ``hw_*`` fingerprint.
    """
    from gcbench.timing.tables import (
        summarise,  # tables merges folders through this function
    )

    return summarise(load_samples(source))
