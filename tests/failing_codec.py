"""A test codec that fails on purpose (importable as ``failing_codec:FailingCodec``)."""

from __future__ import annotations

import io
import os
import signal

import numpy as np
from PIL import Image

from gcbench.codecs.base import Codec
from gcbench.core.errors import CodecError


class FailingCodec(Codec):
    """PNG, but setting 'encode-error' fails to encode, 'decode-error' fails to decode,
    'wrong-size' decodes to another size, 'empty' writes nothing, 'crash' kills the worker."""

    def encode(self, image, setting, side=None):
        if setting == "encode-error":
            raise CodecError("encoder refused this image")
        if setting == "empty":
            return b""
        if setting == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        if setting == "boom":
            raise ZeroDivisionError("unexpected bug")
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "PNG")
        marker = {"decode-error": b"D", "wrong-size": b"W"}.get(str(setting), b"P")
        return marker + buf.getvalue()

    def decode(self, data, size=None):
        if data[:1] == b"D":
            raise CodecError("decoder refused this bitstream")
        rec = np.asarray(Image.open(io.BytesIO(data[1:])).convert("RGB"))
        if data[:1] == b"W":
            rec = rec[:-1]
        return rec
