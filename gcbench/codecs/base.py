"""The codec interface every adapter implements.

An image is a ``numpy.uint8`` array H×W×3 in RGB; a bitstream is the exact bytes a receiver
needs (container and headers included). ``decode`` receives the original size so that an
adapter whose decoder writes headerless output (raw YUV) can read it and crop padding; a
decoded image of another size is an error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from gcbench.core.availability import OK, Availability
from gcbench.core.settings import Setting

if TYPE_CHECKING:
    from gcbench.codecs.spec import CodecSpec


@dataclass
class Encoded:
    """What an encoder may return instead of plain bytes.

    ``bits_estimate`` is set by models without an entropy coder: then bpp is computed from it
    and the row says ``bpp_kind = "estimated"``. ``info`` lands in the row's provenance.

    ``payload_bytes`` is the part of ``data`` that the codec's own evaluation counts, when that
    differs from the file: for learned codecs the entropy-coded strings without gcbench's
    container (CompressAI's count), or NeuralCompression's pickled payload for MS-ILLM/HiFiC.
    None for classical codecs, whose file is the payload. ``bpp`` always counts ``data``.
    """

    data: bytes
    bits_estimate: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    payload_bytes: int | None = None


class Codec(ABC):
    """Base class of all codec adapters. Subclasses are small: they read their spec's options."""

    #: whether ``encode`` uses a per-image side input (RoI or quality map)
    uses_side_input: ClassVar[bool] = False

    def __init__(self, spec: CodecSpec) -> None:
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def rate_param(self) -> str:
        return self.spec.rate_param

    def settings(self) -> list[Setting]:
        """The default sweep from the spec."""
        return list(self.spec.settings)

    def available(self) -> Availability:
        return OK

    def versions(self) -> dict[str, str]:
        """Library/binary versions; recorded on every row and part of the task key."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Provenance common to every row of this codec."""
        return {"adapter": self.spec.adapter, "options": dict(self.spec.options), "versions": self.versions()}

    def prepare(self) -> None:
        """Called once per worker before the first task (load models, probe binaries)."""

    def preflight(self, settings: list[Setting]) -> None:
        """Called once in the main process before any work: raise if a setting cannot run here
        (a pretrained file that is missing offline), so the run fails before it starts."""

    @abstractmethod
    def encode(self, image: np.ndarray, setting: Setting, side: np.ndarray | None = None) -> bytes | Encoded:
        """Compress one RGB uint8 image at one setting."""

    @abstractmethod
    def decode(self, data: bytes, size: tuple[int, int] | None = None) -> np.ndarray:
        """Reconstruct an RGB uint8 image from the bitstream alone (``size`` = original H, W)."""


def as_rgb_uint8(array: np.ndarray, what: str = "decoded image") -> np.ndarray:
    """Check and normalise a decoder's output to a contiguous H×W×3 uint8 array."""
    from gcbench.core.errors import CodecError

    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise CodecError(f"{what} has dtype {array.dtype}, expected uint8")
    if array.ndim != 3 or array.shape[2] != 3:
        raise CodecError(f"{what} has shape {array.shape}, expected H×W×3")
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.array(array, order="C")  # decoders often hand out read-only views
    return array
