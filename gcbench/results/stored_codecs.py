"""The codec spec that produced a stored bitstream, to decode it again (crops, study forms).

The spec is the one the run recorded (so a codec whose spec file changed or moved still decodes
as it encoded); when the runs recorded none, the registered spec serves if its hash matches.
Callers build the codec themselves with :func:`gcbench.codecs.spec.build_codec`.
"""

from __future__ import annotations

from typing import Any

from gcbench.core.errors import ConfigError


def recorded_specs(runs: list[Any]) -> dict[tuple[str, str], Any]:
    """(codec name, spec hash) → CodecSpec, over every run (a later run's spec replaces an earlier one)."""
    out: dict[tuple[str, str], Any] = {}
    for run in runs:
        for spec in run.config.specs():
            out[(spec.name, spec.spec_hash())] = spec
    return out


def stored_codec(specs: dict[tuple[str, str], Any], codec: str, spec_hash: str) -> Any:
    """The CodecSpec named ``codec`` with hash ``spec_hash``: recorded, else the registered one if it matches.

    ``specs`` is :func:`recorded_specs` of the folder's runs. Raises ConfigError when neither fits.
    """
    spec = specs.get((codec, spec_hash))
    if spec is not None:
        return spec
    from gcbench.codecs.registry import codecs as registry

    if codec in registry:
        candidate = registry.get(codec)
        if candidate.spec_hash() == spec_hash:
            return candidate
    raise ConfigError(
        f"cannot rebuild codec {codec!r} (spec {spec_hash}) to decode its stored bitstreams: "
        "the run's recorded spec is missing and the registered spec differs"
    )
