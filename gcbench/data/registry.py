"""The dataset registry: manifests from ``datasets/`` folders and readers for fixed layouts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gcbench.core.registry import Registry, lazy

# Dataset readers for layouts a manifest cannot describe (the files are the user's own copy).
BUILTIN_DATASETS: dict[str, str] = {
    "cityscapes": "gcbench.data.cityscapes:CITYSCAPES",
}


def _populate_datasets(reg: Registry[Any]) -> None:
    from gcbench.data.datasets import manifest_paths

    for name, target in BUILTIN_DATASETS.items():
        reg.add(name, target)
    for path in manifest_paths():
        reg.add(path.stem, lazy(_manifest_loader(path)), origin=str(path), replace=True)


def _manifest_loader(path: Any) -> Callable[[], Any]:
    def load() -> Any:
        from gcbench.data.datasets import load_manifest

        return load_manifest(path)

    return load


datasets: Registry[Any] = Registry("dataset", populate=_populate_datasets)
