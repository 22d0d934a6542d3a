"""NeuralCompression's generative codecs (HiFiC, MS-ILLM): the ``neuralcompression`` adapter and
the MS-ILLM weights.

The adapter runs NeuralCompression's own ``HiFiCAutoencoder.compress``/``decompress`` when the
package is importable. It usually is not: :func:`neuralcompression_status` says why. The MS-ILLM
checkpoints are plain ``HiFiCAutoencoder`` state dicts, and gcbench's own
:class:`~gcbench.codecs.gan.hific.HiFiC` has the same layers and keys and gives the same bits
and pixels, so the ``msillm-*`` codecs (adapter ``gan``, ``weights = "msillm"``) serve them
without the package.
"""

from __future__ import annotations

import importlib.util
import io
import pickle
from collections.abc import Mapping
from typing import Any, NamedTuple

from gcbench.codecs import container
from gcbench.codecs.learned.checkpoints import read_state_dict
from gcbench.codecs.learned.codec import LearnedCodec
from gcbench.codecs.learned.convention import strings_of
from gcbench.core.availability import OK, Availability
from gcbench.core.errors import CodecError, ConfigError, WeightsError

_MSILLM_URL = "https://dl.fbaipublicfiles.com/NeuralCompression/2023-muckley-msillm/msillm_target_{}bpp.ckpt"
# quality → target bpp of the published MS-ILLM models (NeuralCompression's zoo, Muckley et al. 2023)
MSILLM_TARGETS = {1: "0.035", 2: "0.07", 3: "0.14", 4: "0.3", 5: "0.45", 6: "0.9"}


# Where NeuralCompression defines the object its evaluation pickles (neuralcompression/_outputs/
# _hyperprior_output.py); the pickle names it, so its length is part of the count.
_NC_OUTPUT_MODULE = "neuralcompression._outputs._hyperprior_output"
_NC_OUTPUT_CLASS = "HyperpriorCompressedOutput"
# Python 3.8-3.13's default pickle protocol, which NeuralCompression's pickle.dump(obj, buffer) uses
_NC_PICKLE_PROTOCOL = 4


class _CompressedOutput(NamedTuple):
    """NeuralCompression's ``HyperpriorCompressedOutput``: the same fields, in the same order."""

    latent_strings: list[bytes]
    hyper_latent_strings: list[bytes]
    image_size: tuple[int, int]
    padded_size: tuple[int, int]


class _NamedAsNeuralCompression(pickle._Pickler):  # the Python pickler: its save_global can be overridden
    def save_global(self, obj: Any, name: str | None = None) -> None:
        if obj is not _CompressedOutput:
            super().save_global(obj, name)
            return
        # what pickle writes for a class at protocol 4: module and name, STACK_GLOBAL, memoised
        self.save(_NC_OUTPUT_MODULE)
        self.save(_NC_OUTPUT_CLASS)
        self.write(pickle.STACK_GLOBAL)
        self.memoize(obj)


def neuralcompression_payload_bytes(latent_strings: list[bytes], hyper_latent_strings: list[bytes],
                                    image_size: tuple[int, int], padded_size: tuple[int, int]) -> int:
    """What NeuralCompression's evaluation counts for one image (MS-ILLM's published rates).

    ``projects/illm/eval_folder_example.py`` takes ``num_bytes = pickle_size_of(compressed)``,
    ``compressed`` being the ``HyperpriorCompressedOutput`` that ``HiFiCAutoencoder.compress``
    returns (latent strings, hyper-latent strings, image size, padded size), and
    ``neuralcompression.metrics.pickle_size_of`` is ``len`` of ``pickle.dump(obj, BytesIO())``.
    The same pickle is written here without importing NeuralCompression: the strings plus
    about 120 bytes (121–124 on a Kodak image, more once a string passes 64 KiB and the pickle
    gets another frame).
    """
    # two tuples even when the sizes are equal, as HiFiCAutoencoder.compress builds them (pickle
    # would otherwise write the second as a 2-byte reference to the first)
    compressed = _CompressedOutput([bytes(s) for s in latent_strings], [bytes(s) for s in hyper_latent_strings],
                                   (int(image_size[0]), int(image_size[1])),
                                   (int(padded_size[0]), int(padded_size[1])))
    buffer = io.BytesIO()
    _NamedAsNeuralCompression(buffer, protocol=_NC_PICKLE_PROTOCOL).dump(compressed)
    return len(buffer.getbuffer())


def neuralcompression_status() -> Availability:
    """Whether NeuralCompression can serve here, and if not, why."""
    if importlib.util.find_spec("neuralcompression") is None:
        return Availability(
            False,
            "neuralcompression is not installed: its newest release (0.3.1) requires scipy<=1.11.1, which "
            "would downgrade scipy and break scikit-image (needs scipy>=1.11.4), and pytorchvideo 0.1.5; "
            "its wheel also lacks the MS-ILLM zoo (torch.hub only)",
            "pip install --no-deps neuralcompression==0.3.1 fvcore iopath yacs portalocker (its models need only "
            "torch and compressai), or use the built-in msillm-* codecs (gcbench's HiFiC loads the same checkpoints)",
        )
    missing = [m for m in ("fvcore", "compressai") if importlib.util.find_spec(m) is None]
    if missing:
        return Availability(False, f"neuralcompression imports {', '.join(missing)}, which is not installed",
                            f"pip install --no-deps {' '.join(missing)} iopath yacs portalocker")
    return OK


def register_msillm_weights(quality: int, used_by: str) -> str:
    """The MS-ILLM checkpoint of ``quality`` as a weights entry (NeuralCompression publishes no hash)."""
    from gcbench import weights

    if quality not in MSILLM_TARGETS:
        raise WeightsError(f"MS-ILLM has qualities {sorted(MSILLM_TARGETS)}, not {quality}")
    target = MSILLM_TARGETS[quality]
    name = f"msillm-quality-{quality}"
    entry = weights.WeightFile(
        name=name, filename=f"msillm_target_{target}bpp.ckpt", sha256=None, size=None,
        url=_MSILLM_URL.format(target), license="MIT (NeuralCompression)", used_by=(used_by,), caches=("torch-hub",),
        note="MS-ILLM (Muckley et al. 2023) HiFiCAutoencoder state dict; no published hash: rows record the file's SHA-256",
    )
    weights.register(entry, replace=True)
    return name


def msillm_weights(setting: str) -> tuple[dict[str, Any], str]:
    """The state dict of the published MS-ILLM model of quality ``setting``, and its label."""
    from gcbench import weights

    if not setting.isdigit():
        raise CodecError(f"MS-ILLM qualities are {sorted(MSILLM_TARGETS)}, not {setting!r}")
    path = weights.resolve(register_msillm_weights(int(setting), "msillm"))
    sd, _ = read_state_dict(path)
    return sd, f"MS-ILLM {path.name} sha256 {weights.file_sha256(path)[:16]}"


class NeuralCompressionCodec(LearnedCodec):
    """NeuralCompression's ``HiFiCAutoencoder``; weights: ``weights = "msillm"`` (setting = quality
    1–6) or a checkpoint. NeuralCompression pads to 64 itself (reflect), so gcbench does not."""

    required_modules = ("torch", "compressai", "neuralcompression")
    library_dists = ("torch", "compressai", "neuralcompression")
    default_pad_multiple = 1

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        kwargs = spec.options.get("kwargs", {})
        if not isinstance(kwargs, Mapping):
            raise ConfigError(f"codec {spec.name!r}: option kwargs must be a table")
        self.kwargs = dict(kwargs)
        self.weights_source = str(spec.options.get("weights", "msillm"))

    def available(self) -> Availability:
        status = neuralcompression_status()
        return status if not status else super().available()

    def default_weights_identity(self) -> str:
        return f"{self.weights_source} (NeuralCompression hub files)"

    def build_model(self, setting: str) -> Any:
        from neuralcompression.models import HiFiCAutoencoder

        return HiFiCAutoencoder(**self.kwargs)

    def default_weights(self, setting: str) -> tuple[dict[str, Any], str]:
        if self.weights_source != "msillm":
            return super().default_weights(setting)
        return msillm_weights(setting)

    def after_load(self, model: Any) -> None:
        # NeuralCompression keeps the entropy models on the CPU and the transforms on the device
        model.update_tensor_devices("compress")

    def payload_bytes(self, strings: list[list[bytes]], shape: Any, size: tuple[int, int],
                      padded: tuple[int, int]) -> int:
        """NeuralCompression's own count (:func:`neuralcompression_payload_bytes`)."""
        return neuralcompression_payload_bytes(strings[0], strings[1], shape["image"], shape["padded"])

    def compress(self, model: Any, x: Any) -> tuple[list[list[bytes]], Any, float | None]:
        out = model.compress(x, force_cpu=False)
        strings = strings_of([out.latent_strings, out.hyper_latent_strings], "HiFiCAutoencoder")
        return strings, {"image": list(out.image_size), "padded": list(out.padded_size)}, None

    def decompress(self, model: Any, payload: container.Payload, padded: tuple[int, int]) -> Any:
        from neuralcompression import HyperpriorCompressedOutput

        shape = payload.shape
        if not isinstance(shape, dict) or set(shape) != {"image", "padded"} or len(payload.strings) != 2:
            raise CodecError("not a NeuralCompression HiFiC bitstream (expected image/padded sizes and two string groups)")
        compressed = HyperpriorCompressedOutput(
            latent_strings=payload.strings[0], hyper_latent_strings=payload.strings[1],
            image_size=tuple(shape["image"]), padded_size=tuple(shape["padded"]),
        )
        return model.decompress(compressed, force_cpu=False)
