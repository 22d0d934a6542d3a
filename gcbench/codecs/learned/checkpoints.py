"""Checkpoints of learned models: reading a state dict from a file, fixing old and wrapped key
names, and loading it with a message that lists the keys that do not fit."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gcbench.core.errors import WeightsError

# entropy-model entries a checkpoint may lack: constants, or CDF tables rebuilt by update()
_DERIVED = ("._quantized_cdf", "._offset", "._cdf_length", ".scale_table", ".target", ".scale_bound",
            ".likelihood_lower_bound.bound", ".lower_bound_scale.bound")


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


def per_setting(value: Any, setting: str, what: str) -> Any:
    """``value`` itself, or its entry for ``setting`` when it is a table by setting."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        if setting not in value:
            raise WeightsError(f"{what} has no entry for setting {setting!r} (it has {sorted(value)})")
        return value[setting]
    return value
