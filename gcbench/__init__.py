"""gcbench: rate–distortion–perception benchmarking for generative and classical image codecs.

The public API is listed in ``__all__``; attributes load lazily so that ``import gcbench``
(and ``gcbench --help``) never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Codec": "gcbench.codecs.base:Codec",
    "CodecSpec": "gcbench.codecs.spec:CodecSpec",
    "Availability": "gcbench.core.availability:Availability",
    "Metric": "gcbench.metrics.base:Metric",
    "Column": "gcbench.metrics.base:Column",
    "Registry": "gcbench.core.registry:Registry",
    "codecs": "gcbench.codecs",
    "metrics": "gcbench.metrics",
    "datasets": "gcbench.data.registry:datasets",
    "get_codec": "gcbench.codecs.registry:get_codec",
    "get_metric": "gcbench.metrics.registry:get_metric",
    "load_dataset": "gcbench.data.datasets:load_dataset",
    "load_image": "gcbench.data.images:load_image",
    "run": "gcbench.execution.runner:run",
    "RunConfig": "gcbench.execution.runner:RunConfig",
    "ResultStore": "gcbench.results.store:ResultStore",
    "per_image": "gcbench.results.views:per_image",
    "summary": "gcbench.results.views:summary",
    "plot_rd": "gcbench.analysis.plots:plot_rd",
    "GcbenchError": "gcbench.core.errors:GcbenchError",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'gcbench' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    # A package name alone (``gcbench.codecs``) is the package itself: it answers as its registry.
    value = getattr(importlib.import_module(module), attr) if attr else importlib.import_module(module)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
