"""HEVC intra in a HEIF container (libheif + x265 through pillow-heif).

Spec options: ``chroma`` (420, 422 or 444) and ``save`` (further keywords of
``HeifFile.save``, e.g. ``enc_params``). The setting is libheif's quality (0–100).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from gcbench.codecs.base import Codec, as_rgb_uint8
from gcbench.core.availability import Availability, require_modules
from gcbench.core.errors import CodecError, ConfigError
from gcbench.core.settings import Setting


class HeifCodec(Codec):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.chroma = int(spec.options.get("chroma", 420))
        if self.chroma not in (420, 422, 444):
            raise ConfigError(f"codec {spec.name!r}: chroma must be 420, 422 or 444")
        self.save_kwargs = dict(spec.options.get("save", {}))

    def available(self) -> Availability:
        return require_modules("pillow_heif", extra="heif")

    def versions(self) -> dict[str, str]:
        import pillow_heif

        return {"pillow-heif": pillow_heif.__version__, "libheif": pillow_heif.libheif_version()}

    def encode(self, image: np.ndarray, setting: Setting, side: np.ndarray | None = None) -> bytes:
        import pillow_heif

        buf = io.BytesIO()
        try:
            heif = pillow_heif.from_bytes(mode="RGB", size=(image.shape[1], image.shape[0]), data=image.tobytes())
            heif.save(buf, quality=int(setting), chroma=self.chroma, **self.save_kwargs)
        except (ValueError, RuntimeError, OSError) as exc:
            raise CodecError(f"HEIF encoder failed at quality={setting!r}: {exc}") from exc
        return buf.getvalue()

    def decode(self, data: bytes, size: tuple[int, int] | None = None) -> np.ndarray:
        import pillow_heif

        try:
            heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
            if heif.mode != "RGB":

                return as_rgb_uint8(np.asarray(heif.to_pillow().convert("RGB")))
            return as_rgb_uint8(np.asarray(heif))
        except (ValueError, RuntimeError, OSError) as exc:
            raise CodecError(f"HEIF decoder failed: {exc}") from exc
