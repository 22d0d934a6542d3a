"""What every learned adapter shares (:class:`LearnedCodec`): its options, device and weights,
padding, the container around the model's strings, and the stages its time is split into."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from gcbench.codecs import container
from gcbench.codecs.base import Codec, Encoded, as_rgb_uint8
from gcbench.codecs.learned.bits import bits_map_from_likelihoods, strings_payload_bytes
from gcbench.codecs.learned.checkpoints import load_checked, per_setting, read_state_dict
from gcbench.codecs.learned.convention import shape_for_model, shape_of, strings_of
from gcbench.codecs.learned.padding import ALIGNS, PAD_MODES, pad_amounts, pad_tensor
from gcbench.codecs.learned.stagehooks import DEFAULT_ROLES, ENTROPY, POST, PRE, STAGES, StageHooks
from gcbench.codecs.stages import stage
from gcbench.core.availability import OK, Availability, require_modules
from gcbench.core.errors import CodecError, ConfigError, GcbenchError, WeightsError
from gcbench.core.settings import Setting, format_setting


def dist_version(dist: str) -> str:
    """The installed version of a distribution, or "not installed"."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _as_bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ConfigError(f"{what} must be true or false, got {value!r}")


def importable(module: str) -> bool:
    """Whether ``module``'s top-level package can be found, without importing it (``gcbench ls``)."""
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


class LearnedCodec(Codec):
    """What every learned adapter shares: options, device, weights, padding, container, stages."""

    #: ``--random-weights`` and ``--device`` (gcbench run, gcbench timing) reach only adapters that say they take them
    accepts_random_weights: ClassVar[bool] = True
    accepts_device: ClassVar[bool] = True
    default_pad_multiple: ClassVar[int] = 64
    default_pad_mode: ClassVar[str] = "constant"
    default_pad_align: ClassVar[str] = "center"
    required_modules: ClassVar[tuple[str, ...]] = ("torch",)
    library_dists: ClassVar[tuple[str, ...]] = ("torch",)

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        o = spec.options
        where = f"codec {spec.name!r}"
        self.device_name = str(o.get("device", "cpu"))
        if not (self.device_name == "cpu" or self.device_name.startswith("cuda") or self.device_name == "mps"):
            raise ConfigError(f"{where}: device must be cpu, cuda, cuda:N or mps, got {self.device_name!r}")
        self.random_weights = _as_bool(o.get("random_weights", False), f"{where}: random_weights")
        self.seed = int(o.get("seed", 0))
        self.checkpoint = o.get("checkpoint")
        self.sha256 = o.get("sha256")
        self.checkpoint_key = str(o.get("checkpoint_key", ""))
        self.checkpoint_prefix = str(o.get("checkpoint_prefix", ""))
        # None: the model's own ``pad_multiple`` attribute, else the adapter's default
        self.pad_multiple = int(o["pad_multiple"]) if o.get("pad_multiple") is not None else None
        self.pad_mode = str(o.get("pad_mode", self.default_pad_mode))
        self.pad_align = str(o.get("pad_align", self.default_pad_align))
        if self.pad_multiple is not None and self.pad_multiple < 1:
            raise ConfigError(f"{where}: pad_multiple must be at least 1")
        if self.pad_mode not in PAD_MODES:
            raise ConfigError(f"{where}: pad_mode must be one of {PAD_MODES}, got {self.pad_mode!r}")
        if self.pad_align not in ALIGNS:
            raise ConfigError(f"{where}: pad_align must be one of {ALIGNS}, got {self.pad_align!r}")
        roles = o.get("stages", {})
        if not isinstance(roles, Mapping) or any(r not in STAGES for r in roles.values()):
            raise ConfigError(f"{where}: stages maps sub-module names to one of {STAGES}")
        self.roles = {**DEFAULT_ROLES, **roles}
        if self.random_weights and self.checkpoint:
            raise ConfigError(f"{where}: random_weights and checkpoint exclude each other")
        self._models: dict[str, Any] = {}
        self._hooks: dict[str, StageHooks] = {}
        self._weights_info: dict[str, str] = {}
        self._device: Any = None

    # -- description ---------------------------------------------------------------------------
    def available(self) -> Availability:
        avail = require_modules(*self.required_modules, extra="learned")
        if not avail:
            return avail
        if self.device_name.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                return Availability(False, f"device {self.device_name!r} asked for, but torch sees no CUDA GPU",
                                    "use --device cpu, or a CUDA build of torch on a machine with a GPU")
        return OK

    def versions(self) -> dict[str, str]:
        out = {dist: dist_version(dist) for dist in self.library_dists}
        out["weights"] = self.weights_identity()
        return out

    def weights_identity(self) -> str:
        """What the results depend on besides the code: recorded on every row, part of the task key."""
        if self.random_weights:
            return f"RANDOM INIT seed={self.seed} (untrained; for timing only)"
        if self.checkpoint is not None:
            return f"checkpoint sha256 {self.sha256}" if not isinstance(self.sha256, Mapping) else (
                "checkpoints sha256 " + ",".join(f"{k}:{v}" for k, v in sorted(self.sha256.items())))
        return self.default_weights_identity()

    def default_weights_identity(self) -> str:
        return "none"

    def row_info(self, tag: str) -> dict[str, Any]:
        return {"device": self.device_name, "weights": self._weights_info.get(tag, self.weights_identity()),
                "random_weights": self.random_weights}

    # -- models --------------------------------------------------------------------------------
    @property
    def device(self) -> Any:
        if self._device is None:
            import torch

            self._device = torch.device(self.device_name)
        return self._device

    def build_model(self, setting: str) -> Any:
        """A randomly initialised model for ``setting`` (subclasses)."""
        raise NotImplementedError

    def default_weights(self, setting: str) -> tuple[dict[str, Any], str]:
        """(state dict, label) when neither a checkpoint nor random weights are asked for."""
        raise WeightsError(
            f"codec {self.name!r} has no weights: give a checkpoint "
            f"(--codec-option {self.name}.checkpoint=PATH --codec-option {self.name}.sha256=HEX) or, to time "
            "the architecture only, --random-weights"
        )

    def checkpoint_weights(self, setting: str) -> tuple[dict[str, Any], str]:
        from gcbench.weights import file_sha256, verify_file

        raw = per_setting(self.checkpoint, setting, f"codec {self.name!r}: checkpoint")
        path = Path(str(raw).replace("{setting}", setting)).expanduser()
        sha = per_setting(self.sha256, setting, f"codec {self.name!r}: sha256")
        if not path.is_file():
            raise WeightsError(f"codec {self.name!r}: checkpoint {path} does not exist")
        if not sha:
            raise WeightsError(
                f"codec {self.name!r}: checkpoint {path} needs its SHA-256 in the spec or on the command line "
                f"(--codec-option {self.name}.sha256={file_sha256(path)} if this is the file you mean)"
            )
        verify_file(path, str(sha))
        sd, where = read_state_dict(path, self.checkpoint_key)
        label = f"checkpoint {path.name} sha256 {file_sha256(path)[:16]}" + (f" [{where}]" if where != "the file" else "")
        return sd, label

    def model_for(self, setting: str) -> Any:
        model = self._models.get(setting)
        if model is not None:
            return model
        import torch

        self.check_setting(setting)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = self.build_model(setting)
        if self.random_weights:
            label = self.weights_identity()
        else:
            sd, label = (self.checkpoint_weights(setting) if self.checkpoint is not None
                         else self.default_weights(setting))
            if self.checkpoint_prefix:
                sd = {self.checkpoint_prefix + k: v for k, v in sd.items()}
            model = self.load_into(model, sd, label, setting)
        model = model.eval().to(self.device)
        self.after_load(model)
        self._weights_info[setting] = label
        self._hooks[setting] = StageHooks(model, self.roles, self.device)
        self._models[setting] = model
        return model

    def check_setting(self, setting: str) -> None:
        """Raise CodecError for a setting this codec has no model for."""

    def pad_for(self, model: Any) -> int:
        if self.pad_multiple is not None:
            return self.pad_multiple
        return int(getattr(model, "pad_multiple", self.default_pad_multiple))

    def load_into(self, model: Any, sd: dict[str, Any], label: str, setting: str) -> Any:
        load_checked(model, sd, label)
        return model

    def after_load(self, model: Any) -> None:
        update = getattr(model, "update", None)
        if callable(update):
            # builds CDF tables that are missing (random weights, files without them); keeps the rest
            update(force=False)

    # -- the codec -------------------------------------------------------------------------------
    def encode(self, image: np.ndarray, setting: Setting, side: np.ndarray | None = None) -> Encoded:
        import torch

        tag = format_setting(setting)
        model = self.model_for(tag)
        dev = self.device
        height, width = image.shape[:2]
        with torch.no_grad():
            with stage(PRE, dev):
                x = self.to_tensor(image)
                x = pad_tensor(x, pad_amounts(height, width, self.pad_for(model), self.pad_align), self.pad_mode)
            with self._hooks[tag].running(ENTROPY):
                strings, shape, bits = self.compress(model, x)
            with stage(ENTROPY, dev):
                data = container.pack(container.Payload(tag, (height, width), strings, shape))
        payload = self.payload_bytes(strings, shape, (height, width), tuple(x.shape[-2:]))
        return Encoded(data, bits_estimate=bits, info=self.row_info(tag), payload_bytes=payload)

    def payload_bytes(self, strings: list[list[bytes]], shape: Any, size: tuple[int, int],
                      padded: tuple[int, int]) -> int:
        """The payload as the model's own evaluation counts it (``bpp_payload``): here CompressAI's,
        the summed length of the strings (:func:`~gcbench.codecs.learned.bits.strings_payload_bytes`).
        ``size`` is the image's H, W and ``padded`` the padded input's, for counts that store them."""
        return strings_payload_bytes(strings)

    def decode(self, data: bytes, size: tuple[int, int] | None = None) -> np.ndarray:
        import torch

        dev = self.device
        with stage(ENTROPY, dev):
            payload = container.unpack(data)
        if size is not None and tuple(size) != payload.size:
            raise CodecError(f"bitstream is of a {payload.size[1]}×{payload.size[0]} image, "
                             f"expected {size[1]}×{size[0]}")
        model = self.model_for(payload.model)
        height, width = payload.size
        top, bottom, left, right = pad_amounts(height, width, self.pad_for(model), self.pad_align)
        with torch.no_grad():
            with self._hooks[payload.model].running(ENTROPY):
                try:
                    x_hat = self.decompress(model, payload, (height + top + bottom, width + left + right))
                except GcbenchError:
                    raise
                except Exception as exc:
                    raise CodecError(f"{type(model).__name__}.decompress failed: {type(exc).__name__}: {exc}") from exc
            with stage(POST, dev):
                if x_hat.dim() != 4 or x_hat.shape[0] != 1 or x_hat.shape[1] != 3:
                    raise CodecError(f"model returned a tensor of shape {tuple(x_hat.shape)}, expected 1×3×H×W")
                if x_hat.shape[2] < top + height or x_hat.shape[3] < left + width:
                    raise CodecError(f"model returned {x_hat.shape[3]}×{x_hat.shape[2]}, smaller than the "
                                     f"padded image {width + left + right}×{height + top + bottom}")
                x_hat = x_hat[0, :, top:top + height, left:left + width]
                out = x_hat.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        return as_rgb_uint8(out)

    def bits_map(self, image: np.ndarray, setting: Setting, side: np.ndarray | None = None) -> np.ndarray:
        """Estimated bits at each pixel (H×W) from the model's likelihoods, for region metrics.

        The forward pass of a CompressAI-style model returns ``likelihoods`` per latent; each
        element costs −log2(p) bits, spread over the pixels of the block it codes on the padded
        canvas. The map is cropped to the image and scaled so that it still sums to all the
        estimated bits: bits spent on padding are charged to the image pixels in proportion.
        """
        import torch

        model = self.model_for(format_setting(setting))
        height, width = image.shape[:2]
        top, bottom, left, right = pad_amounts(height, width, self.pad_for(model), self.pad_align)
        with torch.no_grad():
            x = pad_tensor(self.to_tensor(image), (top, bottom, left, right), self.pad_mode)
            out = model(x)
        likelihoods = out.get("likelihoods") if isinstance(out, Mapping) else None
        if not likelihoods:
            raise CodecError(f"{type(model).__name__}'s forward pass returns no likelihoods; "
                             "estimated bits per region need them (CompressAI's convention)")
        full = bits_map_from_likelihoods(likelihoods, (height + top + bottom, width + left + right))
        crop = full[top:top + height, left:left + width]
        inside = float(crop.sum())
        return crop * (float(full.sum()) / inside) if inside > 0 else crop

    def to_tensor(self, image: np.ndarray) -> Any:
        import torch

        # upload uint8 (a quarter of the bytes) and convert on the device; torch wants a writable array
        if not (image.flags.writeable and image.flags.c_contiguous):
            image = np.array(image, order="C")
        x = torch.from_numpy(image).to(self.device)
        return x.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)

    # CompressAI's convention; subclasses with another API override these two
    def compress(self, model: Any, x: Any) -> tuple[list[list[bytes]], Any, float | None]:
        out = model.compress(x)
        if not isinstance(out, Mapping) or "strings" not in out or "shape" not in out:
            raise CodecError(f"{type(model).__name__}.compress must return a dict with 'strings' and 'shape' "
                             "(CompressAI's convention)")
        return strings_of(out["strings"], type(model).__name__), shape_of(out["shape"]), None

    def decompress(self, model: Any, payload: container.Payload, padded: tuple[int, int]) -> Any:
        out = model.decompress(payload.strings, shape_for_model(payload.shape))
        x_hat = out["x_hat"] if isinstance(out, Mapping) else out
        return x_hat
