"""Reconstructions and originals for a study, from what the results store kept.

The store holds every bitstream; the codec that decodes it is rebuilt from the spec recorded
with the run that produced it, falling back to the registry when the spec hash matches
(:func:`gcbench.results.stored_codecs.stored_codec`). Originals are read
from the path recorded for the image (or a folder given instead) and checked against the
pixel hash stored with the task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gcbench.core.errors import CodecError, ConfigError, GcbenchError, ImageLoadError
from gcbench.study.selection import Reconstruction


class Decoders:
    """Codec instances by (name, spec hash), rebuilt once."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._codecs: dict[tuple[str, str], Any] = {}
        self._specs: dict[tuple[str, str], Any] | None = None

    def codec(self, rec: Reconstruction) -> Any:
        slot = (rec.codec, rec.codec_spec_hash)
        codec = self._codecs.get(slot)
        if codec is not None:
            return codec
        from gcbench.codecs.spec import build_codec
        from gcbench.results.stored_codecs import recorded_specs, stored_codec

        if self._specs is None:
            self._specs = recorded_specs(self.store.runs())
        codec = build_codec(stored_codec(self._specs, rec.codec, rec.codec_spec_hash))
        avail = codec.available()
        if not avail:
            raise ConfigError(f"codec {rec.codec!r} cannot decode here: {avail.reason}" + (f" ({avail.hint})" if avail.hint else ""))
        codec.prepare()
        self._codecs[slot] = codec
        return codec

    def decode(self, rec: Reconstruction) -> np.ndarray:
        from gcbench.codecs.base import as_rgb_uint8

        path = self.store.bitstream_path(rec.key)
        if not path.is_file():
            raise GcbenchError(f"bitstream of {rec.codec} {rec.setting} on {rec.image} is missing ({path}); "
                               "run the same `gcbench run` again to recreate it")
        data = path.read_bytes()
        try:
            image = as_rgb_uint8(self.codec(rec).decode(data, (rec.height, rec.width)))
        except CodecError as exc:
            raise GcbenchError(f"decoding {rec.codec} {rec.setting} on {rec.image} failed: {exc}") from exc
        if image.shape != (rec.height, rec.width, 3):
            raise GcbenchError(f"{rec.codec} {rec.setting} on {rec.image} decoded to {image.shape}, "
                               f"expected {(rec.height, rec.width, 3)}")
        return image


def load_original(store: Any, rec: Reconstruction, originals: str | Path | None = None) -> np.ndarray:
    """The original image of a task, checked against the hash stored with it."""
    from gcbench.data.images import load_image

    candidates: list[Path] = []
    if originals is not None:
        candidates.append(Path(originals) / rec.image)
    recorded = [i.path for i in store.images() if i.dataset == rec.dataset and i.name == rec.image and i.path]
    candidates += [Path(p) for p in recorded]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            loaded = load_image(path)
        except ImageLoadError:
            continue
        if loaded.sha256 == rec.image_sha256:
            return loaded.array
        raise GcbenchError(f"{path} is not the image the codecs were run on (its pixels changed); "
                           "give the folder of the original images with --originals")
    looked = ", ".join(str(p) for p in candidates) or "nowhere recorded"
    raise GcbenchError(f"original of image {rec.image!r} not found (looked at {looked}); "
                       "give the folder that holds the dataset's images with --originals")
