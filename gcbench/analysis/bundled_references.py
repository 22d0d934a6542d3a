"""Published curves shipped with gcbench, by name: ``compressai/kodak/webp``, ``hific/kodak/hific``.

The files are verbatim copies of the authors' own result files, in the top-level
``references/`` folder (``gcbench/_data/references`` in a wheel), with ``references/index.toml``
saying for each name which file it reads, which rows (``where``), which columns and under which
gcbench name (``columns``), and what the numbers mean: the protocol, the bpp accounting, the
source, its licence and the upstream commit. Names follow ``SOURCE/DATASET/CURVE``; CURVE is the
gcbench codec name where gcbench has the codec.

Every curve is converted to gcbench's columns and conventions: ``bpp``, ``psnr``, ``ms_ssim``,
``ms_ssim_db`` (dB of the mean MS-SSIM, CompressAI's convention; the sources publish the mean),
``lpips``, ``dists``, ``fid``, ``kid``, ``niqe``. Anything the index does not map is not read.

    from gcbench.analysis.bundled_references import references, load_bundled
    references.names("compressai/kodak/*")
    curve = load_bundled("compressai/kodak/webp")     # a ReferenceCurve
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcbench.core.errors import ConfigError
from gcbench.core.registry import Registry, lazy

if TYPE_CHECKING:
    import pandas as pd

    from gcbench.analysis.references import ReferenceCurve

INDEX = "index.toml"


@dataclass(frozen=True)
class BundledReference:
    """One published curve shipped with gcbench: where its numbers come from and what they mean."""

    name: str
    file: Path
    citation: str
    repository: str  # owner/name of the upstream repository
    upstream_file: str  # the file's path in the upstream repository
    commit: str  # an upstream commit at which that file had exactly these bytes
    url: str
    licence: str
    dataset: str
    columns: tuple[tuple[str, str], ...]  # upstream column → gcbench column
    where: tuple[tuple[str, str], ...] = ()  # rows kept: column == value (CSV files)
    protocol: str = ""  # codec, settings and how it was run
    bpp: str = ""  # what the source counted as the bitstream
    metrics: str = ""  # how the source computed and averaged its metrics

    @property
    def source(self) -> str:
        """One line for plots, tables and reports: citation, upstream file and commit."""
        return f"{self.citation}; {self.repository}@{self.commit[:12]}:{self.upstream_file} <{self.url}>"


def references_folder() -> Path:
    """The shipped ``references/`` folder."""
    from gcbench.core.resources import data_dir

    folder = data_dir("references")
    if folder is None:
        raise ConfigError("gcbench's references/ folder is missing from this installation")
    return folder


def _entry(name: str, table: Mapping[str, Any], sources: Mapping[str, Any], folder: Path) -> BundledReference:
    source_id = table.get("source", "")
    if source_id not in sources:
        raise ConfigError(f"{folder / INDEX}: curve {name!r} names an unknown source {source_id!r}")
    merged = {**sources[source_id], **table}
    required = ("file", "citation", "repository", "upstream_file", "commit", "url", "licence", "dataset", "columns")
    missing = [k for k in required if not merged.get(k)]
    if missing:
        raise ConfigError(f"{folder / INDEX}: curve {name!r} lacks {', '.join(missing)}")
    return BundledReference(
        name=name, file=folder / merged["file"], citation=merged["citation"], repository=merged["repository"],
        upstream_file=merged["upstream_file"], commit=merged["commit"], url=merged["url"],
        licence=merged["licence"], dataset=merged["dataset"],
        columns=tuple(dict(merged["columns"]).items()), where=tuple(dict(merged.get("where", {})).items()),
        protocol=merged.get("protocol", ""), bpp=merged.get("bpp", ""), metrics=merged.get("metrics", ""),
    )


def _populate(reg: Registry[BundledReference]) -> None:
    from gcbench.core.tomlio import read_toml

    folder = references_folder()
    index = read_toml(folder / INDEX)
    sources = index.get("sources", {})
    for name, table in index.get("curves", {}).items():
        reg.add(name, lazy(lambda name=name, table=table: _entry(name, table, sources, folder)),
                origin=str(folder / INDEX))


references: Registry[BundledReference] = Registry("published reference", populate=_populate)


def _raw_columns(ref: BundledReference, data: bytes) -> dict[str, list[Any]]:
    """The upstream columns of the curve's rows, by upstream name."""
    import io

    import pandas as pd

    if ref.file.suffix == ".json":  # CompressAI's results files: {"name", "description", "results": {...}}
        results = json.loads(data.decode("utf-8")).get("results", {})
        return {k: v for k, v in results.items() if isinstance(v, list)}
    table = pd.read_csv(io.BytesIO(data))
    for column, value in ref.where:
        if column not in table.columns:
            raise ConfigError(f"{ref.file}: no column {column!r} to select rows of {ref.name!r}")
        table = table[table[column].astype(str) == value]
    return table.to_dict("list")


def load_bundled(name: str) -> ReferenceCurve:
    """The shipped curve ``name`` in gcbench's columns (``UnknownNameError`` says which exist)."""
    from gcbench.analysis.references import ReferenceCurve, points_table

    ref = references.get(name)
    data = ref.file.read_bytes()
    raw = _raw_columns(ref, data)
    mapping = dict(ref.columns)
    kept = {mapping[k]: v for k, v in raw.items() if k in mapping}
    points = points_table(kept, f"{ref.file}: {name}")
    return ReferenceCurve(name, ref.source, points, ref.dataset, str(ref.file), hashlib.sha256(data).hexdigest())


def list_references(pattern: str | None = None) -> pd.DataFrame:
    """What ``gcbench ls references`` shows: every shipped curve with its points, columns and source."""
    import pandas as pd

    rows = []
    for name in references.names(pattern):
        ref = references.get(name)
        curve = load_bundled(name)
        rows.append({"reference": name, "dataset": ref.dataset, "points": len(curve.points),
                     "columns": ", ".join(c for c in curve.points.columns if c != "bpp"),
                     "bpp": ref.bpp, "source": ref.citation, "licence": ref.licence})
    return pd.DataFrame(rows, columns=["reference", "dataset", "points", "columns", "bpp", "source", "licence"])
