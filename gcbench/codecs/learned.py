"""Learned codecs: CompressAI's zoo, any CompressAI-style model, models that write their own
bytes, and NeuralCompression's HiFiC/MS-ILLM.

Adapters (``adapter = …`` in a spec):

- ``compressai`` — the CompressAI zoo: ``architecture`` (``bmshj2018-factorized``, …,
  ``cheng2020-attn``), ``metric`` (``mse`` or ``ms-ssim``); the setting is the quality index.
  Pretrained files resolve through :mod:`gcbench.weights` (``$GCBENCH_WEIGHTS``, torch hub's
  cache, a download where the network allows), checked against the hash prefix in their name.
- ``learned-model`` — any importable class following CompressAI's convention
  (``compress(x) -> {"strings", "shape"}``, ``decompress(strings, shape) -> {"x_hat"}``):
  ``model = "package.module:Class"``, ``kwargs = {…}``, plus a checkpoint.
- ``learned-plugin`` — the plugin protocol for models that make their bytes themselves::

      class MyCodec(torch.nn.Module):
          def encode_bytes(self, x: Tensor) -> bytes | dict:   # x: 1×3×H×W in [0, 1], padded
              ...  # or {"data": bytes, "bits_estimate": float} when there is no entropy coder
          def decode_bytes(self, data: bytes, shape: tuple[int, int]) -> Tensor:  # 1×3×H×W

  A model that reports ``bits_estimate`` (e.g. from its likelihoods, see
  :func:`bits_from_likelihoods`) gets rows with ``bpp_kind = "estimated"``, marked in plots.
- ``neuralcompression`` (in :mod:`gcbench.codecs.gan.neuralcompression`) — NeuralCompression's
  ``HiFiCAutoencoder`` (HiFiC, MS-ILLM), when that package is importable.
- ``gan`` (in :mod:`gcbench.codecs.gan.codec`) — the architecture zoo.

What every learned adapter does: the image goes to the device as float in [0, 1], is padded to
a multiple of ``pad_multiple`` (CompressAI's evaluation: 64, zeros, centred), the model's strings
and latent shape are written into :mod:`gcbench.codecs.container` (bpp counts every byte of it),
and the reconstruction is cropped back, clamped to [0, 1], scaled, rounded (not truncated) to
uint8. The container names the setting's model, so a stored bitstream decodes on its own.

Options shared by all (``--codec-option NAME.KEY=VALUE`` overrides any of them):

- ``device``: ``"cpu"`` (default), ``"cuda"``, ``"cuda:1"``; ``gcbench run --device cuda`` sets it
  for learned codecs.
- ``checkpoint``: a path; ``{setting}`` in it is replaced by the setting (one file per quality),
  or a table ``{"1" = "a.pth", "2" = "b.pth"}``. ``sha256``: the file's SHA-256, or a table by
  setting when there are several files. Required with a checkpoint; a wrong hash, or keys that do
  not fit the model, are refused with the difference.
- ``checkpoint_key``: the entry of the file holding the state dict (default: the file itself, or
  its ``state_dict``/``model`` entry when the file is a training checkpoint);
  ``checkpoint_prefix``: a prefix added to every key (``"generator."`` for a bare pix2pixHD netG).
- ``random_weights = true`` (``gcbench run --random-weights``): untrained networks, seeded by
  ``seed``, for timing architectures only. Every row records it in its codec versions and
  provenance; it is never a fallback.
- ``pad_multiple``, ``pad_mode`` (``constant``, ``reflect``, ``replicate``), ``pad_align``
  (``center``, ``bottom-right``).
- ``stages``: which of the model's sub-modules are which stage, for the stage timing of
  :mod:`gcbench.codecs.stages` (defaults cover CompressAI's ``g_a``/``h_a``/``h_s``/``g_s`` and HiFiC's
  ``encoder``/``hyper_*``/``decoder``). Stages: ``preprocess`` (to tensor, pad), ``analysis``,
  ``hyper`` (hyper analysis/synthesis, context model), ``entropy-coding`` (everything else in
  ``compress``/``decompress``: the range coder, quantisation, and the container),
  ``synthesis``, ``postprocess`` (crop, clamp, round, copy back).

torch and CompressAI are imported only when a learned codec is used.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from gcbench.codecs import container
from gcbench.codecs.base import Codec, Encoded, as_rgb_uint8
from gcbench.codecs.stages import stage
from gcbench.core.availability import OK, Availability, require_modules
from gcbench.core.errors import (
    CodecError,
    ConfigError,
    GcbenchError,
    PluginError,
    WeightsError,
)
from gcbench.core.settings import Setting, format_setting

PRE, ANALYSIS, HYPER, ENTROPY, SYNTHESIS, POST = (
    "preprocess", "analysis", "hyper", "entropy-coding", "synthesis", "postprocess")
STAGES = (PRE, ANALYSIS, HYPER, ENTROPY, SYNTHESIS, POST)

DEFAULT_ROLES: dict[str, str] = {
    "g_a": ANALYSIS, "encoder": ANALYSIS,
    "h_a": HYPER, "h_s": HYPER, "context_prediction": HYPER, "entropy_parameters": HYPER,
    "hyper_analysis": HYPER, "hyper_synthesis": HYPER, "hyper_synthesis_mean": HYPER, "hyper_synthesis_scale": HYPER,
    "g_s": SYNTHESIS, "decoder": SYNTHESIS, "generator": SYNTHESIS,
}

_PAD_MODES = ("constant", "reflect", "replicate")
_ALIGNS = ("center", "bottom-right")
# entropy-model entries a checkpoint may lack: constants, or CDF tables rebuilt by update()
_DERIVED = ("._quantized_cdf", "._offset", "._cdf_length", ".scale_table", ".target", ".scale_bound",
            ".likelihood_lower_bound.bound", ".lower_bound_scale.bound")


def _version(dist: str) -> str:
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


def bits_from_likelihoods(likelihoods: Any) -> float:
    """Σ −log2 p over a tensor or a (nested) dict/list of tensors: the estimated size in bits."""
    import torch

    if isinstance(likelihoods, Mapping):
        return sum(bits_from_likelihoods(v) for v in likelihoods.values())
    if isinstance(likelihoods, (list, tuple)):
        return sum(bits_from_likelihoods(v) for v in likelihoods)
    return float(-torch.log2(likelihoods.double()).sum().item())


# -- stage timing through forward hooks --------------------------------------------------------


class StageHooks:
    """Attributes the time inside ``model.compress``/``decompress`` to stages, without editing the model.

    The model's top-level sub-modules named in ``roles`` get forward hooks; while :meth:`running`
    is active, entering such a module pauses the current stage and starts the module's, leaving
    it resumes the one before. Stages never overlap, so they add up to the whole call. Hooks do
    nothing outside :meth:`running`; :func:`gcbench.codecs.stages.stage` itself does nothing unless a
    recorder is active, so a normal run pays a context-variable look-up per module call.
    """

    def __init__(self, model: Any, roles: Mapping[str, str], device: Any) -> None:
        self.device = device
        self._names: list[str] = []
        self._open: contextlib.AbstractContextManager[Any] | None = None
        self.handles = []
        self.roles = {}
        for attr, role in roles.items():
            module = getattr(model, attr, None)
            if module is None or not hasattr(module, "register_forward_pre_hook"):
                continue
            self.roles[attr] = role
            self.handles.append(module.register_forward_pre_hook(self._pre(role)))
            self.handles.append(module.register_forward_hook(self._post))

    def _switch_to(self, name: str | None) -> None:
        if self._open is not None:
            self._open.__exit__(None, None, None)
            self._open = None
        if name is not None:
            cm = stage(name, self.device)
            cm.__enter__()
            self._open = cm

    def _pre(self, role: str) -> Any:
        def hook(module: Any, args: Any) -> None:
            if self._names:
                self._names.append(role)
                self._switch_to(role)

        return hook

    def _post(self, module: Any, args: Any, output: Any) -> None:
        if len(self._names) > 1:
            self._names.pop()
            self._switch_to(self._names[-1])

    @contextlib.contextmanager
    def running(self, base: str) -> Iterator[None]:
        self._names = [base]
        self._switch_to(base)
        try:
            yield
        finally:
            self._names = []
            self._switch_to(None)

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


# -- padding -----------------------------------------------------------------------------------


def pad_amounts(height: int, width: int, multiple: int, align: str) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) to reach the next multiple; centred as CompressAI's evaluation."""
    ph = (-height) % multiple
    pw = (-width) % multiple
    if align == "center":
        return ph // 2, ph - ph // 2, pw // 2, pw - pw // 2
    return 0, ph, 0, pw


def pad_tensor(x: Any, amounts: tuple[int, int, int, int], mode: str) -> Any:
    import torch.nn.functional as F

    top, bottom, left, right = amounts
    if not any(amounts):
        return x
    if mode == "constant":
        return F.pad(x, (left, right, top, bottom), mode="constant", value=0.0)
    if mode == "replicate":
        return F.pad(x, (left, right, top, bottom), mode="replicate")
    # reflect: torch needs each pad < the side, so pad in steps (a tiny image needs several);
    # a side of one pixel cannot be reflected and is replicated
    while any((top, bottom, left, right)):
        h, w = x.shape[-2:]
        step_t, step_b = min(top, h - 1), min(bottom, h - 1)
        step_l, step_r = min(left, w - 1), min(right, w - 1)
        if not any((step_t, step_b, step_l, step_r)):
            return F.pad(x, (left, right, top, bottom), mode="replicate")
        x = F.pad(x, (step_l, step_r, step_t, step_b), mode="reflect")
        top, bottom, left, right = top - step_t, bottom - step_b, left - step_l, right - step_r
    return x


# -- checkpoints -------------------------------------------------------------------------------


def read_state_dict(path: Path, key: str = "") -> tuple[dict[str, Any], str]:
    """The state dict in a checkpoint file, and which entry it came from."""
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(
            f"{path} is not a readable torch checkpoint of tensors ({type(exc).__name__}: {exc}). "
            "gcbench loads checkpoints with weights_only=True; save the state dict alone "
            "(torch.save(model.state_dict(), path))"
        ) from exc
    if key:
        if not isinstance(obj, Mapping) or key not in obj:
            found = sorted(obj)[:10] if isinstance(obj, Mapping) else type(obj).__name__
            raise WeightsError(f"{path} has no entry {key!r} (checkpoint_key); it holds {found}")
        obj, where = obj[key], key
    else:
        where = "the file"
        if isinstance(obj, Mapping) and not _is_tensor_dict(obj):
            for candidate in ("state_dict", "model", "model_state_dict", "net"):
                if isinstance(obj.get(candidate), Mapping) and _is_tensor_dict(obj[candidate]):
                    obj, where = obj[candidate], candidate
                    break
    if not isinstance(obj, Mapping) or not _is_tensor_dict(obj):
        raise WeightsError(f"{path}: {where} is not a state dict (a mapping of names to tensors); "
                           "name the entry holding it with the option checkpoint_key")
    return dict(obj), where


def _is_tensor_dict(obj: Mapping[str, Any]) -> bool:
    import torch

    return bool(obj) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _short(keys: list[str], n: int = 12) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f", … ({len(keys)} in all)" if len(keys) > n else "")


def load_checked(model: Any, state_dict: Mapping[str, Any], source: str) -> None:
    """Load ``state_dict`` into ``model`` or raise WeightsError listing missing and unexpected keys.

    Files written by CompressAI before 1.2.5 (``_matrix0`` …) and by ``nn.DataParallel``
    (``module.`` prefixes) are renamed first; CDF tables and constant buffers of entropy models
    may be absent (they are rebuilt by ``update()``).
    """
    sd = {k.removeprefix("module."): v for k, v in state_dict.items()}
    expected = model.state_dict()
    sd = _remap_entropy_keys(model, sd)
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    hard_missing = [k for k in missing if not k.endswith(_DERIVED)]
    if hard_missing or unexpected:
        parts = [f"checkpoint {source} does not fit {type(model).__name__}:"]
        if hard_missing:
            parts.append(f"missing keys: {_short(hard_missing)};")
        if unexpected:
            parts.append(f"unexpected keys: {_short(unexpected)};")
        parts.append("is it the right architecture (and checkpoint_prefix/checkpoint_key)?")
        raise WeightsError(" ".join(parts))
    for k in missing:
        sd[k] = expected[k]
    try:
        model.load_state_dict(sd, strict=True)
    except (RuntimeError, ValueError, KeyError) as exc:
        raise WeightsError(f"checkpoint {source} does not fit {type(model).__name__}: {exc}") from exc


def _remap_entropy_keys(model: Any, sd: dict[str, Any]) -> dict[str, Any]:
    try:
        from compressai.entropy_models import EntropyBottleneck
        from compressai.models.utils import remap_old_keys
    except ImportError:
        return sd
    for name, module in model.named_modules():
        if isinstance(module, EntropyBottleneck) and name:
            sd = dict(remap_old_keys(name, sd))
    return sd


def _importable(module: str) -> bool:
    """Whether ``module``'s top-level package can be found, without importing it (``gcbench ls``)."""
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


def _per_setting(value: Any, setting: str, what: str) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        if setting not in value:
            raise WeightsError(f"{what} has no entry for setting {setting!r} (it has {sorted(value)})")
        return value[setting]
    return value


# -- the base adapter --------------------------------------------------------------------------


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
        if self.pad_mode not in _PAD_MODES:
            raise ConfigError(f"{where}: pad_mode must be one of {_PAD_MODES}, got {self.pad_mode!r}")
        if self.pad_align not in _ALIGNS:
            raise ConfigError(f"{where}: pad_align must be one of {_ALIGNS}, got {self.pad_align!r}")
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
        out = {dist: _version(dist) for dist in self.library_dists}
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

        raw = _per_setting(self.checkpoint, setting, f"codec {self.name!r}: checkpoint")
        path = Path(str(raw).replace("{setting}", setting)).expanduser()
        sha = _per_setting(self.sha256, setting, f"codec {self.name!r}: sha256")
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
        return Encoded(data, bits_estimate=bits, info=self.row_info(tag))

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

        from gcbench.metrics.region import bits_map_from_likelihoods

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
        return _strings_of(out["strings"], type(model).__name__), _shape_of(out["shape"]), None

    def decompress(self, model: Any, payload: container.Payload, padded: tuple[int, int]) -> Any:
        out = model.decompress(payload.strings, _shape_for_model(payload.shape))
        x_hat = out["x_hat"] if isinstance(out, Mapping) else out
        return x_hat


def _strings_of(strings: Any, who: str) -> list[list[bytes]]:
    if not isinstance(strings, (list, tuple)):
        raise CodecError(f"{who}.compress returned strings of type {type(strings).__name__}; expected a list of lists of bytes")
    groups = []
    for group in strings:
        if isinstance(group, (bytes, bytearray)):
            group = [group]  # a model that returns one string per latent for batch size one
        if not isinstance(group, (list, tuple)) or not all(isinstance(s, (bytes, bytearray)) for s in group):
            raise CodecError(f"{who}.compress returned strings that are not lists of bytes")
        groups.append([bytes(s) for s in group])
    return groups


def _shape_of(shape: Any) -> Any:
    if isinstance(shape, Mapping):
        return {str(k): _shape_of(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)):  # torch.Size is a tuple
        return [_shape_of(v) for v in shape]
    return int(shape)


def _shape_for_model(shape: Any) -> Any:
    import torch

    if isinstance(shape, list) and all(isinstance(v, int) for v in shape):
        return torch.Size(shape)
    if isinstance(shape, list):
        return [_shape_for_model(v) for v in shape]
    if isinstance(shape, dict):
        return {k: _shape_for_model(v) for k, v in shape.items()}
    return shape


# -- CompressAI zoo ------------------------------------------------------------------------------

ZOO_ARCHITECTURES = ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "mbt2018",
                     "cheng2020-anchor", "cheng2020-attn")
_ZOO_LICENSE = "BSD-3-Clause-Clear (CompressAI)"


class CompressAIZooCodec(LearnedCodec):
    """A CompressAI zoo architecture; the setting is its quality index.

    Options: ``architecture``, ``metric`` (``mse``/``ms-ssim``), ``channels`` (replace the zoo's
    N, M for every quality, e.g. for small test models), and the shared ones.
    """

    required_modules = ("torch", "compressai")
    library_dists = ("torch", "compressai")

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        o = spec.options
        self.architecture = str(o.get("architecture", ""))
        if self.architecture not in ZOO_ARCHITECTURES:
            raise ConfigError(f"codec {spec.name!r}: architecture must be one of {ZOO_ARCHITECTURES}, "
                              f"got {self.architecture!r}")
        self.metric = str(o.get("metric", "mse"))
        if self.metric not in ("mse", "ms-ssim"):
            raise ConfigError(f"codec {spec.name!r}: metric must be 'mse' or 'ms-ssim', got {self.metric!r}")
        channels = o.get("channels")
        self.channels = tuple(int(c) for c in channels) if channels is not None else None

    def default_weights_identity(self) -> str:
        return f"compressai zoo {self.architecture} {self.metric} (hash prefixes in the file names)"

    def _zoo(self) -> Any:
        from compressai.zoo import image as zoo_image

        return zoo_image

    def check_setting(self, setting: str) -> None:
        cfgs = self._zoo().cfgs[self.architecture]
        if not setting.isdigit() or int(setting) not in cfgs:
            raise CodecError(f"{self.architecture} has qualities {sorted(cfgs)}, not {setting!r}")

    def build_model(self, setting: str) -> Any:
        zoo = self._zoo()
        args = self.channels or zoo.cfgs[self.architecture][int(setting)]
        return zoo.model_architectures[self.architecture](*args)

    def weights_entry_name(self, setting: str) -> str:
        return f"compressai-{self.architecture}-{self.metric}-q{setting}"

    def preflight(self, settings: list[Setting]) -> None:
        """Every pretrained file the run needs is found (or downloaded) before any work starts."""
        if self.random_weights or self.checkpoint is not None:
            return
        from gcbench import weights

        for setting in settings:
            self.check_setting(format_setting(setting))
            weights.resolve(register_zoo_weights(self.architecture, self.metric, int(setting), self.name))

    def default_weights(self, setting: str) -> tuple[dict[str, Any], str]:
        from gcbench import weights

        name = register_zoo_weights(self.architecture, self.metric, int(setting), self.name)
        path = weights.resolve(name)
        sd, _ = read_state_dict(path)
        return sd, f"compressai zoo {path.name}"

    def load_into(self, model: Any, sd: dict[str, Any], label: str, setting: str) -> Any:
        from compressai.zoo.pretrained import load_pretrained

        sd = load_pretrained(sd)  # CompressAI's own renaming of its published files
        if self.channels is None:
            # the file decides N and M (a user's model may differ from the zoo's table); when it
            # cannot, the check below says which keys or shapes do not fit
            with contextlib.suppress(Exception):
                return type(model).from_state_dict(sd)
        load_checked(model, sd, label)
        return model


def register_zoo_weights(architecture: str, metric: str, quality: int, used_by: str) -> str:
    """Add CompressAI's published file for (architecture, metric, quality) to gcbench's weights manifest."""
    from compressai.zoo.image import model_urls

    from gcbench import weights

    try:
        url = model_urls[architecture][metric][quality]
    except KeyError as exc:
        raise WeightsError(f"CompressAI publishes no {architecture} {metric} model at quality {quality}") from exc
    filename = url.rsplit("/", 1)[1]
    prefix = filename.split("-")[-1].split(".")[0]
    name = f"compressai-{architecture}-{metric}-q{quality}"
    entry = weights.WeightFile(
        name=name, filename=filename, sha256=prefix, size=None, url=url, license=_ZOO_LICENSE,
        used_by=(used_by,), caches=("torch-hub",),
        note="CompressAI pretrained model; the 8-hex SHA-256 prefix is in its file name",
    )
    try:
        existing = weights.get(name)
    except Exception:  # noqa: BLE001 - UnknownNameError: not registered yet
        existing = None
    if existing is None or existing.filename != filename:
        weights.register(entry, replace=True)
    return name


# -- user models --------------------------------------------------------------------------------


class ModelCodec(LearnedCodec):
    """Any importable model class following CompressAI's compress/decompress convention.

    Options: ``model = "package.module:Class"``, ``kwargs`` (constructor keywords), ``factory``
    (a classmethod to call instead, e.g. ``"from_state_dict"`` receiving the state dict), the
    shared ones (a checkpoint with its SHA-256 is required unless ``random_weights``).
    """

    protocol: ClassVar[str] = "CompressAI's compress/decompress"

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        o = spec.options
        self.model_target = str(o.get("model", ""))
        if ":" not in self.model_target:
            raise ConfigError(f"codec {spec.name!r}: option model must be 'package.module:Class', "
                              f"got {self.model_target!r}")
        kwargs = o.get("kwargs", {})
        if not isinstance(kwargs, Mapping):
            raise ConfigError(f"codec {spec.name!r}: option kwargs must be a table")
        self.kwargs = dict(kwargs)
        self.factory = str(o.get("factory", ""))

    def available(self) -> Availability:
        module = self.model_target.partition(":")[0]
        if not _importable(module):
            return Availability(False, f"the model's module {module!r} cannot be imported",
                                "install the package that provides it, or put it on PYTHONPATH")
        return super().available()

    def versions(self) -> dict[str, str]:
        out = super().versions()
        dist = self.model_target.partition(":")[0].split(".")[0]
        out[dist] = _version(dist)
        return out

    def model_class(self) -> Any:
        from gcbench.core.registry import import_target

        try:
            return import_target(self.model_target)
        except (ImportError, AttributeError) as exc:
            raise PluginError(f"codec {self.name!r}: cannot import {self.model_target}: {exc}") from exc

    def build_model(self, setting: str) -> Any:
        cls = self.model_class()
        self.check_protocol(cls)
        try:
            return cls(**self.kwargs)
        except TypeError as exc:
            raise ConfigError(f"codec {self.name!r}: {self.model_target}(**kwargs) failed: {exc}") from exc

    def check_protocol(self, cls: Any) -> None:
        missing = [m for m in ("compress", "decompress") if not callable(getattr(cls, m, None))]
        if missing:
            raise PluginError(f"{self.model_target} does not follow {self.protocol}: it lacks {missing}")

    def load_into(self, model: Any, sd: dict[str, Any], label: str, setting: str) -> Any:
        if self.factory:
            fn = getattr(type(model), self.factory, None)
            if fn is None:
                raise ConfigError(f"codec {self.name!r}: {self.model_target} has no {self.factory!r}")
            try:
                return fn(sd)
            except Exception as exc:
                raise WeightsError(f"{self.model_target}.{self.factory} could not use {label}: {exc}") from exc
        load_checked(model, sd, label)
        return model


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


# -- gcbench run --random-weights / --device ---------------------------------------------------


def with_learned_flags(codec_args: list[str], overrides: Mapping[str, Mapping[str, Any]], *,
                       random_weights: bool = False, device: str | None = None) -> dict[str, dict[str, Any]]:
    """``overrides`` plus what ``--random-weights`` and ``--device`` mean for the learned codecs among
    ``codec_args`` (``name`` or ``name@settings``): their ``random_weights`` and ``device`` options.
    Other codecs are left alone, so their task keys do not change; an explicit
    ``--codec-option NAME.device=…`` wins over ``--device``."""
    from gcbench.codecs.registry import codecs as codec_registry
    from gcbench.codecs.spec import _merge, adapter_class
    from gcbench.core.settings import split_codec_arg

    out = {name: dict(opts) for name, opts in overrides.items()}
    for arg in codec_args:
        name, _ = split_codec_arg(arg)
        if name not in codec_registry:
            continue  # the runner reports unknown names with suggestions
        cls = adapter_class(codec_registry.get(name))
        if random_weights and not getattr(cls, "accepts_random_weights", False):
            raise ConfigError(f"--random-weights applies to learned codecs only; {name!r} is not one")
        implied: dict[str, Any] = {}
        if random_weights:
            implied["random_weights"] = True
        if device is not None and getattr(cls, "accepts_device", False):
            implied["device"] = device
        if implied:
            out[name] = _merge(implied, out.get(name, {}))
    return out


__all__ = [
    "STAGES",
    "CompressAIZooCodec",
    "LearnedCodec",
    "ModelCodec",
    "PluginCodec",
    "StageHooks",
    "bits_from_likelihoods",
    "load_checked",
    "read_state_dict",
    "register_zoo_weights",
    "with_learned_flags",
]
