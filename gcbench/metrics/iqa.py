"""Every pyiqa metric by name: ``--metric pyiqa:NAME`` (``pyiqa:fsim``, ``pyiqa:vif``, ``pyiqa:musiq``).

A name of the form ``pyiqa:NAME`` resolves through the metric registry's ``pyiqa`` family (a
prefix family of :class:`gcbench.core.registry.Registry`) to a metric class built here from
pyiqa's own preset (``pyiqa.default_model_configs.DEFAULT_CONFIGS``):

- full-reference presets (``metric_mode = "FR"``) become pair metrics, no-reference ones
  (``"NR"``) no-reference metrics of the reconstruction;
- the one column is ``pyiqa_<name>`` (``+`` written ``plus``, other signs ``_``:
  ``pyiqa:lpips-vgg+`` → ``pyiqa_lpips_vggplus``); its direction is pyiqa's ``lower_better``
  (default: higher is better), its bounds pyiqa's ``score_range`` where pyiqa gives exact
  numbers (``"0, 1"``); approximate ones (``"~0, ~1"``) are kept in the label only;
- the dataset-level presets (``fid``, ``sfid``, ``fid_dinov2``, ``inception_score``) take
  folders, not an image, and are refused: use gcbench's ``fid``/``kid``.

Images go to pyiqa as its own file loader makes them (float32 RGB in [0, 1], N×3×H×W), so a
value equals ``pyiqa.create_metric(NAME)(reconstruction_file, original_file)``.

Pretrained files. pyiqa downloads its weights on first use; here every download goes through
gcbench: while a pyiqa model is built, its ``load_file_from_url`` and torch hub's
``download_url_to_file`` are replaced by :func:`_fetch`, which takes a file that gcbench's
weights manifest knows from ``gcbench.weights.resolve`` (hash-checked), a file found in
``$GCBENCH_WEIGHTS`` or in pyiqa's cache as it is (its SHA-256 goes into the metric's identity),
and otherwise downloads it only when downloads are allowed: with ``GCBENCH_OFFLINE=1`` the
metric fails before any image with a :class:`~gcbench.core.errors.WeightsError` naming the
file, the URL pyiqa would fetch and the folder to put it in. Hugging Face downloads are
switched off the same way (``HF_HUB_OFFLINE=1`` while the model is built).

pyiqa is imported only when such a metric runs; listing the family reads pyiqa's preset file
without importing pyiqa.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import numpy as np

from gcbench.core.availability import Availability, require_modules
from gcbench.core.errors import ConfigError, MetricError, UnavailableError, WeightsError
from gcbench.metrics.base import Column, Metric, NoRefMetric, PairMetric
from gcbench.metrics.noreference import (
    _version,  # the installed version of a distribution
)

PREFIX = "pyiqa"
# pyiqa presets that score a folder of images, not one image: they have no per-image value.
DATASET_LEVEL = frozenset({"fid", "sfid", "fid_dinov2", "inception_score"})
DESCRIPTION = "any full-reference or no-reference pyiqa metric by its pyiqa name (pyiqa:fsim, pyiqa:musiq)"


@lru_cache(maxsize=1)
def pyiqa_configs() -> dict[str, dict[str, Any]]:
    """pyiqa's ``DEFAULT_CONFIGS``, read from its file without importing pyiqa ({} without pyiqa)."""
    spec = importlib.util.find_spec("pyiqa")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(list(spec.submodule_search_locations)[0]) / "default_model_configs.py"
    loader_spec = importlib.util.spec_from_file_location("gcbench_pyiqa_default_model_configs", path)
    if loader_spec is None or loader_spec.loader is None:
        return {}
    module = importlib.util.module_from_spec(loader_spec)
    loader_spec.loader.exec_module(module)  # the file only builds a dict (no pyiqa import)
    return dict(module.DEFAULT_CONFIGS)


def member_names() -> list[str]:
    """Every pyiqa preset that scores one image (what ``pyiqa:NAME`` accepts)."""
    return sorted(n for n in pyiqa_configs() if n not in DATASET_LEVEL)


def column_name(member: str) -> str:
    """``pyiqa_<name>`` with ``+`` spelled ``plus`` and other non-alphanumerics ``_``."""
    return "pyiqa_" + re.sub(r"[^0-9a-z]+", "_", member.replace("+", "plus").lower()).strip("_")


def score_bounds(text: Any) -> tuple[float | None, float | None]:
    """Exact numeric bounds of pyiqa's ``score_range`` (``"0, 1"``); approximate ones (``~``) give None."""
    parts = str(text or "").split(",")
    if len(parts) != 2:
        return None, None
    out: list[float | None] = []
    for part in parts:
        part = part.strip()
        try:
            out.append(None if "~" in part or not part else float(part))
        except ValueError:
            out.append(None)
    return out[0], out[1]


class PyIQAMetric(Metric):
    """One pyiqa preset as a gcbench metric (subclassed per preset by :func:`metric_class`)."""

    pyiqa_name: ClassVar[str]
    score_range: ClassVar[str] = ""
    library = "pyiqa"
    uses_device = True

    def __init__(self, device: str = "cpu", **options: Any) -> None:
        super().__init__(device, **options)
        self._model: Any = None
        self._files: dict[str, str] = {}  # file name → SHA-256 of every pretrained file pyiqa used

    @classmethod
    def available(cls) -> Availability:
        return require_modules("torch", "pyiqa", extra="niqe")

    def versions(self) -> dict[str, str]:
        out = {"pyiqa": _version("pyiqa"), "torch": _version("torch")}
        out.update({f"file:{name}": digest for name, digest in sorted(self._files.items())})
        return out

    def preflight(self) -> None:
        """Build the model once up front: a missing pretrained file fails here, before any image."""
        self.prepare()

    def prepare(self) -> None:
        if self._model is not None:
            return
        with _guarded_downloads(self.name, self._files):
            import pyiqa

            try:
                self._model = pyiqa.create_metric(self.pyiqa_name, device=self.device, **self.options)
            except (TypeError, KeyError) as exc:  # an option pyiqa's network does not take
                raise ConfigError(f"pyiqa metric {self.pyiqa_name!r} rejected the options {self.options}: {exc}") from exc

    def score(self, image: np.ndarray, reference: np.ndarray | None = None) -> float:
        """pyiqa's value for ``image`` (and its ``reference`` for full-reference metrics)."""
        import torch

        self.prepare()

        def tensor(a: np.ndarray) -> Any:  # pyiqa's loader: RGB float32 / 255 (a copy: may be read-only)
            return (torch.tensor(np.asarray(a)).permute(2, 0, 1)[None].to(torch.float32) / 255.0).to(self.device)

        try:
            with torch.no_grad():
                args = (tensor(image),) if reference is None else (tensor(image), tensor(reference))
                value = float(self._model(*args).flatten()[0])
        except (AssertionError, RuntimeError, ValueError) as exc:
            raise MetricError(f"pyiqa {self.pyiqa_name}: {exc}") from exc
        if not np.isfinite(value):
            raise MetricError(f"pyiqa {self.pyiqa_name} is not finite for this {image.shape[1]}×{image.shape[0]} image")
        return value


class _PairIQA(PyIQAMetric, PairMetric):
    def compute(self, original: np.ndarray, reconstruction: np.ndarray) -> dict[str, float]:
        if original.shape != reconstruction.shape:
            raise MetricError(f"shapes differ: original {original.shape}, reconstruction {reconstruction.shape}")
        return {self.columns[0].name: self.score(reconstruction, original)}


class _NoRefIQA(PyIQAMetric, NoRefMetric):
    def compute(self, original: np.ndarray | None, reconstruction: np.ndarray) -> dict[str, float]:
        return {self.columns[0].name: self.score(reconstruction)}


@lru_cache(maxsize=None)
def metric_class(member: str) -> type[PyIQAMetric]:
    """The metric class of pyiqa preset ``member`` (one class per preset, so its identity is stable)."""
    if not pyiqa_configs():
        raise UnavailableError(f"metric {PREFIX}:{member} needs pyiqa, which is not installed; "
                               "install it with: pip install 'gcbench[niqe]'")
    config = pyiqa_configs().get(member)
    if config is None or member in DATASET_LEVEL:
        why = "scores a folder, not an image (use gcbench's fid or kid)" if member in DATASET_LEVEL else "is not a pyiqa preset"
        raise ConfigError(f"pyiqa metric {member!r} {why}")
    full_reference = config.get("metric_mode") == "FR"
    low, high = score_bounds(config.get("score_range"))
    text_range = str(config.get("score_range") or "").strip()
    label = f"{member} (pyiqa{', range ' + text_range if text_range else ''})"
    column = Column(column_name(member), higher_is_better=not bool(config.get("lower_better", False)),
                    label=label, minimum=low, maximum=high)
    attrs = {"name": f"{PREFIX}:{member}", "pyiqa_name": member, "columns": (column,), "score_range": text_range,
             "__doc__": f"pyiqa's {member!r} preset ({'full-reference' if full_reference else 'no-reference'})."}
    base = _PairIQA if full_reference else _NoRefIQA
    return type(f"PyIQA_{column.name}", (base,), attrs)


def family() -> Any:
    """The ``pyiqa:`` prefix family of the metric registry."""
    from gcbench.core.registry import Family

    return Family(PREFIX, metric_class, members=member_names, description=DESCRIPTION)


# -- downloads --------------------------------------------------------------------------------


def _pyiqa_cache() -> Path:
    from gcbench import weights

    return weights.LIBRARY_CACHES["pyiqa"]()


def _fetch(url: str, target: Path, metric: str, files: dict[str, str], download: Any) -> Path:
    """The local file for ``url`` that pyiqa (or torch hub) wants at ``target``; see the module doc."""
    import shutil

    from gcbench import weights

    name = target.name
    entry = next((e for e in weights.entries() if e.filename == name), None)
    if entry is not None:
        found = weights.resolve(entry.name)  # hash-checked; downloads only where allowed
    else:
        found = next((d / name for d in weights.user_dirs() if (d / name).is_file()), None)
        if found is None and target.is_file():
            found = target
        if found is None:
            if weights.offline():
                raise WeightsError(
                    f"metric {metric}: pyiqa needs the file {name!r}, which it would download from {url} into "
                    f"{target.parent}; downloads are off (GCBENCH_OFFLINE=1). Download it elsewhere and put it in "
                    f"{target.parent} or in a folder named by $GCBENCH_WEIGHTS.")
            download(url, str(target))
            found = target
    files[name] = weights.file_sha256(found)
    if found != target and found.resolve() != target.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found, target)  # torch hub reads the file where it expects it
    return target


@contextlib.contextmanager
def _guarded_downloads(metric: str, files: dict[str, str]) -> Iterator[None]:
    """While pyiqa builds a model, route every download through :func:`_fetch`."""
    import pyiqa.utils.download_util as dl
    import torch.hub

    from gcbench import weights

    original_load, original_hub = dl.load_file_from_url, torch.hub.download_url_to_file

    def load_file_from_url(url: str, model_dir: str | None = None, progress: bool = True,
                           file_name: str | None = None) -> str:
        name = file_name or os.path.basename(urlparse(url).path)
        target = Path(model_dir or _pyiqa_cache()) / name
        return str(_fetch(url, target, metric, files, lambda u, dst: original_hub(u, dst, None, progress)))

    def download_url_to_file(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        _fetch(url, Path(dst), metric, files, lambda u, d: original_hub(u, d, hash_prefix, progress))

    patched = [m for m in list(sys.modules.values())
               if getattr(m, "__name__", "").startswith("pyiqa") and getattr(m, "load_file_from_url", None) is original_load]
    saved_env = os.environ.get("HF_HUB_OFFLINE")
    try:
        for module in patched + [dl]:
            module.load_file_from_url = load_file_from_url
        torch.hub.download_url_to_file = download_url_to_file
        if weights.offline():
            os.environ["HF_HUB_OFFLINE"] = "1"
        yield
    finally:
        for module in patched + [dl]:
            module.load_file_from_url = original_load
        torch.hub.download_url_to_file = original_hub
        if saved_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved_env
