"""The ``compressai`` adapter: CompressAI's model zoo, its published weights registered with
:mod:`gcbench.weights` and checked against the hash prefix in their file names."""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib.util
from pathlib import Path
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
        cfgs = zoo_tables()["cfgs"][self.architecture]
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
    from gcbench import weights

    try:
        url = zoo_tables()["model_urls"][architecture][metric][quality]
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


@functools.lru_cache(maxsize=1)
def zoo_tables() -> dict[str, Any]:
    """CompressAI's zoo tables, ``cfgs`` (the qualities and their N, M) and ``model_urls`` (the
    published files), as the installed CompressAI defines them.

    They are read from the source of ``compressai/zoo/image.py`` rather than imported, so that
    checking a setting or listing recipes does not load torch (seconds, and `gcbench ls` stays
    light); when the file no longer reads as plain literals the module is imported instead.
    """
    spec = importlib.util.find_spec("compressai")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    source = Path(locations[0], "zoo", "image.py") if locations else None
    if source is not None and source.is_file():
        with contextlib.suppress(ValueError, SyntaxError, OSError):
            return _literal_tables(ast.parse(source.read_text(encoding="utf-8")))
    from compressai.zoo import image as zoo_image

    return {"cfgs": zoo_image.cfgs, "model_urls": zoo_image.model_urls}


def _literal_tables(module: ast.Module) -> dict[str, Any]:
    """``root_url``, ``cfgs`` and ``model_urls`` of the zoo module: literals and f-strings of names
    assigned before them; ValueError when they are anything else."""
    names: dict[str, Any] = {}

    def value(node: ast.expr) -> Any:
        if isinstance(node, ast.JoinedStr):
            return "".join(value(part) for part in node.values)
        if isinstance(node, ast.FormattedValue) and node.format_spec is None and node.conversion == -1:
            return str(value(node.value))
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, ast.Dict) and None not in node.keys:
            return {value(k): value(v) for k, v in zip(node.keys, node.values, strict=True)}  # type: ignore[arg-type]
        if isinstance(node, ast.Tuple):
            return tuple(value(e) for e in node.elts)
        return ast.literal_eval(node)

    for statement in module.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id in ("root_url", "cfgs", "model_urls"):
            names[statement.targets[0].id] = value(statement.value)
    if not {"cfgs", "model_urls"} <= names.keys():
        raise ValueError("compressai/zoo/image.py defines its tables differently")
    return {"cfgs": names["cfgs"], "model_urls": names["model_urls"]}
