"""Where pretrained files come from: one manifest, checked hashes, a clear error otherwise.

Every file a metric (or a learned codec) needs is an entry of the manifest: a frozen
:class:`WeightFile` with its file name, SHA-256, size, URL, licence and what uses it. The
built-in entries live in ``gcbench/weights/weights_manifest.toml`` (one TOML table per entry; add yours
there), further ones come from :func:`register` (plugins) or from TOML files named in
``$GCBENCH_WEIGHTS_MANIFEST`` (``os.pathsep``-separated).

API::

    from gcbench import weights

    path = weights.resolve("alexnet-imagenet")      # Path of a verified file, or WeightsError
    weights.verify_file(path, entry.sha256)          # Path, or WeightsError (expected vs actual)
    entry = weights.get("alexnet-imagenet")          # the WeightFile
    weights.entries()                                # every WeightFile, sorted by name
    weights.register(WeightFile(...))                # add an entry from code
    weights.status(name)                             # WeightStatus, never downloads (for listings)
    weights.file_sha256(path)                        # hex digest, memoised per (path, size, mtime)

``resolve(name)`` searches, in order:

1. every folder in ``$GCBENCH_WEIGHTS`` (``os.pathsep``-separated), for the entry's file name;
2. files shipped inside the gcbench package (``gcbench/weights/_weights/``), for small files whose
   licence allows it (the NIQE model);
3. the libraries' own caches the entry names (``caches``): ``torch-hub`` is torch's
   ``hub/checkpoints`` folder (``$TORCH_HOME``), where torchvision and torch-fidelity keep
   their downloads, so a file a library fetched earlier is found, not fetched twice;
4. gcbench's own download folder (``$GCBENCH_CACHE/weights``);
5. a download from the entry's URL into that folder, unless ``GCBENCH_OFFLINE=1``.

A found file must have the manifest's hash; a wrong one raises (it is never used). When no
file is found and none can be downloaded, :class:`~gcbench.core.errors.WeightsError` names the
file, its URL and the folder to put it in. Nothing falls back to random weights.

``sha256`` is the full hex digest where it is known. Some upstream files are published only
with the 8-hex prefix of their SHA-256 in the file name (torchvision, torch-fidelity); such an
entry stores that prefix and the file is checked against it, exactly as ``torch.hub`` checks it.
``sha256 = None`` (an upstream that publishes no hash) only checks that the file exists; callers
should then record the file's own hash (:func:`file_sha256`) with their results.

Metrics that let a user point at another file (a stand-in generated for tests, a fine-tuned
trunk) use :func:`describe_override`: the file's own hash goes into the metric's identity and
the result is marked as not made with the manifest's weights.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gcbench.core.atomic import atomic_path
from gcbench.core import defaults
from gcbench.core.defaults import env
from gcbench.core.errors import ConfigError, WeightsError
from gcbench.core.resources import cache_dir

_PACKAGE = Path(__file__).resolve().parent
MANIFEST_PATH = _PACKAGE / "weights_manifest.toml"
SHIPPED_DIR = _PACKAGE / "_weights"
CHUNK = 1 << 20
_HEX = set("0123456789abcdef")


@dataclass(frozen=True)
class WeightFile:
    """One pretrained file. ``sha256`` is a full digest or a published prefix (≥ 8 hex)."""

    name: str
    filename: str
    sha256: str | None
    size: int | None
    url: str | None
    license: str
    used_by: tuple[str, ...]
    caches: tuple[str, ...] = ()  # library caches to search: "torch-hub", "pyiqa"
    note: str = ""
    origin: str = field(default="built-in", compare=False)

    def __post_init__(self) -> None:
        if self.sha256 is not None:
            digest = self.sha256.lower()
            if len(digest) < 8 or len(digest) > 64 or not set(digest) <= _HEX:
                raise ConfigError(f"weights entry {self.name!r}: sha256 must be 8 to 64 hex digits, got {self.sha256!r}")
            object.__setattr__(self, "sha256", digest)
        if "/" in self.filename or "\\" in self.filename or not self.filename:
            raise ConfigError(f"weights entry {self.name!r}: filename must be a bare file name, got {self.filename!r}")
        unknown = set(self.caches) - set(LIBRARY_CACHES)
        if unknown:
            raise ConfigError(
                f"weights entry {self.name!r}: unknown cache {sorted(unknown)}; valid: {sorted(LIBRARY_CACHES)}"
            )

    @property
    def hash_is_prefix(self) -> bool:
        return self.sha256 is not None and len(self.sha256) < 64


@dataclass(frozen=True)
class WeightStatus:
    entry: WeightFile
    state: str  # "found", "missing", "bad-hash"
    path: Path | None = None
    detail: str = ""


# -- library caches --------------------------------------------------------------------------


def _torch_hub_checkpoints() -> Path:
    # torch.hub.get_dir() without importing torch (``gcbench weights`` must stay light);
    # if torch is already loaded its answer wins (a caller may have used set_dir).
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "hub"):
        return Path(torch.hub.get_dir()) / "checkpoints"
    home = os.environ.get("TORCH_HOME")
    if not home:
        home = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
    return Path(home).expanduser() / "hub" / "checkpoints"


def _pyiqa_cache() -> Path:
    # pyiqa keeps its downloads in torch hub's folder under "pyiqa"
    return _torch_hub_checkpoints().parent / "pyiqa"


LIBRARY_CACHES = {"torch-hub": _torch_hub_checkpoints, "pyiqa": _pyiqa_cache}


def download_dir() -> Path:
    """Where gcbench downloads weights to (and looks for them)."""
    return cache_dir("weights")


def user_dirs() -> list[Path]:
    """The folders listed in ``$GCBENCH_WEIGHTS``, searched first."""
    return [Path(p).expanduser() for p in env("GCBENCH_WEIGHTS").split(os.pathsep) if p]


def offline() -> bool:
    """Whether downloads are forbidden (``GCBENCH_OFFLINE=1``)."""
    return defaults.offline()


# -- the manifest ------------------------------------------------------------------------------

_LOCK = threading.RLock()
_ENTRIES: dict[str, WeightFile] | None = None
_EXTRA: dict[str, WeightFile] = {}


def _entry_from_table(name: str, table: dict[str, Any], origin: str) -> WeightFile:
    known = {"filename", "sha256", "size", "url", "license", "used_by", "caches", "note"}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"{origin}: weights entry {name!r} has unknown keys {sorted(unknown)}; valid: {sorted(known)}")
    for required in ("filename", "license", "used_by"):
        if required not in table:
            raise ConfigError(f"{origin}: weights entry {name!r} lacks {required!r}")
    used_by = table["used_by"]
    return WeightFile(
        name=name,
        filename=str(table["filename"]),
        sha256=table.get("sha256") or None,
        size=int(table["size"]) if table.get("size") is not None else None,
        url=table.get("url") or None,
        license=str(table["license"]),
        used_by=tuple([used_by] if isinstance(used_by, str) else used_by),
        caches=tuple(table.get("caches", ())),
        note=str(table.get("note", "")),
        origin=origin,
    )


def load_manifest(path: Path) -> list[WeightFile]:
    """Read a weights manifest (TOML) into entries."""
    from gcbench.core.tomlio import read_toml

    data = read_toml(Path(path))
    out = []
    for name, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {name!r} must be a table ([{name}])")
        out.append(_entry_from_table(name, table, str(path)))
    return out


def _manifest_files() -> list[Path]:
    files = [MANIFEST_PATH]
    files += [Path(p).expanduser() for p in env("GCBENCH_WEIGHTS_MANIFEST").split(os.pathsep) if p]
    return files


def _load_all() -> dict[str, WeightFile]:
    global _ENTRIES
    with _LOCK:
        if _ENTRIES is None:
            table: dict[str, WeightFile] = {}
            for path in _manifest_files():
                for entry in load_manifest(path):
                    if entry.name in table:
                        raise ConfigError(
                            f"weights entry {entry.name!r} is defined twice: in {table[entry.name].origin} and {path}"
                        )
                    table[entry.name] = entry
            _ENTRIES = table
        merged = dict(_ENTRIES)
        merged.update(_EXTRA)
        return merged


def reload() -> None:
    """Forget the parsed manifest (after changing ``$GCBENCH_WEIGHTS_MANIFEST``)."""
    global _ENTRIES
    with _LOCK:
        _ENTRIES = None


def register(entry: WeightFile, *, replace: bool = False) -> None:
    """Add an entry from code (a plugin's weights); a name already taken is an error."""
    with _LOCK:
        if not replace and entry.name in _load_all():
            raise ConfigError(f"weights entry {entry.name!r} is already in the manifest")
        _EXTRA[entry.name] = entry


def unregister(name: str) -> None:
    """Remove a manifest entry added at run time."""
    with _LOCK:
        _EXTRA.pop(name, None)


def entries() -> list[WeightFile]:
    """Every manifest entry, sorted by name."""
    return [e for _, e in sorted(_load_all().items())]


def get(name: str) -> WeightFile:
    """The manifest entry ``name``; an unknown name lists the valid ones."""
    table = _load_all()
    if name not in table:
        import difflib

        from gcbench.core.errors import UnknownNameError

        raise UnknownNameError("weights file", name, difflib.get_close_matches(name, list(table), n=3), sorted(table))
    return table[name]


# -- hashes ------------------------------------------------------------------------------------

_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file; memoised per (path, size, mtime) so big trunks are hashed once."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    digest = _HASHES.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                h.update(chunk)
        digest = h.hexdigest()
        _HASHES[key] = digest
    return digest


def _matches(actual: str, expected: str) -> bool:
    return actual.startswith(expected.lower())


def verify_file(path: str | Path, sha256: str | None) -> Path:
    """``path`` if its SHA-256 equals ``sha256`` (or starts with it, for a published prefix).

    ``sha256=None`` only checks that the file exists. Raises WeightsError otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such file")
    if sha256 is None:
        return path
    actual = file_sha256(path)
    if not _matches(actual, sha256):
        kind = "SHA-256 prefix" if len(sha256) < 64 else "SHA-256"
        raise WeightsError(
            f"{path} has the wrong hash: expected {kind} {sha256.lower()}, actual {actual}. "
            "The file is damaged or a different file; delete it and put the right one there."
        )
    return path


# -- resolution -------------------------------------------------------------------------------


def candidate_dirs(entry: WeightFile) -> list[tuple[str, Path]]:
    """Where ``entry`` is looked for, in order, each with a short label."""
    out: list[tuple[str, Path]] = [("$GCBENCH_WEIGHTS", d) for d in user_dirs()]
    out.append(("shipped", SHIPPED_DIR))
    out += [(cache, LIBRARY_CACHES[cache]()) for cache in entry.caches]
    out.append(("gcbench cache", download_dir()))
    return out


def _find(entry: WeightFile) -> tuple[Path | None, list[str]]:
    """The first candidate with the right hash, and the problems met with the others."""
    problems: list[str] = []
    for _, folder in candidate_dirs(entry):
        path = folder / entry.filename
        if not path.is_file():
            continue
        try:
            return verify_file(path, entry.sha256), problems
        except WeightsError as exc:
            problems.append(str(exc))
    return None, problems


def target_dir() -> Path:
    """The folder a user is told to put a missing file in."""
    dirs = user_dirs()
    return dirs[0] if dirs else download_dir()


def _missing_message(entry: WeightFile, why: str, problems: list[str]) -> str:
    where = target_dir()
    used = ", ".join(entry.used_by)
    text = f"weights file {entry.filename!r} ({entry.name}, needed by {used}) is not available: {why}."
    for p in problems:
        text += f" {p}"
    if entry.url:
        text += f" Download it from {entry.url} and put it in {where}"
    else:
        text += f" Put it in {where}"
    text += " (or in a folder named by $GCBENCH_WEIGHTS)."
    if entry.sha256:
        kind = "starts with" if entry.hash_is_prefix else "is"
        text += f" Its SHA-256 {kind} {entry.sha256}."
    return text


def download(entry: WeightFile, folder: Path | None = None, *, timeout: float = 60.0) -> Path:
    """Fetch ``entry`` into ``folder`` (default: gcbench's download folder), hash-checked, atomically."""
    if not entry.url:
        raise WeightsError(_missing_message(entry, "it has no download URL", []))
    path = Path(folder or download_dir()) / entry.filename
    with atomic_path(path, suffix="-" + entry.filename) as tmp:
        h = hashlib.sha256()
        with open(tmp, "wb") as out, urllib.request.urlopen(entry.url, timeout=timeout) as resp:
            while True:
                chunk = resp.read(CHUNK)
                if not chunk:
                    break
                h.update(chunk)
                out.write(chunk)
        actual = h.hexdigest()
        if entry.sha256 and not _matches(actual, entry.sha256):  # raised inside: the file is not kept
            raise WeightsError(
                f"download of {entry.url} has the wrong hash: expected {entry.sha256}, actual {actual}; not kept"
            )
    return path


def resolve(name: str) -> Path:
    """The verified local path of manifest entry ``name``; downloads it where allowed.

    Raises WeightsError naming the file, its URL and the folder to put it in.
    """
    entry = get(name)
    with _LOCK:
        path, problems = _find(entry)
        if path is not None:
            return path
        if offline():
            raise WeightsError(_missing_message(entry, "it was not found and downloads are off (GCBENCH_OFFLINE=1)", problems))
        if not entry.url:
            raise WeightsError(_missing_message(entry, "it was not found and has no download URL", problems))
        try:
            return download(entry)
        except WeightsError:
            raise
        except Exception as exc:
            raise WeightsError(_missing_message(entry, f"it was not found and the download failed ({exc})", problems)) from exc


def status(name: str) -> WeightStatus:
    """Where ``name`` would be found now; never downloads."""
    entry = get(name)
    path, problems = _find(entry)
    if path is not None:
        return WeightStatus(entry, "found", path)
    if problems:
        return WeightStatus(entry, "bad-hash", None, " ".join(problems))
    how = "downloads on first use" if entry.url and not offline() else f"put it in {target_dir()}"
    return WeightStatus(entry, "missing", None, how)


def statuses(names: Iterable[str] | None = None) -> list[WeightStatus]:
    """The status (found where, or missing and how to get it) of the given entries, or of all."""
    return [status(n) for n in (names if names is not None else [e.name for e in entries()])]


def install(name: str, source: str | Path, folder: Path | None = None) -> Path:
    """Copy a file the user obtained elsewhere into the weights folder after checking its hash."""
    entry = get(name)
    verify_file(source, entry.sha256)
    target = Path(folder or target_dir()) / entry.filename
    with atomic_path(target, suffix="-" + entry.filename) as tmp:
        shutil.copyfile(source, tmp)
    return target


@dataclass(frozen=True)
class Override:
    """A user-chosen file in place of a manifest entry (a stand-in, a fine-tuned trunk)."""

    path: Path
    sha256: str
    replaces: str

    @property
    def label(self) -> str:
        return f"unverified {self.path.name} (sha256 {self.sha256[:12]}) instead of {self.replaces}"


def describe_override(path: str | Path, replaces: str) -> Override:
    """Hash a user-given file that replaces manifest entry ``replaces``; raises if it is missing."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsError(f"{p}: no such file (given in place of the weights entry {replaces!r})")
    get(replaces)
    return Override(p.resolve(), file_sha256(p), replaces)


def identity_of(name: str, override: Override | None = None) -> str:
    """What results depend on: the manifest hash, or the override file's own hash."""
    if override is not None:
        return f"override:{override.sha256}"
    entry = get(name)
    return f"{entry.name}:{entry.sha256 or 'unhashed'}"


def weights_table(pattern: str | None = None) -> Any:
    """Every manifest entry with its status here, as a DataFrame (what ``gcbench weights`` prints)."""
    import fnmatch

    import pandas as pd

    rows = []
    for entry in entries():
        if pattern and not fnmatch.fnmatchcase(entry.name, pattern):
            continue
        st = status(entry.name)
        rows.append({
            "name": entry.name, "file": entry.filename, "status": st.state,
            "where": str(st.path) if st.path else st.detail, "used_by": ", ".join(entry.used_by),
            "sha256": entry.sha256 or "", "size": "" if entry.size is None else str(entry.size), "license": entry.license, "url": entry.url or "",
        })
    cols = ["name", "file", "status", "where", "used_by", "sha256", "size", "license", "url"]
    return pd.DataFrame(rows, columns=cols)
