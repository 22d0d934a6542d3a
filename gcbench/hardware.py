"""A fingerprint of the machine, carried by every run and timing row.

Reading it imports nothing heavy: library versions come from package metadata, the CPU from
/proc/cpuinfo (or platform), the GPU from torch only when torch is already imported or asked for.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any


def package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def gpu_info(probe_torch: bool = False) -> list[dict[str, Any]]:
    """GPUs as torch sees them; empty without CUDA. Imports torch only when ``probe_torch``."""
    if not probe_torch and "torch" not in sys.modules:
        return []
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    out = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        out.append({
            "index": i,
            "name": props.name,
            "memory_bytes": int(props.total_memory),
            "capability": f"{props.major}.{props.minor}",
        })
    return out


@lru_cache(maxsize=1)
def _static() -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_bytes": memory_bytes(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "hostname": platform.node(),
        "versions": {
            name: package_version(name)
            for name in ("gcbench", "torch", "torchvision", "numpy", "pillow", "pytorch-msssim")
        },
    }


def fingerprint(name: str | None = None, *, probe_gpu: bool = False) -> dict[str, Any]:
    """The machine as a dict; ``name`` is the user's name for it (defaults to the host name)."""
    fp = dict(_static())
    fp["versions"] = dict(fp["versions"])
    fp["gpus"] = gpu_info(probe_gpu)
    if fp["gpus"]:
        try:
            import torch

            fp["cuda"] = torch.version.cuda
            fp["cudnn"] = torch.backends.cudnn.version()
        except Exception:  # noqa: BLE001
            pass
    fp["name"] = name or fp["hostname"]
    fp["id"] = fingerprint_id(fp)
    return fp


def fingerprint_id(fp: dict[str, Any]) -> str:
    """A short hash of what makes timings comparable (hardware and versions, not the name)."""
    keep = {k: fp.get(k) for k in ("cpu_model", "cpu_count", "affinity", "memory_bytes", "gpus", "versions", "cuda")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:12]
