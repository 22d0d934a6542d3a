"""The learned-codec byte container: exact round trips, its documented layout, and a clear error
for every kind of damage."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gcbench.codecs.container import MAGIC, VERSION, Payload, pack, string_bytes, unpack
from gcbench.core.errors import CodecError

shapes = st.recursive(
    st.integers(min_value=-(2 ** 40), max_value=2 ** 40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=10,
)
payloads = st.builds(
    Payload,
    model=st.text(max_size=8),
    size=st.tuples(st.integers(1, 2 ** 20), st.integers(1, 2 ** 20)),
    strings=st.lists(st.lists(st.binary(max_size=300), max_size=3), max_size=3),
    shape=shapes,
)


@given(payloads)
@settings(max_examples=200, deadline=None)
def test_round_trip_is_exact(payload: Payload) -> None:
    assert unpack(pack(payload)) == payload


def test_layout_matches_the_documentation() -> None:
    # the format written out by hand: magic, version, tag, H, W, shape, groups, CRC-32
    p = Payload(model="3", size=(512, 768), strings=[[b"\x01\x02\x03"], [b"zz"]], shape=[8, 12])
    body = bytearray(MAGIC) + bytes([VERSION])
    body += bytes([1]) + b"3"                       # model tag
    body += bytes([0x80, 0x04]) + bytes([0x80, 0x06])  # 512, 768 as LEB128
    body += bytes([1, 2, 0, 16, 0, 24])             # list of two ints (zigzag 8 → 16, 12 → 24)
    body += bytes([2, 1, 3]) + b"\x01\x02\x03" + bytes([1, 2]) + b"zz"
    body += struct.pack(">I", zlib.crc32(body))
    assert pack(p) == bytes(body)
    assert string_bytes(p) == 5
    assert len(pack(p)) - string_bytes(p) == 26  # the whole overhead of this container


def test_torch_size_and_numpy_ints_are_accepted() -> None:
    import numpy as np
    import torch

    p = Payload("1", (5, 7), [[b"a"]], shape=torch.Size([3, 4]))
    assert unpack(pack(p)).shape == [3, 4]
    q = Payload("1", (5, 7), [[b"a"]], shape={"y": [np.int64(2), np.int32(9)]})
    assert unpack(pack(q)).shape == {"y": [2, 9]}


@pytest.mark.parametrize("bad", [[1.5], ["x"], [True], {1: 2}, [b"ab"]])
def test_unwritable_shapes_are_codec_errors(bad: object) -> None:
    with pytest.raises(CodecError, match="cannot write"):
        pack(Payload("1", (5, 7), [[b"a"]], shape=bad))


def test_strings_must_be_lists_of_bytes() -> None:
    with pytest.raises(CodecError, match="list of lists"):
        pack(Payload("1", (5, 7), [b"abc"], shape=[]))  # type: ignore[list-item]
    with pytest.raises(CodecError, match="not bytes"):
        pack(Payload("1", (5, 7), [["abc"]], shape=[]))  # type: ignore[list-item]


GOOD = pack(Payload(model="7", size=(64, 96), strings=[[bytes(range(200))], [b"hyper"]], shape=[1, 2]))


def test_every_single_byte_flip_is_detected() -> None:
    for i in range(len(GOOD)):
        for bit in (0, 3, 7):
            damaged = bytearray(GOOD)
            damaged[i] ^= 1 << bit
            with pytest.raises(CodecError):
                unpack(bytes(damaged))


def test_every_truncation_is_detected() -> None:
    for n in range(len(GOOD)):
        with pytest.raises(CodecError):
            unpack(GOOD[:n])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "not a gcbench learned-codec bitstream"),
        (b"GC", "too short"),
        (MAGIC + bytes([99]) + b"\0" * 10, "version 99 is not supported"),
        (GOOD[:-1] + bytes([GOOD[-1] ^ 1]), "CRC-32 mismatch"),
        (GOOD + b"\0", "CRC-32 mismatch"),
    ],
)
def test_messages_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        unpack(data)


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


def test_lengths_beyond_the_data_are_refused_without_allocating() -> None:
    # a well-formed CRC around a header that claims 2**60 string groups
    body = bytearray(MAGIC) + bytes([VERSION, 0, 5, 5, 1, 0])
    body += bytes([0x80] * 8 + [0x10])  # varint 2**60
    with pytest.raises(CodecError, match="more than the 0 bytes left"):
        unpack(_with_crc(bytes(body)))


def test_trailing_bytes_inside_the_checksum_are_refused() -> None:
    body = pack(Payload("1", (3, 3), [], shape=[]))[:-4] + b"\0\0"
    with pytest.raises(CodecError, match="unexpected bytes after the last string"):
        unpack(_with_crc(body))


def test_zero_image_size_is_refused() -> None:
    body = bytearray(MAGIC) + bytes([VERSION, 0, 0, 5, 1, 0, 0])
    with pytest.raises(CodecError, match="empty"):
        unpack(_with_crc(bytes(body)))
