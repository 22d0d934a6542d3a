"""``gcbench run --random-weights`` and ``--device``: what they mean for the learned codecs of a run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gcbench.core.errors import ConfigError


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
