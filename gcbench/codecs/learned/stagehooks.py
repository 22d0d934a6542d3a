"""Stage timing inside a learned model: which sub-module is which stage, and the forward hooks
that attribute the time of ``compress``/``decompress`` to those stages without editing the model."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from gcbench.codecs.stages import stage

PRE, ANALYSIS, HYPER, ENTROPY, SYNTHESIS, POST = (
    "preprocess", "analysis", "hyper", "entropy-coding", "synthesis", "postprocess")
STAGES = (PRE, ANALYSIS, HYPER, ENTROPY, SYNTHESIS, POST)

DEFAULT_ROLES: dict[str, str] = {
    "g_a": ANALYSIS, "encoder": ANALYSIS,
    "h_a": HYPER, "h_s": HYPER, "context_prediction": HYPER, "entropy_parameters": HYPER,
    "hyper_analysis": HYPER, "hyper_synthesis": HYPER, "hyper_synthesis_mean": HYPER, "hyper_synthesis_scale": HYPER,
    "g_s": SYNTHESIS, "decoder": SYNTHESIS, "generator": SYNTHESIS,
}


class StageHooks:
    """Attributes the time inside ``model.compress``/``decompress`` to stages, without editing the model.

    The model's top-level sub-modules named in ``roles`` get forward hooks; while :meth:`running`
    is active, entering such a module pauses the current stage and starts the module's, leaving
    it resumes the one before. Stages never overlap, so they add up to the whole call. Hooks do
    nothing outside :meth:`running`; :func:`gcbench.codecs.stages.stage` itself does nothing unless a
    recorder is active, so a normal run pays a context-variable look-up per module call.
    """

    def __init__(self, model: Any, roles: Mapping[str, str], device: Any) -> None:
        self.device = device
        self._names: list[str] = []
        self._open: contextlib.AbstractContextManager[Any] | None = None
        self.handles = []
        self.roles = {}
        for attr, role in roles.items():
            module = getattr(model, attr, None)
            if module is None or not hasattr(module, "register_forward_pre_hook"):
                continue
            self.roles[attr] = role
            self.handles.append(module.register_forward_pre_hook(self._pre(role)))
            self.handles.append(module.register_forward_hook(self._post))

    def _switch_to(self, name: str | None) -> None:
        if self._open is not None:
            self._open.__exit__(None, None, None)
            self._open = None
        if name is not None:
            cm = stage(name, self.device)
            cm.__enter__()
            self._open = cm

    def _pre(self, role: str) -> Any:
        def hook(module: Any, args: Any) -> None:
            if self._names:
                self._names.append(role)
                self._switch_to(role)

        return hook

    def _post(self, module: Any, args: Any, output: Any) -> None:
        if len(self._names) > 1:
            self._names.pop()
            self._switch_to(self._names[-1])

    @contextlib.contextmanager
    def running(self, base: str) -> Iterator[None]:
        self._names = [base]
        self._switch_to(base)
        try:
            yield
        finally:
            self._names = []
            self._switch_to(None)

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []
