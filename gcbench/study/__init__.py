"""Pairwise human studies: blind two-alternative forms from a results folder, and their analysis.

- :func:`export_study` (``gcbench study export``): comparable reconstructions, crops, catch
  trials, per-participant order and sides, opaque file names, one offline page per
  participant, a CSV for crowdsourcing, and the key kept apart from all of them.
- :func:`analyze_study` (``gcbench study analyze``): validated answers, quality control,
  preference rates with Wilson intervals and binomial tests, Bradley–Terry and CLIC-style Elo
  with bootstrap intervals over participants, tables and a plot.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "ExportConfig": "gcbench.study.export:ExportConfig",
    "ExportReport": "gcbench.study.export:ExportReport",
    "export_study": "gcbench.study.export:export_study",
    "AnalysisConfig": "gcbench.study.analyze:AnalysisConfig",
    "AnalysisReport": "gcbench.study.analyze:AnalysisReport",
    "analyze_study": "gcbench.study.analyze:analyze_study",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'gcbench.study' has no attribute {name!r}")
    module, attr = target.split(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
