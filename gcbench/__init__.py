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
    "Availability": "gcbench.availability:Availability",
    "Metric": "gcbench.metrics.base:Metric",
    "Column": "gcbench.metrics.base:Column",
    "Registry": "gcbench.registry:Registry",
    "codecs": "gcbench.registry:codecs",
    "metrics": "gcbench.registry:metrics",
    "datasets": "gcbench.registry:datasets",
    "get_codec": "gcbench.registry:get_codec",
    "get_metric": "gcbench.registry:get_metric",
    "load_dataset": "gcbench.datasets:load_dataset",
    "load_image": "gcbench.images:load_image",
    "run": "gcbench.runner:run",
    "RunConfig": "gcbench.runner:RunConfig",
    "ResultStore": "gcbench.store:ResultStore",
    "per_image": "gcbench.views:per_image",
    "summary": "gcbench.views:summary",
    "plot_rd": "gcbench.plots:plot_rd",
    "GcbenchError": "gcbench.errors:GcbenchError",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'gcbench' has no attribute {name!r}")
    module, attr = target.split(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
