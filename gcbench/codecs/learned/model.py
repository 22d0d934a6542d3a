"""The ``learned-model`` adapter: any importable model class that follows CompressAI's
``compress``/``decompress`` convention, with a user's checkpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from gcbench.codecs.learned.checkpoints import load_checked
from gcbench.codecs.learned.codec import LearnedCodec, dist_version, importable
from gcbench.core.availability import Availability
from gcbench.core.errors import ConfigError, PluginError, WeightsError


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
        if not importable(module):
            return Availability(False, f"the model's module {module!r} cannot be imported",
                                "install the package that provides it, or put it on PYTHONPATH")
        return super().available()

    def versions(self) -> dict[str, str]:
        out = super().versions()
        dist = self.model_target.partition(":")[0].split(".")[0]
        out[dist] = dist_version(dist)
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
