"""A self-describing byte container for learned-codec bitstreams.

A learned model's ``compress`` gives entropy-coded strings (one list per latent, one string per
batch item) and the latent shape its ``decompress`` needs; the receiver also needs the original
image size to crop the padding away. This module writes all of that into one byte string, so the
bitstream on disk is exactly what a receiver needs and bpp counts every byte of it::

    offset  field
    0       magic  b"GCBC"
    4       version (1 byte), currently 1
    5       model tag: length, UTF-8 text (which of the codec's models made it: its setting)
    .       height, width of the original image           (unsigned LEB128 varints)
    .       shape: a tree of ints, lists and str-keyed dicts (tag byte, then contents)
    .       number of string groups; for each: number of strings; for each: length, bytes
    -4      CRC-32 of every byte before it (big-endian)

Varints keep the overhead at about 30 bytes for a typical image (0.0006 bpp on a Kodak image). The
CRC-32 makes a damaged file a clear :class:`~gcbench.core.errors.CodecError` instead of an entropy
decoder quietly producing a wrong image; every length is checked against the bytes that are
left, so no input makes the parser allocate more than the input's size.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gcbench.core.errors import CodecError

MAGIC = b"GCBC"
VERSION = 1
_CRC = struct.Struct(">I")

# shape tree tags
_INT, _LIST, _DICT = 0, 1, 2
_MAX_DEPTH = 8  # shapes are shallow (CompressAI: a list of two ints, or a dict of those)


@dataclass(frozen=True)
class Payload:
    """What a learned codec stores: model tag, original size, latent shape(s), entropy-coded strings."""

    model: str  # the setting whose model wrote it: the decoder has no other way to know
    size: tuple[int, int]  # original image (H, W), for cropping the padded reconstruction
    strings: list[list[bytes]]
    shape: Any = field(default_factory=list)  # ints, lists and dicts with str keys, as the model gave them


# -- writing -----------------------------------------------------------------------------------


def _varint(value: int, out: bytearray) -> None:
    if value < 0:
        raise ValueError(f"varint cannot hold a negative number ({value})")
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _zigzag(value: int) -> int:
    return value * 2 if value >= 0 else -value * 2 - 1


def _write_shape(node: Any, out: bytearray, depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        raise ValueError(f"shape is nested deeper than {_MAX_DEPTH} levels")
    if isinstance(node, bool):
        raise TypeError(f"shape values must be integers, got {node!r}")
    if isinstance(node, int) or _is_int_like(node):
        out.append(_INT)
        _varint(_zigzag(int(node)), out)
    elif isinstance(node, dict):
        out.append(_DICT)
        _varint(len(node), out)
        for key, value in node.items():
            if not isinstance(key, str):
                raise TypeError(f"shape dict keys must be strings, got {key!r}")
            raw = key.encode("utf-8")
            _varint(len(raw), out)
            out += raw
            _write_shape(value, out, depth + 1)
    elif isinstance(node, Sequence) and not isinstance(node, (str, bytes, bytearray)):
        out.append(_LIST)
        _varint(len(node), out)
        for value in node:
            _write_shape(value, out, depth + 1)
    else:
        raise TypeError(f"shape must hold ints, lists and str-keyed dicts, got {type(node).__name__}: {node!r}")


def _is_int_like(node: Any) -> bool:
    # numpy integers and 0-d integer tensors carry __index__
    return hasattr(node, "__index__") and not isinstance(node, (str, bytes, bytearray, Sequence, dict))


def pack(payload: Payload) -> bytes:
    """The container bytes of ``payload``."""
    height, width = payload.size
    out = bytearray(MAGIC)
    out.append(VERSION)
    tag = payload.model.encode("utf-8")
    _varint(len(tag), out)
    out += tag
    try:
        _varint(int(height), out)
        _varint(int(width), out)
        _write_shape(payload.shape, out)
    except (TypeError, ValueError) as exc:
        raise CodecError(f"cannot write the bitstream container: {exc}") from exc
    _varint(len(payload.strings), out)
    for group in payload.strings:
        if isinstance(group, (bytes, bytearray)):
            raise CodecError("cannot write the bitstream container: strings must be a list of lists of bytes")
        _varint(len(group), out)
        for s in group:
            if not isinstance(s, (bytes, bytearray)):
                raise CodecError(f"cannot write the bitstream container: a string is {type(s).__name__}, not bytes")
            _varint(len(s), out)
            out += s
    out += _CRC.pack(zlib.crc32(out) & 0xFFFFFFFF)
    return bytes(out)


def string_bytes(payload: Payload) -> int:
    """Bytes of the entropy-coded strings alone (what CompressAI's own evaluation counts)."""
    return sum(len(s) for group in payload.strings for s in group)


# -- reading -----------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes, end: int) -> None:
        self.data = data
        self.pos = 0
        self.end = end

    def fail(self, what: str) -> CodecError:
        return CodecError(f"corrupted bitstream: {what} (at byte {self.pos} of {self.end + _CRC.size})")

    def byte(self, what: str) -> int:
        if self.pos >= self.end:
            raise self.fail(f"truncated while reading {what}")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self, what: str) -> int:
        value = shift = 0
        for _ in range(10):
            byte = self.byte(what)
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
        raise self.fail(f"{what} is not a valid varint")

    def count(self, what: str, min_item_bytes: int = 1) -> int:
        n = self.varint(what)
        if n * min_item_bytes > self.end - self.pos:
            raise self.fail(f"{what} says {n}, more than the {self.end - self.pos} bytes left")
        return n

    def take(self, n: int, what: str) -> bytes:
        if n > self.end - self.pos:
            raise self.fail(f"{what} needs {n} bytes, only {self.end - self.pos} are left")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def shape(self, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise self.fail(f"shape nested deeper than {_MAX_DEPTH} levels")
        tag = self.byte("a shape tag")
        if tag == _INT:
            z = self.varint("a shape value")
            return z >> 1 if not z & 1 else -((z + 1) >> 1)
        if tag == _LIST:
            return [self.shape(depth + 1) for _ in range(self.count("a shape list length"))]
        if tag == _DICT:
            out = {}
            for _ in range(self.count("a shape dict size", 2)):
                raw = self.take(self.varint("a shape key length"), "a shape key")
                try:
                    key = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise self.fail("a shape key is not UTF-8") from exc
                out[key] = self.shape(depth + 1)
            return out
        raise self.fail(f"unknown shape tag {tag}")


def unpack(data: bytes) -> Payload:
    """Parse container bytes; any damage raises CodecError saying what is wrong."""
    data = bytes(data)
    if len(data) < len(MAGIC) + 1 + _CRC.size:
        raise CodecError(f"corrupted bitstream: {len(data)} bytes is too short for a gcbench learned-codec container")
    if data[:len(MAGIC)] != MAGIC:
        raise CodecError(
            f"not a gcbench learned-codec bitstream: it starts with {data[:len(MAGIC)]!r}, expected {MAGIC!r}"
        )
    version = data[len(MAGIC)]
    if version != VERSION:
        raise CodecError(f"bitstream container version {version} is not supported (this gcbench reads version {VERSION})")
    end = len(data) - _CRC.size
    (stored,) = _CRC.unpack(data[end:])
    actual = zlib.crc32(data[:end]) & 0xFFFFFFFF
    if stored != actual:
        raise CodecError(
            f"corrupted bitstream: CRC-32 mismatch (stored {stored:08x}, computed {actual:08x}); "
            "the file was damaged after encoding"
        )
    r = _Reader(data, end)
    r.pos = len(MAGIC) + 1
    raw = r.take(r.varint("the model tag length"), "the model tag")
    try:
        model = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise r.fail("the model tag is not UTF-8") from exc
    height = r.varint("the image height")
    width = r.varint("the image width")
    if height < 1 or width < 1:
        raise r.fail(f"image size {width}×{height} is empty")
    shape = r.shape()
    groups = []
    for _ in range(r.count("the number of string groups")):
        group = []
        for _ in range(r.count("the number of strings in a group")):
            group.append(r.take(r.varint("a string length"), "a string"))
        groups.append(group)
    if r.pos != end:
        raise r.fail(f"{end - r.pos} unexpected bytes after the last string")
    return Payload(model=model, size=(height, width), strings=groups, shape=shape)


__all__ = ["MAGIC", "VERSION", "Payload", "pack", "string_bytes", "unpack"]
