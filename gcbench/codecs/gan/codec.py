"""The ``gan`` codec adapter: an architecture of the zoo with real weights, or random ones for timing.

Spec options (besides those of :class:`gcbench.codecs.learned.codec.LearnedCodec`):

- ``architecture``: a zoo name (``hific``, ``agustsson2019``, ``pix2pixhd-global``, ``fgc-updown``,
  ``fgc-dense-N-k``);
- ``kwargs``: constructor arguments of the architecture (``latent_features``, ``channels``, …);
- ``weights = "msillm"``: the published MS-ILLM checkpoints (HiFiC architecture, setting =
  quality 1–6), resolved through :mod:`gcbench.weights`.

Without a checkpoint, a weights source or ``random_weights`` the codec says it is unavailable and
why; it never runs on weights nobody trained unless asked to. Padding follows NeuralCompression
(reflect, bottom-right) to the architecture's own multiple (64 for HiFiC, 16 for GC, pix2pixHD's G1
and Dense-N-k, 32 for the Extra-Layer variant of G1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gcbench.codecs.gan import zoo
from gcbench.codecs.gan.neuralcompression import msillm_weights, neuralcompression_payload_bytes
from gcbench.codecs.learned.codec import LearnedCodec
from gcbench.core.availability import Availability
from gcbench.core.errors import CodecError, ConfigError


class GanCodec(LearnedCodec):
    required_modules = ("torch", "compressai")
    library_dists = ("torch", "compressai")
    default_pad_mode = "reflect"
    default_pad_align = "bottom-right"

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        o = spec.options
        self.architecture = str(o.get("architecture", ""))
        self.arch = zoo.get(self.architecture)  # raises with suggestions on an unknown name
        kwargs = o.get("kwargs", {})
        if not isinstance(kwargs, Mapping):
            raise ConfigError(f"codec {spec.name!r}: option kwargs must be a table")
        self.kwargs = dict(kwargs)
        self.weights_source = str(o.get("weights", ""))
        if self.weights_source not in ("", "msillm"):
            raise ConfigError(f"codec {spec.name!r}: weights must be 'msillm' or empty, got {self.weights_source!r}")
        if self.weights_source == "msillm" and self.architecture != "hific":
            raise ConfigError(f"codec {spec.name!r}: the MS-ILLM weights are for the hific architecture")

    def available(self) -> Availability:
        if not (self.random_weights or self.checkpoint is not None or self.weights_source):
            return Availability(
                False, f"{self.architecture} has no trained weights here",
                f"give a checkpoint (--codec-option {self.name}.checkpoint=PATH --codec-option "
                f"{self.name}.sha256=HEX), or --random-weights to time the untrained architecture",
            )
        return super().available()

    def versions(self) -> dict[str, str]:
        return {**super().versions(), "architecture": self.architecture}

    def default_weights_identity(self) -> str:
        return "MS-ILLM published checkpoints" if self.weights_source == "msillm" else "none"

    def payload_bytes(self, strings: list[list[bytes]], shape: Any, size: tuple[int, int],
                      padded: tuple[int, int]) -> int:
        """NeuralCompression's count (its evaluation pickles the HiFiC output) for architectures that
        code a latent and a hyper-latent as HiFiC does; the strings alone for the others."""
        if len(strings) == 2:
            return neuralcompression_payload_bytes(strings[0], strings[1], size, padded)
        return super().payload_bytes(strings, shape, size, padded)

    def build_model(self, setting: str) -> Any:
        try:
            return self.arch.build(**self.kwargs)
        except TypeError as exc:
            raise ConfigError(f"codec {self.name!r}: {self.architecture} does not take these kwargs: {exc}") from exc

    def default_weights(self, setting: str) -> tuple[dict[str, Any], str]:
        if self.weights_source == "msillm":
            return msillm_weights(setting)
        return super().default_weights(setting)

    def preflight(self, settings: list[Any]) -> None:
        """The published MS-ILLM files the run needs are found (or downloaded) before any work."""
        if self.weights_source != "msillm" or self.random_weights or self.checkpoint is not None:
            return
        from gcbench import weights
        from gcbench.codecs.gan.neuralcompression import register_msillm_weights
        from gcbench.core.settings import format_setting

        for setting in settings:
            text = format_setting(setting)
            if not text.isdigit():
                raise CodecError(f"MS-ILLM qualities are whole numbers, not {text!r}")
            weights.resolve(register_msillm_weights(int(text), self.name))
