"""The timing output folder: samples, metadata, one machine per folder, written atomically."""

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
    path = out / SAMPLES_FILE
    if not path.is_file():
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


def load_samples(source: str | Path) -> pd.DataFrame:
    """Every timed repeat in a timing folder (one row each, hardware fingerprint on every row)."""
    import pandas as pd

    path = Path(source) / SAMPLES_FILE
    if not path.is_file():
        raise GcbenchError(f"{source}: no timing results here (no {SAMPLES_FILE}); "
                           f"run `gcbench timing … --out {source}` first")
    text_cols = {"setting", "image", "codec", "dataset", "omp_num_threads", "codec_threads_via", "startup_via",
                 "startup_programs",
                 "hw_name", "hw_id", "hw_cpu_model", "hw_gpu", "hw_gpu_driver", "hw_cuda", "hw_torch", "hw_gcbench",
                 "hw_python", "hw_platform", "hw_hostname", "hw_versions", "hw_libraries"}
    df = pd.read_csv(path, dtype={c: str for c in text_cols})
    for c in text_cols & set(df.columns):
        df[c] = df[c].fillna("")  # CSV cannot tell an empty text from a missing one; empty is what was written
    return df


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
