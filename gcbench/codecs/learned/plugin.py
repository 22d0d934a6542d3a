"""The ``learned-plugin`` adapter: models that write their own bytes (``encode_bytes`` /
``decode_bytes``), with or without an entropy coder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gcbench.codecs import container
from gcbench.codecs.learned.model import ModelCodec
from gcbench.core.errors import CodecError, PluginError


class PluginCodec(ModelCodec):
    """A model that writes its own bytes: ``encode_bytes(x)`` and ``decode_bytes(data, shape)``.

    ``encode_bytes`` may return ``{"data": bytes, "bits_estimate": float}``: a model without an
    entropy coder stores its quantised latents as it likes and reports the bits its likelihoods
    promise; such rows say ``bpp_kind = "estimated"``.
    """

    protocol = "gcbench's byte protocol (encode_bytes/decode_bytes)"

    def check_protocol(self, cls: Any) -> None:
        missing = [m for m in ("encode_bytes", "decode_bytes") if not callable(getattr(cls, m, None))]
        if missing:
            raise PluginError(f"{self.model_target} does not follow {self.protocol}: it lacks {missing}")

    def after_load(self, model: Any) -> None:
        pass

    def compress(self, model: Any, x: Any) -> tuple[list[list[bytes]], Any, float | None]:
        out = model.encode_bytes(x)
        bits = None
        if isinstance(out, Mapping):
            if "data" not in out:
                raise CodecError(f"{type(model).__name__}.encode_bytes returned a dict without 'data'")
            bits = out.get("bits_estimate")
            bits = None if bits is None else float(bits)
            out = out["data"]
        if not isinstance(out, (bytes, bytearray)):
            raise CodecError(f"{type(model).__name__}.encode_bytes returned {type(out).__name__}, not bytes")
        return [[bytes(out)]], list(x.shape[-2:]), bits

    def decompress(self, model: Any, payload: container.Payload, padded: tuple[int, int]) -> Any:
        if len(payload.strings) != 1 or len(payload.strings[0]) != 1:
            raise CodecError("a plugin-model bitstream holds exactly one string")
        return model.decode_bytes(payload.strings[0][0], tuple(payload.shape))
