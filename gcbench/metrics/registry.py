"""The metric registry: every built-in metric, one line each, plus ``gcbench.metrics`` plugins.

Names ``pyiqa:NAME`` resolve through the registry's ``pyiqa`` prefix family
(:class:`gcbench.core.registry.Family`, built in :mod:`gcbench.metrics.iqa`): any per-image pyiqa
preset, loaded on first use and not listed by ``names()``.
"""

from __future__ import annotations

from typing import Any

from gcbench.core.registry import Registry

BUILTIN_METRICS: dict[str, str] = {
    "psnr": "gcbench.metrics.pixel:PSNR",
    "ms-ssim": "gcbench.metrics.pixel:MSSSIM",
    "lpips": "gcbench.metrics.perceptual:LPIPS",
    "dists": "gcbench.metrics.perceptual:DISTS",
    "fid": "gcbench.metrics.distribution:FID",
    "kid": "gcbench.metrics.distribution:KID",
    "niqe": "gcbench.metrics.noreference:NIQE",
    "psnr-yuv": "gcbench.metrics.yuv:YUVPSNR",
    "ssim": "gcbench.metrics.ssim:SSIM",
    "roi-psnr": "gcbench.metrics.region:RegionPSNR",
    "saliency-psnr": "gcbench.metrics.region:SaliencyPSNR",
    "roi-lpips": "gcbench.metrics.region:RegionLPIPS",
    "roi-bits": "gcbench.metrics.region:RegionBits",
    "miou": "gcbench.metrics.semantic:CityscapesMIoU",
    "miou-pseudo": "gcbench.metrics.semantic:PseudoLabelMIoU",
}


def _validate_metric(name: str, obj: Any) -> Any:
    from gcbench.metrics.base import validate_metric_class

    return validate_metric_class(name, obj)


def _populate_metrics(reg: Registry[Any]) -> None:
    from gcbench.metrics.iqa import family

    for name, target in BUILTIN_METRICS.items():
        reg.add(name, target)
    # "pyiqa:NAME" for every pyiqa preset, built on first use (gcbench.metrics.iqa)
    reg.add_family(family())


metrics: Registry[Any] = Registry(
    "metric", validate=_validate_metric, entry_point_group="gcbench.metrics", populate=_populate_metrics
)


def get_metric(name: str, **options: Any) -> Any:
    """A metric instance for a registered metric name."""
    return metrics.get(name)(**options)


def all_metric_names() -> list[str]:
    """Registered names plus every member of the prefix families (for column declarations)."""
    return metrics.names() + metrics.family_names()
