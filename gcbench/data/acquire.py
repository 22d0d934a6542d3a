"""Getting a named dataset onto this machine, and saying where it is: ``gcbench datasets download``.

:func:`download_dataset` puts a dataset at ``ROOT/<name>`` (ROOT: the ``root`` argument, else
``$GCBENCH_DATA``, else gcbench's cache ``~/.cache/gcbench/datasets``), where ``gcbench run
--dataset NAME`` finds it. A file-by-file dataset (Kodak) is fetched file by file; an archive
dataset has its archives fetched into ``ROOT/downloads/`` (resumable, see
:mod:`gcbench.data.download`), each verified before anything is extracted, then extracted all at
once (:func:`gcbench.data.archives.extract_all`). Archives behind a login (Cityscapes) are
placed there by the user; the error says where to get them and where to put them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gcbench.core.defaults import env, offline
from gcbench.core.errors import DatasetError
from gcbench.core.resources import cache_dir
from gcbench.data.archives import Archive, check_openable, extract_all
from gcbench.data.datasets import DatasetManifest, download_files, locate, matching_files, verify
from gcbench.data.download import check_file, fetch

DOWNLOADS = "downloads"


@dataclass
class DatasetReport:
    """What :func:`download_dataset` did."""

    name: str
    root: Path
    n_images: int
    already_present: bool = False
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        """A few lines for the terminal."""
        state = "already present" if self.already_present else "ready"
        lines = [f"{self.name}: {self.n_images} images {state} at {self.root}"]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass(frozen=True)
class DatasetStatus:
    """Whether a dataset is on this machine (for ``gcbench ls datasets``); never downloads."""

    present: bool
    where: Path | None
    found: int | None  # image files found there


def data_root(root: str | Path | None = None) -> Path:
    """The folder that holds named datasets: ``root``, else ``$GCBENCH_DATA``, else gcbench's cache."""
    if root is not None:
        return Path(root).expanduser()
    return Path(env("GCBENCH_DATA")).expanduser() if env("GCBENCH_DATA") else cache_dir("datasets")


def _manifest(name: str) -> DatasetManifest:
    from gcbench.data.registry import datasets

    manifest = datasets.get(name)
    if not isinstance(manifest, DatasetManifest):
        raise DatasetError(f"{name!r} reads a copy you already have and downloads nothing; "
                           "`gcbench datasets download cityscapes-val` extracts the official archives")
    return manifest


def download_dataset(name: str, root: str | Path | None = None, *, archives_from: str | Path | None = None,
                     keep_archives: bool = False, progress: bool = True) -> DatasetReport:
    """Download (or take from ``archives_from``), verify and extract dataset ``name`` into ``ROOT/name``."""
    manifest = _manifest(name)
    if manifest.path:  # bundled with gcbench
        found = locate(manifest)
        if found is None:
            raise DatasetError(f"{manifest.name} is bundled with gcbench, but its folder is missing: reinstall gcbench")
        return DatasetReport(manifest.name, found, len(verify(manifest, found)), already_present=True)
    target = data_root(root) / manifest.name
    if manifest.archives:
        return _from_archives(manifest, target, archives_from, keep_archives, progress)
    if target.is_dir():
        try:
            return DatasetReport(manifest.name, target, len(verify(manifest, target)), already_present=True)
        except DatasetError:
            pass  # some files missing or damaged: fetch those
    if offline():
        raise DatasetError(f"downloads are off (GCBENCH_OFFLINE=1); {manifest.name} was not fetched")
    download_files(manifest, target, progress=progress)
    return DatasetReport(manifest.name, target, len(verify(manifest, target)))


def _from_archives(manifest: DatasetManifest, target: Path, archives_from: str | Path | None,
                   keep_archives: bool, progress: bool) -> DatasetReport:
    if target.exists():
        return DatasetReport(manifest.name, target, len(verify(manifest, target)), already_present=True)
    folder = Path(archives_from).expanduser() if archives_from is not None else target.parent / DOWNLOADS
    _check_placed(manifest, folder)
    warnings: list[str] = []
    ready: list[tuple[Path, Archive]] = []
    fetched: list[Path] = []
    for archive in manifest.archives:
        path = folder / archive.file
        if archive.url and not path.is_file():
            if offline():
                raise DatasetError(f"downloads are off (GCBENCH_OFFLINE=1); {archive.file} is not in {folder}")
            fetched.append(fetch(archive.url, path, sha256=archive.sha256, size=archive.size, progress=progress))
        else:
            check_file(path, name=archive.file, sha256=archive.sha256, size=archive.size)
        if archive.verified_by == "structure":
            check_openable(path, archive)
        if archive.verified_by != "sha256":
            warnings.append(f"{archive.file}: no published SHA-256; checked by "
                            f"{'size' if archive.size is not None else 'its contents (it opens, expected folders present)'} only")
        ready.append((path, archive))
    extract_all(ready, target, check=lambda tmp: verify(manifest, tmp))
    if not keep_archives:
        for path in fetched:  # only what gcbench downloaded; archives a user placed stay
            path.unlink(missing_ok=True)
    return DatasetReport(manifest.name, target, len(verify(manifest, target)), warnings=warnings)


def _check_placed(manifest: DatasetManifest, folder: Path) -> None:
    """Archives without a URL must be in ``folder``; otherwise say where to get them, before any download."""
    missing = [a.file for a in manifest.archives if not a.url and not (folder / a.file).is_file()]
    if missing:
        how = manifest.note or (f"get them from {manifest.url}" if manifest.url else "")
        raise DatasetError(f"{manifest.name} needs {', '.join(missing)}, which cannot be downloaded without "
                           f"an account: {how} Put them in {folder} (or pass --archives DIR) and run "
                           f"`gcbench datasets download {manifest.name}` again; they are verified before use.")


def dataset_status(entry: Any) -> DatasetStatus:
    """Whether a registry entry's files are here, where, and how many images (cheap: no hashing)."""
    if not isinstance(entry, DatasetManifest):  # a reader of the user's own copy
        try:
            ds = entry.load(None)
        except DatasetError:
            return DatasetStatus(False, None, None)
        return DatasetStatus(True, ds.root, len(ds))
    where = locate(entry)
    if where is None:
        return DatasetStatus(False, None, None)
    if entry.archives:
        found = len(matching_files(where, entry.images))
    else:
        found = sum(1 for rel in entry.files if (where / rel).is_file())
    return DatasetStatus(True, where, found)
