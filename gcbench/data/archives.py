"""Dataset archives (zip, tar): what a manifest says about each, and extraction all-or-nothing.

:func:`extract_all` unpacks every archive of a dataset into a temporary folder beside the
target (``.<name>.extracting-…``) and renames it onto the target only when all of them are out
and the expected files counted: a failed, interrupted or killed extraction never leaves a
half-written dataset under its name (a leftover temporary folder is removed on the next try).
Member names that would land outside the folder (absolute paths, ``..``) are refused.
"""

from __future__ import annotations

import fnmatch
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gcbench.core.errors import DatasetError

EXTRACTING = ".extracting-"


@dataclass(frozen=True)
class Archive:
    """One archive of a dataset, as its manifest's ``[[archives]]`` table describes it."""

    file: str  # the file name on disk
    url: str = ""  # empty: the user fetches it (a site that needs a login)
    size: int | None = None  # bytes, where published
    sha256: str | None = None  # where published; None: checked by size (or structure) only
    checksum_source: str = ""  # who published the checksum
    members: tuple[str, ...] = ()  # extract only members matching these patterns (fnmatch; empty: all)
    into: str = ""  # subfolder of the dataset to extract into (two archives with the same layout)

    @property
    def verified_by(self) -> str:
        """How the archive is checked before it is extracted: "sha256", "size" or "structure"."""
        return "sha256" if self.sha256 else ("size" if self.size is not None else "structure")


def archive_from_table(table: dict[str, Any], origin: str) -> Archive:
    """An :class:`Archive` from one ``[[archives]]`` table; a clear error on unknown keys."""
    known = {"file", "url", "size", "sha256", "checksum_source", "members", "into"}
    unknown = set(table) - known
    if unknown or "file" not in table:
        raise DatasetError(f"{origin}: an [[archives]] entry needs 'file' and may have {sorted(known - {'file'})}; "
                           f"unknown: {sorted(unknown)}")
    sha = table.get("sha256")
    into = PurePosixPath(str(table.get("into", "")))
    if into.is_absolute() or ".." in into.parts:
        raise DatasetError(f"{origin}: 'into' must be a folder inside the dataset, got {str(into)!r}")
    return Archive(
        file=str(table["file"]), url=str(table.get("url", "")),
        size=int(table["size"]) if table.get("size") is not None else None,
        sha256=str(sha).lower() if sha else None, checksum_source=str(table.get("checksum_source", "")),
        members=tuple(str(m) for m in table.get("members", [])), into=str(table.get("into", "")),
    )


def _matches(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name.removeprefix("./"), pattern)  # some archives name members ./folder/…


def _wanted(name: str, members: tuple[str, ...]) -> bool:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise DatasetError(f"archive member {name!r} would be written outside the dataset folder; refused")
    return not members or any(_matches(name, m) for m in members)


def check_openable(path: Path, archive: Archive) -> None:
    """For an archive without a published checksum: it opens and holds members of each expected pattern."""
    names = _names(path)
    for pattern in archive.members:
        if not any(_matches(n, pattern) for n in names):
            raise DatasetError(f"{archive.file}: no member matches {pattern} (is it the right archive?)")


def _names(path: Path) -> list[str]:
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return zf.namelist()
        with tarfile.open(path) as tf:
            return tf.getnames()
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise DatasetError(f"{path.name}: not a readable zip or tar archive ({exc})") from exc


def unpack(path: Path, into: Path, members: tuple[str, ...] = ()) -> int:
    """Unpack the wanted members of one archive into ``into``; the number of files written."""
    count = 0
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if _wanted(info.filename, members) and not info.is_dir():
                        zf.extract(info, into)
                        count += 1
            return count
        with tarfile.open(path) as tf:
            chosen = [m for m in tf.getmembers() if _wanted(m.name, members) and m.isfile()]
            tf.extractall(into, members=chosen, filter="data")
            return len(chosen)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise DatasetError(f"{path.name}: the archive is damaged ({exc})") from exc


def extract_all(archives: Iterable[tuple[Path, Archive]], target: Path, check: Any = None) -> Path:
    """Extract every archive into ``target`` at once: a temporary folder renamed at the end.

    ``check(folder)`` (optional) runs on the temporary folder before the rename and raises if
    the extracted files are not what the manifest expects. ``target`` must not exist yet.
    """
    target = Path(target)
    if target.exists():
        raise DatasetError(f"{target} already exists; remove it to extract again")
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}{EXTRACTING}*"):  # a killed earlier attempt
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}{EXTRACTING}", dir=target.parent))
    try:
        for path, archive in archives:
            unpack(path, tmp / archive.into if archive.into else tmp, archive.members)
        if check is not None:
            check(tmp)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
