"""A fingerprint of the machine, carried by every run and timing row.

Reading it imports nothing heavy: library versions come from package metadata, the CPU from
/proc/cpuinfo (or platform), the GPU from torch only when torch is already imported or asked for,
the NVIDIA driver from /proc/driver/nvidia/version (or ``nvidia-smi`` when that file is absent).

``fingerprint(name)`` is the nested record (kept with a run); ``flat_fingerprint(fp)`` turns it
into scalar ``hw_*`` columns, so every timing row can carry the machine it was measured on and
tables from several machines can be put side by side by ``hw_name``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

#: packages whose versions every fingerprint records (codec libraries are added by the caller)
BASE_PACKAGES = ("gcbench", "torch", "torchvision", "numpy", "pillow", "pytorch-msssim")


def package_version(name: str) -> str | None:
    """The installed version of distribution ``name`` (from its metadata), or None."""
    try:
        return version(name)
    except PackageNotFoundError:
        if name == "gcbench":  # a source checkout that was never installed
            from gcbench import __version__

            return __version__
        return None


def cpu_model() -> str:
    """The CPU's model name as the operating system reports it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def physical_cores(cpuinfo: str | None = None) -> int | None:
    """Distinct (physical id, core id) pairs in /proc/cpuinfo; None where the file says nothing."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read()
        except OSError:
            return None
    cores: set[tuple[str, str]] = set()
    for block in cpuinfo.split("\n\n"):
        fields = dict(
            (k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in block.splitlines()) if _
        )
        if "core id" in fields:
            cores.add((fields.get("physical id", "0"), fields["core id"]))
    return len(cores) or None


def memory_bytes() -> int | None:
    """Physical memory in bytes, or None where it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


_DRIVER_RE = re.compile(r"Kernel Module(?:\s+for\s+\S+)?\s+([0-9]+(?:\.[0-9]+)+)")


def parse_nvidia_proc_version(text: str) -> str | None:
    """The driver version in /proc/driver/nvidia/version ("NVRM version: … Kernel Module  535.104.05 …")."""
    m = _DRIVER_RE.search(text)
    return m.group(1) if m else None


@lru_cache(maxsize=1)
def gpu_driver_version() -> str | None:
    """The NVIDIA driver version, or None on a machine without one."""
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8", errors="replace") as f:
            found = parse_nvidia_proc_version(f.read())
        if found:
            return found
    except OSError:
        pass
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = [ln.strip() for ln in out.stdout.splitlines() if ln.strip()]
    return lines[0] if out.returncode == 0 and lines else None


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
        "physical_cores": physical_cores(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_bytes": memory_bytes(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "hostname": platform.node(),
        "versions": {name: package_version(name) for name in BASE_PACKAGES},
    }


def fingerprint(name: str | None = None, *, probe_gpu: bool = False,
                libraries: dict[str, str] | None = None) -> dict[str, Any]:
    """The machine as a dict; ``name`` is the user's name for it (defaults to the host name).

    ``libraries`` are the versions of the codec libraries being measured (say
    ``{"libjpeg-turbo": "3.1.0"}``), recorded with the machine on that codec's rows.
    """
    fp = dict(_static())
    fp["versions"] = dict(fp["versions"])
    fp["libraries"] = {str(k): str(v) for k, v in sorted((libraries or {}).items())}
    fp["gpus"] = gpu_info(probe_gpu)
    if fp["gpus"]:
        fp["gpu_driver"] = gpu_driver_version()
        try:
            import torch

            fp["cuda"] = torch.version.cuda
            fp["cudnn"] = torch.backends.cudnn.version()
        except Exception:  # noqa: BLE001 - a broken CUDA install must not stop a CPU run
            pass
    fp["name"] = name or fp["hostname"]
    fp["id"] = fingerprint_id(fp)
    return fp


def fingerprint_id(fp: dict[str, Any]) -> str:
    """A short hash of what makes timings comparable (hardware and base versions, not the name).

    Codec library versions are left out: they belong to each codec's rows, and one machine
    timing several codecs is still one machine.
    """
    keep = {k: fp.get(k) for k in ("cpu_model", "cpu_count", "affinity", "memory_bytes", "gpus", "versions", "cuda")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:12]


def flat_fingerprint(fp: dict[str, Any]) -> dict[str, Any]:
    """Scalar ``hw_*`` columns for a table row (nested parts as sorted JSON)."""
    gpus = fp.get("gpus") or []
    versions = fp.get("versions") or {}
    mem = fp.get("memory_bytes")
    return {
        "hw_name": fp.get("name"),
        "hw_id": fp.get("id"),
        "hw_cpu_model": fp.get("cpu_model"),
        "hw_cpu_count": fp.get("cpu_count"),
        "hw_physical_cores": fp.get("physical_cores"),
        "hw_affinity": fp.get("affinity"),
        "hw_memory_gib": round(mem / 2**30, 2) if mem else None,
        "hw_gpu": "; ".join(g["name"] for g in gpus) or "",
        "hw_gpu_memory_gib": round(gpus[0]["memory_bytes"] / 2**30, 2) if gpus else None,
        "hw_gpu_driver": fp.get("gpu_driver") or "",
        "hw_cuda": fp.get("cuda") or "",
        "hw_torch": versions.get("torch") or "",
        "hw_gcbench": versions.get("gcbench") or "",
        "hw_python": fp.get("python"),
        "hw_platform": fp.get("platform"),
        "hw_hostname": fp.get("hostname"),
        "hw_versions": json.dumps(versions, sort_keys=True),
        "hw_libraries": json.dumps(fp.get("libraries") or {}, sort_keys=True),
    }


def _given(value: Any) -> bool:
    """False for None, empty text and NaN (a missing cell of a table read back from CSV)."""
    return value is not None and value == value and str(value) != ""


def describe(flat: dict[str, Any]) -> str:
    """One line naming the machine, for table captions: CPU, cores, memory, GPU, driver, CUDA, torch."""
    flat = {k: v for k, v in flat.items() if _given(v)}
    parts = [str(flat.get("hw_cpu_model") or "unknown CPU")]
    cores = flat.get("hw_affinity") or flat.get("hw_cpu_count")
    if cores:
        phys = flat.get("hw_physical_cores")
        parts.append(f"{cores} usable cores" + (f" ({phys} physical)" if phys else ""))
    if flat.get("hw_memory_gib"):
        parts.append(f"{flat['hw_memory_gib']:g} GiB RAM")
    if flat.get("hw_gpu"):
        gpu = str(flat["hw_gpu"])
        if flat.get("hw_gpu_driver"):
            gpu += f", driver {flat['hw_gpu_driver']}"
        if flat.get("hw_cuda"):
            gpu += f", CUDA {flat['hw_cuda']}"
        parts.append(gpu)
    else:
        parts.append("no GPU")
    if flat.get("hw_torch"):
        parts.append(f"torch {flat['hw_torch']}")
    if flat.get("hw_gcbench"):
        parts.append(f"gcbench {flat['hw_gcbench']}")
    return ", ".join(parts)
