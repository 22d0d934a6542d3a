"""The ``compressai`` adapter: CompressAI's model zoo, its published weights registered with
:mod:`gcbench.weights` and checked against the hash prefix in their file names."""

from __future__ import annotations

import contextlib
from typing import Any

from gcbench.codecs.learned.checkpoints import load_checked, read_state_dict
from gcbench.codecs.learned.codec import LearnedCodec
from gcbench.core.errors import CodecError, ConfigError, WeightsError
from gcbench.core.settings import Setting, format_setting

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
