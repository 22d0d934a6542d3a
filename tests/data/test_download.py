"""Resumable, verified downloads (gcbench.data.download) against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from range_server import range_server

from gcbench.core.errors import DatasetError
from gcbench.data.download import fetch, partial_path


def _payload(n: int = 3 << 20) -> bytes:
    return np.random.default_rng(7).integers(0, 256, n, dtype=np.uint8).tobytes()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_cut_download_is_kept_and_resumed_with_a_range_request(tmp_path: Path) -> None:
    body = _payload()
    target = tmp_path / "big.bin"
    with range_server() as srv:
        srv.files["/big.bin"] = body
        srv.cut_once.add("/big.bin")
        with pytest.raises(DatasetError, match=r"big\.bin .* stopped at .* run the same command again to resume"):
            fetch(srv.url("/big.bin"), target, sha256=_sha(body), size=len(body), progress=False, retries=0)
        kept = partial_path(target).stat().st_size
        assert 0 < kept < len(body) and not target.exists()  # the bytes stay, nothing at the target yet

        assert fetch(srv.url("/big.bin"), target, sha256=_sha(body), size=len(body), progress=False) == target
        assert srv.log[-1] == ("/big.bin", f"bytes={kept}-")  # only the rest was asked for
    assert target.read_bytes() == body and not partial_path(target).exists()


def test_a_cut_is_retried_in_the_same_call(tmp_path: Path) -> None:
    body = _payload()
    with range_server() as srv:
        srv.files["/f.bin"] = body
        srv.cut_once.add("/f.bin")
        fetch(srv.url("/f.bin"), tmp_path / "f.bin", sha256=_sha(body), progress=False)
        assert [r for _, r in srv.log][0] is None and srv.log[1][1].startswith("bytes=")
    assert (tmp_path / "f.bin").read_bytes() == body


def test_a_wrong_checksum_is_refused_naming_the_file_and_nothing_is_kept(tmp_path: Path) -> None:
    body = _payload(1 << 16)
    wrong = _sha(b"something else")
    with range_server() as srv:
        srv.files["/data.zip"] = body
        with pytest.raises(DatasetError, match=rf"data\.zip: SHA-256 {_sha(body)} differs from the manifest's {wrong}"):
            fetch(srv.url("/data.zip"), tmp_path / "data.zip", sha256=wrong, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_size_is_refused_before_hashing(tmp_path: Path) -> None:
    with range_server() as srv:
        srv.files["/s.bin"] = b"12345"
        with pytest.raises(DatasetError, match=r"s\.bin: 5 bytes, the manifest says 6"):
            fetch(srv.url("/s.bin"), tmp_path / "s.bin", size=6, progress=False)


def test_a_verified_file_is_not_fetched_again_and_a_damaged_one_is(tmp_path: Path) -> None:
    body = _payload(1 << 15)
    target = tmp_path / "x.bin"
    with range_server() as srv:
        srv.files["/x.bin"] = body
        fetch(srv.url("/x.bin"), target, sha256=_sha(body), progress=False)
        fetch(srv.url("/x.bin"), target, sha256=_sha(body), progress=False)
        assert len(srv.log) == 1
        target.write_bytes(b"damaged")
        fetch(srv.url("/x.bin"), target, sha256=_sha(body), progress=False)
        assert len(srv.log) == 2 and target.read_bytes() == body


def test_a_server_that_ignores_the_range_is_read_from_the_start(tmp_path: Path) -> None:
    body = _payload(1 << 16)
    target = tmp_path / "r.bin"
    partial_path(target).write_bytes(body[:100])
    with range_server() as srv:
        srv.files["/r.bin"] = body
        srv.ignore_range.add("/r.bin")
        fetch(srv.url("/r.bin"), target, sha256=_sha(body), progress=False)
        assert srv.log == [("/r.bin", "bytes=100-")]  # asked for the rest, got everything: no bytes doubled
    assert target.read_bytes() == body


def test_stale_partial_bytes_that_fail_the_checksum_are_fetched_once_more_from_scratch(tmp_path: Path) -> None:
    body = _payload(1 << 16)
    target = tmp_path / "s.bin"
    partial_path(target).write_bytes(b"x" * 100)  # left by an older version of the file
    with range_server() as srv:
        srv.files["/s.bin"] = body
        fetch(srv.url("/s.bin"), target, sha256=_sha(body), progress=False)
        assert srv.log == [("/s.bin", "bytes=100-"), ("/s.bin", None)]
    assert target.read_bytes() == body


def test_missing_file_and_refused_connection_are_clear_errors(tmp_path: Path) -> None:
    with range_server() as srv:
        with pytest.raises(DatasetError, match=r"cannot download nothing\.zip from .*404"):
            fetch(srv.url("/nothing.zip"), tmp_path / "nothing.zip", progress=False)
        url = srv.url("/gone.zip")
    with pytest.raises(DatasetError, match=r"cannot download gone\.zip"):
        fetch(url, tmp_path / "gone.zip", progress=False, timeout=5)  # the server is stopped now
