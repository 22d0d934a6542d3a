"""Datasets: any folder of images, or a named manifest (files, SHA-256, licence, source).

A named dataset's files are looked for, in order: the ``root`` given by the caller,
``$GCBENCH_DATA/<name>``, the manifest's own ``path`` (for bundled sets), and gcbench's cache
(``~/.cache/gcbench/datasets/<name>``), where they are downloaded from the manifest's
``download_url`` when the network allows (``GCBENCH_OFFLINE=1`` forbids it). Every file is
checked against its SHA-256: a missing or altered file is a clear error.
"""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from gcbench.core.atomic import atomic_path
from gcbench.core.defaults import env, offline
from gcbench.core.errors import DatasetError
from gcbench.core.resources import cache_dir, search_path
from gcbench.core.tomlio import read_toml
from gcbench.data.images import IMAGE_SUFFIXES, file_sha256


@dataclass(frozen=True)
class DatasetManifest:
    name: str
    files: dict[str, str]  # relative path → sha256 of the file
    description: str = ""
    url: str = ""
    download_url: str = ""  # with "{file}" for the relative path
    license: str = ""
    path: str = ""  # bundled sets: folder relative to the manifest
    masks: str = ""  # folder of per-image masks, relative to the dataset root (gcbench.data.masks)
    source: str = ""


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
    seen: dict[str, Path] = {}
    for folder in search_path("datasets", "GCBENCH_DATASET_PATH"):
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                seen.setdefault(path.stem, path)
    return list(seen.values())


def load_manifest(path: str | Path) -> DatasetManifest:
    path = Path(path)
    raw = read_toml(path)
    files = raw.get("files")
    if not isinstance(files, dict) or not files:
        raise DatasetError(f"{path}: a manifest needs a [files] table of name = sha256")
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
    )


def scan_folder(root: Path) -> list[ImageRef]:
    """Every file with an image suffix below ``root`` (recursively), sorted by name."""
    refs = [
        ImageRef(p.relative_to(root).as_posix(), p)
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return sorted(refs, key=lambda r: r.name)


def _candidate_roots(manifest: DatasetManifest, root: Path | None) -> list[Path]:
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


def _download(manifest: DatasetManifest, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for rel, digest in manifest.files.items():
        dest = target / rel
        if dest.is_file() and file_sha256(dest) == digest:
            continue
        url = manifest.download_url.format(file=rel)
        with atomic_path(dest) as tmp:
            with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
            if file_sha256(tmp) != digest:  # raised inside: the file is not kept
                raise DatasetError(f"download of {url} does not match the manifest's SHA-256 {digest}")


def verify(manifest: DatasetManifest, root: Path) -> list[ImageRef]:
    """Check every file of the manifest under ``root``; raise naming each missing or altered file."""
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


def resolve_root(manifest: DatasetManifest, root: Path | None = None) -> Path:
    candidates = _candidate_roots(manifest, root)
    for cand in candidates:
        if cand.is_dir() and any((cand / rel).exists() for rel in manifest.files):
            return cand
    if root is not None:
        return Path(root)  # the caller said where: verify() names what is wrong there
    cache = cache_dir("datasets", manifest.name)
    if manifest.download_url and not offline():
        try:
            _download(manifest, cache)
            return cache
        except (OSError, DatasetError) as exc:
            reason = f"download failed ({exc})"
        except Exception as exc:  # noqa: BLE001 - urllib raises many kinds
            reason = f"download failed ({exc})"
    else:
        reason = "downloads are off (GCBENCH_OFFLINE)" if manifest.download_url else "it has no download URL"
    looked = ", ".join(str(c) for c in candidates)
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
