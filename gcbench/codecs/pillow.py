"""Codecs Pillow writes itself: JPEG (libjpeg-turbo), WebP, JPEG 2000 (OpenJPEG), AVIF (libavif).

Spec options:

- ``format``: Pillow's format name (``"JPEG"``, ``"WEBP"``, ``"JPEG2000"``, ``"AVIF"``).
- ``rate_kwarg``: the ``Image.save`` keyword the setting goes to (default ``"quality"``).
- ``rate_as_list``: pass the setting as a one-element list (JPEG 2000's ``quality_layers``).
- ``save``: a table of further ``Image.save`` keywords, passed as they are.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from gcbench.codecs.base import Codec, as_rgb_uint8
from gcbench.core.availability import OK, Availability
from gcbench.core.errors import CodecError, ConfigError
from gcbench.core.settings import Setting

# Pillow's feature names and the library each format is written by.
_FEATURES = {"JPEG": "jpg", "WEBP": "webp", "JPEG2000": "jpg_2000", "AVIF": "avif", "PNG": "zlib"}
# Library name → Pillow feature whose version it is, recorded on every row.
_LIBRARIES = {
    "JPEG": {"libjpeg-turbo": "libjpeg_turbo", "libjpeg API": "jpg"},
    "WEBP": {"libwebp": "webp"},
    "JPEG2000": {"openjpeg": "jpg_2000"},
    "AVIF": {"libavif": "avif"},
    "PNG": {"zlib": "zlib"},
}


class PillowCodec(Codec):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        opts = spec.options
        self.format = str(opts.get("format", "")).upper()
        if self.format not in _FEATURES:
            raise ConfigError(f"codec {spec.name!r}: option format must be one of {sorted(_FEATURES)}, got {self.format!r}")
        self.rate_kwarg = str(opts.get("rate_kwarg", "quality"))
        self.rate_as_list = bool(opts.get("rate_as_list", False))
        save = opts.get("save", {})
        if not isinstance(save, dict):
            raise ConfigError(f"codec {spec.name!r}: option 'save' must be a table")
        self.save_kwargs: dict[str, Any] = dict(save)

    def available(self) -> Availability:
        from PIL import features

        feature = _FEATURES[self.format]
        if features.check(feature):
            return OK
        return Availability(False, f"this Pillow was built without {feature}", "pip install --upgrade pillow")

    def versions(self) -> dict[str, str]:
        import PIL
        from PIL import features

        out = {"Pillow": PIL.__version__}
        for library, feature in _LIBRARIES[self.format].items():
            found = features.version(feature)
            if found:
                out[library] = str(found)
        return out

    def encode(self, image: np.ndarray, setting: Setting, side: np.ndarray | None = None) -> bytes:
        from PIL import Image

        kwargs = dict(self.save_kwargs)
        kwargs[self.rate_kwarg] = [setting] if self.rate_as_list else setting
        buf = io.BytesIO()
        try:
            Image.fromarray(image, "RGB").save(buf, self.format, **kwargs)
        except (ValueError, OSError, TypeError) as exc:
            raise CodecError(f"{self.format} encoder failed at {self.rate_param}={setting!r}: {exc}") from exc
        return buf.getvalue()

    def decode(self, data: bytes, size: tuple[int, int] | None = None) -> np.ndarray:
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                rgb = im.convert("RGB") if im.mode != "RGB" else im
                return as_rgb_uint8(np.asarray(rgb))
        except (OSError, ValueError, SyntaxError) as exc:
            raise CodecError(f"{self.format} decoder failed: {exc}") from exc
