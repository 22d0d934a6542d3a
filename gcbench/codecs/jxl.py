"""JPEG XL through imagecodecs (libjxl).

The setting goes to the keyword named by option ``rate_kwarg``: ``"distance"`` (Butteraugli
distance, cjxl's ``-d``; the default) or ``"level"`` (quality 0–100, cjxl's ``-q``).
Option ``effort`` (1–9, default libjxl's 7) and ``numthreads`` pass through.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gcbench.codecs.base import Codec, as_rgb_uint8
from gcbench.core.availability import Availability, require_modules
from gcbench.core.errors import CodecError, ConfigError
from gcbench.core.settings import Setting


class JxlCodec(Codec):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        opts = dict(spec.options)
        self.rate_kwarg = str(opts.pop("rate_kwarg", "distance"))
        if self.rate_kwarg not in ("distance", "level"):
            raise ConfigError(f"codec {spec.name!r}: rate_kwarg must be 'distance' or 'level'")
        self.kwargs = opts

    def available(self) -> Availability:
        return require_modules("imagecodecs", extra="jxl")

    def versions(self) -> dict[str, str]:
        import imagecodecs

        return {"imagecodecs": imagecodecs.__version__, "libjxl": imagecodecs.jpegxl_version()}

    def encode(self, image: np.ndarray, setting: Setting, side: np.ndarray | None = None) -> bytes:
        import imagecodecs

        try:
            return bytes(imagecodecs.jpegxl_encode(image, **{self.rate_kwarg: setting}, **self.kwargs))
        except Exception as exc:  # noqa: BLE001 - imagecodecs raises its own error types
            raise CodecError(f"JPEG XL encoder failed at {self.rate_kwarg}={setting!r}: {exc}") from exc

    def decode(self, data: bytes, size: tuple[int, int] | None = None) -> np.ndarray:
        import imagecodecs

        try:
            out = imagecodecs.jpegxl_decode(data)
        except Exception as exc:  # noqa: BLE001
            raise CodecError(f"JPEG XL decoder failed: {exc}") from exc
        if out.ndim == 2:
            out = np.repeat(out[:, :, None], 3, axis=2)
        return as_rgb_uint8(out[:, :, :3])
