"""HTTP downloads that survive a cut connection and are never used unverified.

:func:`fetch` writes into ``<target>.partial`` beside the target. A connection that drops midway
leaves that file in place; the next attempt (an automatic retry, or the same command run again
later) asks the server for the rest with an HTTP ``Range`` request instead of starting over. Only
when the whole file is there are its size and SHA-256 checked against the manifest; a mismatch
deletes the partial file and raises, naming the file. The target appears (renamed) only once
verified, so a file at the target path is always a complete, checked one.
"""

from __future__ import annotations

import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from gcbench.core.errors import DatasetError
from gcbench.data.images import file_sha256

CHUNK = 1 << 20
PARTIAL_SUFFIX = ".partial"
USER_AGENT = "gcbench (dataset download)"


class CutDownload(OSError):
    """The connection ended before the whole file arrived; the partial file is kept."""


def partial_path(target: Path) -> Path:
    """Where the bytes of an unfinished download of ``target`` are kept."""
    return target.with_name(target.name + PARTIAL_SUFFIX)


def check_file(path: Path, *, name: str, sha256: str | None, size: int | None) -> None:
    """Raise DatasetError naming ``name`` unless ``path`` has the expected size and SHA-256."""
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        raise DatasetError(f"{name}: {actual_size:,} bytes, the manifest says {size:,}")
    if sha256:
        actual = file_sha256(path)
        if actual != sha256.lower():
            raise DatasetError(f"{name}: SHA-256 {actual} differs from the manifest's {sha256.lower()} "
                               "(a damaged or different file)")


def fetch(url: str, target: str | Path, *, sha256: str | None = None, size: int | None = None,
          progress: bool = True, timeout: float = 60.0, retries: int = 3) -> Path:
    """Download ``url`` to ``target``, resuming a cut transfer, checked against size and SHA-256.

    A target already present with the right checksum is kept as it is. ``retries`` further
    attempts are made while each one brings new bytes; a refused connection is not retried.
    Raises DatasetError (the file named) on a checksum mismatch, after deleting the bytes.
    """
    target = Path(target)
    if target.is_file():
        try:
            check_file(target, name=target.name, sha256=sha256, size=size)
            return target
        except DatasetError:
            pass  # a stale or damaged copy: fetched again, replaced only once the new one is verified
    target.parent.mkdir(parents=True, exist_ok=True)
    part = partial_path(target)
    resumed = part.exists()  # bytes from an earlier call: they may belong to an older file
    while True:
        _transfer_with_retries(url, part, size=size, progress=progress, timeout=timeout, retries=retries,
                               label=target.name)
        try:
            check_file(part, name=target.name, sha256=sha256, size=size)
            break
        except DatasetError as exc:
            part.unlink()
            if resumed:  # once more from scratch before calling the file wrong
                resumed = False
                continue
            raise DatasetError(f"{exc}; downloaded from {url}, deleted") from None
    os.replace(part, target)
    return target


def _transfer_with_retries(url: str, part: Path, *, size: int | None, progress: bool, timeout: float,
                           retries: int, label: str) -> None:
    """Transfer into ``part``, retrying a cut connection while each attempt brings new bytes."""
    attempt = 0
    while True:
        before = part.stat().st_size if part.exists() else 0
        try:
            _transfer(url, part, size=size, progress=progress, timeout=timeout, label=label)
            return
        except (CutDownload, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
            got = part.stat().st_size if part.exists() else 0
            attempt += 1
            if got <= before or attempt > retries:  # no progress, or out of retries: stop, keep the bytes
                raise DatasetError(f"download of {label} from {url} stopped at {got:,} bytes ({exc}); "
                                   "run the same command again to resume") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise DatasetError(f"cannot download {label} from {url}: {exc}") from exc


def _open(url: str, offset: int, timeout: float) -> tuple[http.client.HTTPResponse | None, int]:
    """The response for the bytes from ``offset`` on, and the offset the server honoured."""
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - manifest URLs
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing left to send: the partial file is whole
            exc.close()
            return None, offset
        raise
    if offset and resp.status != 206:  # the server ignored the range: start over
        return resp, 0
    return resp, offset


def _transfer(url: str, part: Path, *, size: int | None, progress: bool, timeout: float, label: str) -> None:
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:
        have = 0  # longer than the file can be: not ours to continue
    resp, start = _open(url, have, timeout)
    if resp is None:
        return
    from tqdm import tqdm

    with resp:
        length = resp.headers.get("Content-Length")
        expected = int(length) if length is not None else None
        total = size if size is not None else (start + expected if expected is not None else None)
        received = 0
        with open(part, "r+b" if start else "wb") as out, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
            disable=not progress, file=sys.stderr, mininterval=0.5, dynamic_ncols=True,
        ) as bar:
            out.seek(start)
            out.truncate()
            while chunk := resp.read(CHUNK):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if expected is not None and received < expected:
        raise CutDownload(f"connection closed after {start + received:,} of {start + expected:,} bytes")
