"""Published reference curves (a paper's RD points) to draw beside measured ones, with provenance.

A reference file says where its numbers come from; a curve without a source is refused.

JSON, one curve or a list of curves (or ``{"curves": [...]}``)::

    {"name": "HiFiC-lo", "source": "Mentzer et al., NeurIPS 2020, Fig. 4 (read from the paper's data)",
     "dataset": "kodak",
     "points": {"bpp": [0.14, 0.30], "psnr": [27.5, 29.6], "fid": [...]}}

``points`` is a table of columns (as above) or a list of rows. CompressAI's published results
files (``{"name", "description", "results": {"bpp": [...], "psnr-rgb": [...]}}``) read as they
are, ``description`` serving as the source; ``rename`` maps their column names onto gcbench's
(``{"psnr-rgb": "psnr"}``).

CSV: columns ``name``, ``source``, ``bpp`` and metric columns, one row per point (lines
starting with ``#`` are comments); an optional ``dataset`` column.

Instead of a file, a NAME (or a shell wildcard) picks curves shipped with gcbench: the authors'
published files, ``compressai/kodak/webp``, ``hific/kodak/hific``, ``msillm/kodak/ms-illm``
(:mod:`gcbench.analysis.bundled_references`; ``gcbench ls references`` lists them).

A curve with ``ms_ssim`` (the mean MS-SSIM of its images) and no ``ms_ssim_db`` gets
``ms_ssim_db`` = -10·log10(1 - mean MS-SSIM), CompressAI's convention for curves.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.core.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class ReferenceCurve:
    name: str
    source: str  # where the numbers come from (paper, figure, URL)
    points: pd.DataFrame  # bpp plus metric columns, sorted by bpp
    dataset: str = ""
    file: str = ""
    file_sha256: str = ""

    @property
    def provenance(self) -> str:
        """Source, dataset, file name and hash, for notes under plots and in reports."""
        where = f"{Path(self.file).name} (sha256 {self.file_sha256[:12]})" if self.file else "in memory"
        dataset = f", dataset {self.dataset}" if self.dataset else ""
        return f"{self.source}{dataset}; file {where}"


def points_table(raw: Any, where: str, rename: dict[str, str] | None = None) -> pd.DataFrame:
    """A curve's points (a table of columns or a list of rows) checked, numeric, sorted by bpp."""
    import pandas as pd

    from gcbench.metrics.pixel import to_db

    if isinstance(raw, dict):
        lengths = {k: len(v) for k, v in raw.items() if isinstance(v, list)}
        if len(set(lengths.values())) > 1:
            raise ConfigError(f"{where}: the point columns have different lengths {lengths}")
        df = pd.DataFrame({k: v for k, v in raw.items() if isinstance(v, list)})
    elif isinstance(raw, list):
        df = pd.DataFrame(raw)
    else:
        raise ConfigError(f"{where}: 'points' must be a table of columns or a list of rows")
    df = df.rename(columns=rename or {})
    if "bpp" not in df.columns:
        raise ConfigError(f"{where}: no 'bpp' column among {list(df.columns)}")
    for col in df.columns:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df = df.dropna(axis=1, how="all")
    if "ms_ssim" in df.columns and "ms_ssim_db" not in df.columns:
        df["ms_ssim_db"] = df["ms_ssim"].map(to_db)  # dB of the mean, as published curves draw it
    if (df["bpp"].dropna() <= 0).any():
        raise ConfigError(f"{where}: bpp values must be positive")
    if df["bpp"].notna().sum() < 2:
        raise ConfigError(f"{where}: a curve needs at least two points")
    df = df[["bpp", *(c for c in df.columns if c != "bpp")]]
    return df.sort_values("bpp").reset_index(drop=True)


def _from_dict(d: dict[str, Any], where: str, rename: dict[str, str]) -> tuple[str, str, str, pd.DataFrame]:
    name = d.get("name")
    if not name:
        raise ConfigError(f"{where}: a reference curve needs a 'name'")
    source = d.get("source") or d.get("description") or ""
    if d.get("url"):
        source = f"{source} <{d['url']}>" if source else str(d["url"])
    if not source:
        raise ConfigError(f"{where}: curve {name!r} has no 'source' (say which paper, figure or file it comes from)")
    mapping = {**dict(d.get("rename", {})), **rename}
    raw = d.get("points", d.get("results"))
    if raw is None:
        raise ConfigError(f"{where}: curve {name!r} has no 'points'")
    return str(name), str(source), str(d.get("dataset", "")), points_table(raw, f"{where}: {name}", mapping)


def load_references(path: str | Path, rename: dict[str, str] | None = None) -> list[ReferenceCurve]:
    """Every curve in one CSV or JSON file, or the shipped curves a NAME or wildcard picks."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        if path.suffix.lower() in (".csv", ".json"):
            raise ConfigError(f"reference file {path} not found")
        return load_named(str(path))
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    rename = dict(rename or {})
    curves: list[ReferenceCurve] = []
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
        items = doc.get("curves", [doc]) if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise ConfigError(f"{path}: expected a curve, a list of curves or {{'curves': [...]}}")
        for item in items:
            if not isinstance(item, dict):
                raise ConfigError(f"{path}: every curve must be a JSON object")
            name, source, dataset, points = _from_dict(item, str(path), rename)
            curves.append(ReferenceCurve(name, source, points, dataset, str(path), sha))
    elif path.suffix.lower() == ".csv":
        df = pd.read_csv(path, comment="#").rename(columns=rename)
        missing = [c for c in ("name", "source", "bpp") if c not in df.columns]
        if missing:
            raise ConfigError(f"{path}: missing column(s) {missing}; a reference CSV needs name, source, bpp")
        for name, g in df.groupby("name", sort=False):
            sources = sorted(set(g["source"].dropna().astype(str)))
            if not sources:
                raise ConfigError(f"{path}: curve {name!r} has no source")
            dataset = ", ".join(sorted(set(g["dataset"].dropna().astype(str)))) if "dataset" in g.columns else ""
            values = g.drop(columns=[c for c in ("name", "source", "dataset") if c in g.columns])
            points = points_table(values.to_dict("list"), f"{path}: {name}")
            curves.append(ReferenceCurve(str(name), "; ".join(sources), points, dataset, str(path), sha))
    else:
        raise ConfigError(f"{path}: reference curves are read from .csv or .json files")
    if not curves:
        raise ConfigError(f"{path}: no curves in the file")
    return curves


def load_named(text: str) -> list[ReferenceCurve]:
    """The shipped curves named ``text`` (shell wildcards allowed: ``compressai/kodak/*``)."""
    from gcbench.analysis.bundled_references import load_bundled, references

    names = references.names(text) if any(ch in text for ch in "*?[") else [text]
    if not names:
        raise ConfigError(f"no shipped reference curve matches {text!r} (`gcbench ls references` lists them)")
    return [load_bundled(name) for name in names]  # an unknown name raises with "Did you mean"


def parse_rename(pairs: list[str]) -> dict[str, str]:
    """``['psnr-rgb=psnr']`` → ``{'psnr-rgb': 'psnr'}``."""
    out = {}
    for text in pairs:
        old, sep, new = text.partition("=")
        if not sep or not old or not new:
            raise ConfigError(f"a column rename is OLD=NEW, got {text!r}")
        out[old] = new
    return out


def as_curves(references: list[ReferenceCurve]) -> pd.DataFrame:
    """The references as curve rows (``series`` = ``name [published]``), for BD tables."""
    import pandas as pd

    frames = []
    for ref in references:
        df = ref.points.copy()
        df.insert(0, "series", f"{ref.name} [published]")
        df.insert(0, "codec", ref.name)
        df.insert(0, "dataset", ref.dataset or "")
        df["setting"] = [f"point {i}" for i in range(len(df))]
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
