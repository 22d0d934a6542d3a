"""Datasets: any folder of images, or a named manifest (files or archives, SHA-256, licence, source).

A manifest lists either the dataset's files (``[files]``: relative path → SHA-256, fetched one
by one from ``download_url``) or the archives it comes in (``[[archives]]``: URL, size, SHA-256,
see :mod:`gcbench.data.archives`), with the image pattern and count expected once extracted.

A named dataset's files are looked for, in order: the ``root`` given by the caller,
``$GCBENCH_DATA/<name>``, the manifest's own ``path`` (for bundled sets), and gcbench's cache
(``~/.cache/gcbench/datasets/<name>``). A file-by-file dataset missing there is downloaded into
the cache when the network allows (``GCBENCH_OFFLINE=1`` forbids it); an archive dataset is
fetched by ``gcbench datasets download NAME`` (:mod:`gcbench.data.acquire`), since archives
are large. Every file with a known SHA-256 is checked: a missing or altered file is a clear error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gcbench.core.defaults import env, offline
from gcbench.core.errors import DatasetError
from gcbench.core.resources import cache_dir, search_path
from gcbench.core.tomlio import read_toml
from gcbench.data.archives import Archive, archive_from_table
from gcbench.data.images import IMAGE_SUFFIXES, file_sha256


@dataclass(frozen=True)
class DatasetManifest:
    name: str
    files: dict[str, str]  # relative path → sha256 of the file (empty for an archive dataset)
    description: str = ""
    url: str = ""
    download_url: str = ""  # with "{file}" for the relative path
    license: str = ""
    path: str = ""  # bundled sets: folder relative to the manifest
    masks: str = ""  # folder of per-image masks, relative to the dataset root (gcbench.data.masks)
    source: str = ""
    citation: str = ""
    note: str = ""  # what a user should know (a login, a checksum nobody publishes)
    archives: tuple[Archive, ...] = ()
    images: str = ""  # archive datasets: glob of the image files below the root
    expected_images: int | None = None  # archive datasets: how many files ``images`` matches
    expected: dict[str, int] = field(default_factory=dict)  # further globs and their counts (labels)

    @property
    def n_images(self) -> int | None:
        """How many images the dataset has (None where the manifest does not say)."""
        return len(self.files) if self.files else self.expected_images


@dataclass(frozen=True)
class ImageRef:
    name: str  # relative path inside the dataset, the image's name in tables
    path: Path


@dataclass(frozen=True)
class Dataset:
    name: str
    root: Path
    images: tuple[ImageRef, ...]
    manifest: DatasetManifest | None = None
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.images)


def manifest_paths() -> list[Path]:
    """Every manifest file on the search path (``$GCBENCH_DATASET_PATH`` first), one per name."""
    seen: dict[str, Path] = {}
    for folder in search_path("datasets", "GCBENCH_DATASET_PATH"):
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                seen.setdefault(path.stem, path)
    return list(seen.values())


def load_manifest(path: str | Path) -> DatasetManifest:
    """A :class:`DatasetManifest` from its TOML file; a clear error when it lists nothing."""
    path = Path(path)
    raw = read_toml(path)
    files = raw.get("files", {})
    archives = tuple(archive_from_table(t, str(path)) for t in raw.get("archives", []))
    if not isinstance(files, dict) or not (files or archives):
        raise DatasetError(f"{path}: a manifest needs a [files] table of name = sha256 or [[archives]] entries")
    if archives and not raw.get("images"):
        raise DatasetError(f"{path}: an archive dataset needs 'images', the glob of its image files")
    return DatasetManifest(
        name=str(raw.get("name", path.stem)),
        files={str(k): str(v).lower() for k, v in files.items()},
        description=str(raw.get("description", "")),
        url=str(raw.get("url", "")),
        download_url=str(raw.get("download_url", "")),
        license=str(raw.get("license", "")),
        path=str(raw.get("path", "")),
        masks=str(raw.get("masks", "")),
        source=str(path),
        citation=str(raw.get("citation", "")).strip(),
        note=str(raw.get("note", "")).strip(),
        archives=archives,
        images=str(raw.get("images", "")),
        expected_images=int(raw["expected_images"]) if "expected_images" in raw else None,
        expected={str(k): int(v) for k, v in raw.get("expected", {}).items()},
    )


def scan_folder(root: Path) -> list[ImageRef]:
    """Every file with an image suffix below ``root`` (recursively), sorted by name."""
    refs = [
        ImageRef(p.relative_to(root).as_posix(), p)
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return sorted(refs, key=lambda r: r.name)


def candidate_roots(manifest: DatasetManifest, root: Path | None = None) -> list[Path]:
    """Where the dataset is looked for, in order (see the module's notes)."""
    roots: list[Path] = []
    if root is not None:
        roots.append(Path(root))
    data_root = env("GCBENCH_DATA")
    if data_root:
        roots.append(Path(data_root) / manifest.name)
    if manifest.path and manifest.source:
        roots.append(Path(manifest.source).parent / manifest.path)
    roots.append(cache_dir("datasets", manifest.name))
    return roots


def download_files(manifest: DatasetManifest, target: Path, progress: bool = False) -> Path:
    """Fetch every file of a file-by-file manifest into ``target``, each checked (see download.fetch)."""
    from gcbench.data.download import fetch

    if not manifest.download_url:
        raise DatasetError(f"dataset {manifest.name!r} has no download URL")
    target.mkdir(parents=True, exist_ok=True)
    for rel, digest in manifest.files.items():
        fetch(manifest.download_url.format(file=rel), target / rel, sha256=digest, progress=progress, timeout=30)
    return target


def matching_files(root: Path, pattern: str) -> list[Path]:
    """Files below ``root`` matching ``pattern``, without hidden files (macOS' ``._*``, ``__MACOSX``)."""
    def visible(p: Path) -> bool:
        return not any(part.startswith((".", "__MACOSX")) for part in p.relative_to(root).parts)

    return sorted(p for p in root.glob(pattern) if p.is_file() and visible(p))


def verify(manifest: DatasetManifest, root: Path) -> list[ImageRef]:
    """Check the dataset under ``root``; raise naming each missing or altered file, or the wrong count."""
    if manifest.archives:
        return _verify_extracted(manifest, root)
    missing, altered = [], []
    for rel, digest in manifest.files.items():
        p = root / rel
        if not p.is_file():
            missing.append(rel)
        elif file_sha256(p) != digest:
            altered.append(rel)
    if missing or altered:
        parts = []
        if missing:
            parts.append(f"missing: {', '.join(missing)}")
        if altered:
            parts.append(f"SHA-256 differs from the manifest (altered file): {', '.join(altered)}")
        raise DatasetError(f"dataset {manifest.name!r} at {root}: " + "; ".join(parts))
    return [ImageRef(rel, root / rel) for rel in sorted(manifest.files)]


def _verify_extracted(manifest: DatasetManifest, root: Path) -> list[ImageRef]:
    images = matching_files(root, manifest.images)
    wanted = {manifest.images: manifest.expected_images, **manifest.expected}
    found = {manifest.images: len(images), **{g: len(matching_files(root, g)) for g in manifest.expected}}
    wrong = [f"{g}: {found[g]} files, expected {n}" for g, n in wanted.items() if n is not None and found[g] != n]
    if wrong:
        raise DatasetError(f"dataset {manifest.name!r} at {root} is incomplete ({'; '.join(wrong)}); "
                           f"remove the folder and run `gcbench datasets download {manifest.name}`")
    altered = [rel for rel, digest in manifest.files.items() if not (root / rel).is_file() or file_sha256(root / rel) != digest]
    if altered:
        raise DatasetError(f"dataset {manifest.name!r} at {root}: missing or altered: {', '.join(altered)}")
    return [ImageRef(p.relative_to(root).as_posix(), p) for p in images]


def locate(manifest: DatasetManifest, root: Path | None = None) -> Path | None:
    """The first candidate folder that holds any of the dataset's files (nothing is checked or fetched)."""
    for cand in candidate_roots(manifest, root):
        if not cand.is_dir():
            continue
        if manifest.archives and matching_files(cand, manifest.images):
            return cand
        if any((cand / rel).exists() for rel in manifest.files):
            return cand
    return None


def resolve_root(manifest: DatasetManifest, root: Path | None = None) -> Path:
    """The dataset's folder: found (see :func:`locate`), else downloaded where allowed, else a clear error."""
    found = locate(manifest, root)
    if found is not None:
        return found
    if root is not None:
        return Path(root)  # the caller said where: verify() names what is wrong there
    cache = cache_dir("datasets", manifest.name)
    looked = ", ".join(str(c) for c in candidate_roots(manifest))
    if manifest.archives:
        raise DatasetError(f"dataset {manifest.name!r} not found (looked in {looked}); run "
                           f"`gcbench datasets download {manifest.name}` or put the extracted files in "
                           f"$GCBENCH_DATA/{manifest.name}")
    if manifest.download_url and not offline():
        try:
            return download_files(manifest, cache)
        except (OSError, DatasetError) as exc:
            reason = f"download failed ({exc})"
    else:
        reason = "downloads are off (GCBENCH_OFFLINE)" if manifest.download_url else "it has no download URL"
    raise DatasetError(
        f"dataset {manifest.name!r} not found (looked in {looked}); {reason}. Put its files in "
        f"$GCBENCH_DATA/{manifest.name} or {cache}" + (f" (source: {manifest.url})" if manifest.url else "")
    )


def load_dataset(name_or_path: str | Path, root: str | Path | None = None) -> Dataset:
    """A registered dataset by name, or any folder of images by path."""
    from gcbench.data.registry import datasets

    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_dir() and (os.sep in text or "/" in text or text in (".", "..") or text not in datasets):
        images = scan_folder(path)
        if not images:
            raise DatasetError(f"{path}: no image files found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
        return Dataset(name=path.resolve().name, root=path, images=tuple(images))
    if text not in datasets and not path.exists():
        if os.sep in text or "/" in text:
            raise DatasetError(f"{text}: no such folder")
    manifest: DatasetManifest = datasets.get(text)  # raises with "did you mean"
    if not isinstance(manifest, DatasetManifest):  # a reader with its own layout (gcbench.data.cityscapes)
        return manifest.load(root)
    found = resolve_root(manifest, Path(root) if root is not None else None)
    return Dataset(name=manifest.name, root=found, images=tuple(verify(manifest, found)), manifest=manifest)
