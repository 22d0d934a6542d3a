"""From names to checked plans: the one codec resolution and metric resolution of ``run`` and ``timing``.

Everything a user can get wrong is found here, before any work starts: an unknown name (with
"Did you mean"), a codec given twice, a setting off the codec's rate axis (``jpeg@500``,
``jpeg@abc``), a codec or metric that cannot run here (with how to fix it), a pretrained file
that is missing (the codec's preflight), a ``--binary`` name no chosen codec runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gcbench.core.errors import ConfigError, UnavailableError, WeightsError
from gcbench.core.settings import Setting, split_codec_arg
from gcbench.execution.plan import CodecPlan, MetricRef


def _unavailable(kind: str, name: str, avail: Any) -> UnavailableError:
    return UnavailableError(f"{kind} {name!r} cannot run here: {avail.reason}"
                            + (f". To fix: {avail.hint}" if avail.hint else ""))


def _entry(entry: Any) -> tuple[Any, tuple[Setting, ...] | None]:
    """(spec, settings or None) of a ``name[@settings]`` string or a CodecSpec (timed at its own settings)."""
    from gcbench.codecs.registry import codecs as codec_registry
    from gcbench.codecs.spec import CodecSpec

    if isinstance(entry, CodecSpec):
        return entry, tuple(entry.settings)
    name, settings = split_codec_arg(str(entry))
    return codec_registry.get(name), (tuple(settings) if settings is not None else None)


def check_settings(spec: Any, settings: Sequence[Setting]) -> None:
    """Every requested setting on the codec's declared rate axis; ConfigError names the valid range."""
    for setting in settings:
        spec.check_setting(setting)


def resolve_codecs(entries: Sequence[Any], overrides: Mapping[str, Mapping[str, Any]] | None = None,
                   binaries: Mapping[str, str] | None = None,
                   adapt: Callable[[Any], Any] | None = None) -> list[CodecPlan]:
    """Checked plans for ``entries`` (``"name"``, ``"name@50,75"``, ``"name@1.0:3.0:0.25"`` or a CodecSpec).

    ``overrides`` are spec options per codec name, ``binaries`` program paths (``--binary``);
    ``adapt(spec) -> spec`` sets what the caller fixes on every spec (timing: threads, device)
    before the codec is built, checked and its preflight run.
    """
    from gcbench.codecs.external import check_binaries_used, with_binaries
    from gcbench.codecs.spec import build_codec

    if not entries:
        raise ConfigError("no codec given (use --codec NAME; `gcbench ls codecs` lists them)")
    plans: list[CodecPlan] = []
    seen: set[str] = set()
    for entry in entries:
        spec, chosen = _entry(entry)
        if spec.name in seen:
            raise ConfigError(f"codec {spec.name!r} is given twice; list its settings once: {spec.name}@a,b,c")
        seen.add(spec.name)
        if overrides and spec.name in overrides:
            spec = spec.with_options(**overrides[spec.name])
        spec = with_binaries(spec, dict(binaries) if binaries else None)
        settings = chosen if chosen is not None else tuple(spec.settings)
        check_settings(spec, settings)
        if adapt is not None:
            spec = adapt(spec)
        codec = build_codec(spec)
        avail = codec.available()
        if not avail:
            raise _unavailable("codec", spec.name, avail)
        codec.preflight(list(settings))
        plans.append(CodecPlan(spec=spec, settings=settings, versions=codec.versions(),
                               uses_side_input=bool(codec.uses_side_input)))
    check_binaries_used(dict(binaries) if binaries else None, [p.spec for p in plans])
    return plans


def resolve_metrics(names: list[str], device: str, options: Mapping[str, Mapping[str, Any]] | None = None,
                    missing: dict[str, str] | None = None) -> list[MetricRef]:
    """References of the metrics to compute. A metric whose weight file is missing is left out
    and its message put in ``missing`` (when given; else the WeightsError is raised)."""
    from gcbench.metrics.registry import get_metric
    from gcbench.metrics.registry import metrics as metric_registry

    refs: list[MetricRef] = []
    for name in dict.fromkeys(names):
        cls = metric_registry.get(name)
        avail = cls.available()
        if not avail:
            raise _unavailable("metric", name, avail)
        opts = dict((options or {}).get(name, {}))
        metric = get_metric(name, device=device, **opts)
        try:
            metric.preflight()
        except WeightsError as exc:
            if missing is None:
                raise
            missing[name] = str(exc)
            continue
        reference_id = metric.reference_identity() if cls.kind in ("set", "task") else ""
        refs.append(MetricRef(name=name, metric_id=metric.identity(), options=tuple(sorted(opts.items())),
                              device=device, kind=cls.kind, reference_id=reference_id,
                              needs_mask=bool(getattr(cls, "needs_mask", False)),
                              needs_label=bool(getattr(cls, "needs_label", False))))
    return refs
