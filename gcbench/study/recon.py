"""Reconstructions and originals for a study, from what the results store kept.

The store holds every bitstream; the codec that decodes it is rebuilt from the spec recorded
with the run that produced it (so a codec whose spec file changed or moved still decodes as
it encoded), falling back to the registry when the spec hash matches. Originals are read
from the path recorded for the image (or a folder given instead) and checked against the
pixel hash stored with the task.
"""

from __future__ import annotations

import json
from dataclasses import fields
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
        self._specs: dict[tuple[str, str], dict[str, Any]] | None = None

    def _recorded_specs(self) -> dict[tuple[str, str], dict[str, Any]]:
        if self._specs is None:
            from gcbench.codecs.spec import CodecSpec

            self._specs = {}
            names = {f.name for f in fields(CodecSpec)}
            for row in self.store.query("SELECT config FROM runs ORDER BY run_id"):
                try:
                    config = json.loads(row["config"] or "{}")
                except json.JSONDecodeError:
                    continue
                for d in config.get("codec_specs", []):
                    raw = {k: v for k, v in d.items() if k in names}
                    try:
                        raw["settings"] = tuple(raw.get("settings", ()))
                        spec = CodecSpec(**raw)
                    except TypeError:
                        continue
                    self._specs[(spec.name, spec.spec_hash())] = spec
        return self._specs  # type: ignore[return-value]

    def codec(self, rec: Reconstruction) -> Any:
        slot = (rec.codec, rec.codec_spec_hash)
        codec = self._codecs.get(slot)
        if codec is not None:
            return codec
        from gcbench.codecs.spec import build_codec

        spec = self._recorded_specs().get(slot)
        if spec is None:
            from gcbench.codecs.registry import codecs as registry

            if rec.codec in registry:
                candidate = registry.get(rec.codec)
                if candidate.spec_hash() == rec.codec_spec_hash:
                    spec = candidate
        if spec is None:
            raise ConfigError(
                f"cannot rebuild codec {rec.codec!r} (spec {rec.codec_spec_hash}) to decode its stored bitstreams: "
                "the run's recorded spec is missing and the registered spec differs"
            )
        codec = build_codec(spec)
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
    row = store.query("SELECT path FROM images WHERE dataset=? AND name=?", (rec.dataset, rec.image))
    if row and row[0]["path"]:
        candidates.append(Path(row[0]["path"]))
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
