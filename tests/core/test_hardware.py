"""The hardware fingerprint: CPU, cores, memory, GPU and driver, versions, the user's name."""

from __future__ import annotations

import json
import math
import os
import re
import stat
import sys
from types import SimpleNamespace

import pytest

from gcbench.core import hardware

# Two sockets × two cores × two hyper-threads, in /proc/cpuinfo's layout (trimmed).
CPUINFO = "\n\n".join(
    f"processor\t: {i}\nmodel name\t: Test CPU 9000\nphysical id\t: {sock}\ncore id\t\t: {core}\n"
    for i, (sock, core) in enumerate((s, c) for s in (0, 1) for c in (0, 1) for _ in (0, 1))
)


def test_physical_cores_counts_distinct_socket_core_pairs():
    assert hardware.physical_cores(CPUINFO) == 4
    assert hardware.physical_cores("processor\t: 0\nmodel name\t: x\n") is None


def test_nvidia_driver_version_from_proc_text():
    proprietary = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n" \
                  "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n"
    open_module = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.15  Release Build  (dvs-builder@U16)"
    assert hardware.parse_nvidia_proc_version(proprietary) == "535.104.05"
    assert hardware.parse_nvidia_proc_version(open_module) == "550.54.15"
    assert hardware.parse_nvidia_proc_version("no driver here") is None


def test_driver_version_falls_back_to_nvidia_smi(tmp_path, monkeypatch):
    smi = tmp_path / "nvidia-smi"
    smi.write_text('#!/bin/sh\n[ "$1" = "--query-gpu=driver_version" ] && echo "550.54.15" && exit 0\nexit 3\n')
    smi.chmod(smi.stat().st_mode | stat.S_IXUSR)
    real_open = open

    def no_proc(path, *a, **kw):
        if str(path) == "/proc/driver/nvidia/version":
            raise FileNotFoundError(path)
        return real_open(path, *a, **kw)

    monkeypatch.setattr("builtins.open", no_proc)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    hardware.gpu_driver_version.cache_clear()
    try:
        assert hardware.gpu_driver_version() == "550.54.15"
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        hardware.gpu_driver_version.cache_clear()
        assert hardware.gpu_driver_version() is None
    finally:
        hardware.gpu_driver_version.cache_clear()


def _meminfo_bytes():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal")


def test_fingerprint_describes_this_machine():
    fp = hardware.fingerprint("my laptop", libraries={"libjpeg-turbo": "3.1.0"})
    assert fp["name"] == "my laptop" and fp["cpu_count"] == os.cpu_count()
    assert fp["affinity"] == len(os.sched_getaffinity(0))
    with open("/proc/cpuinfo") as f:
        models = re.findall(r"^model name\s*:\s*(.+)$", f.read(), flags=re.M)
    assert fp["cpu_model"] == models[0].strip()
    assert fp["memory_bytes"] == pytest.approx(_meminfo_bytes(), rel=0.01)
    assert fp["physical_cores"] is None or 1 <= fp["physical_cores"] <= fp["cpu_count"]
    import numpy

    import gcbench

    assert fp["versions"]["gcbench"] == gcbench.__version__ and fp["versions"]["numpy"] == numpy.__version__
    assert fp["libraries"] == {"libjpeg-turbo": "3.1.0"}
    assert fp["hostname"] and hardware.fingerprint()["name"] == fp["hostname"]


def test_fingerprint_id_ignores_the_name_and_libraries_but_not_the_hardware():
    a = hardware.fingerprint("a")
    b = hardware.fingerprint("b", libraries={"x": "1"})
    assert a["id"] == b["id"]
    other = dict(a, cpu_model="Another CPU")
    assert hardware.fingerprint_id(other) != a["id"]
    assert hardware.fingerprint_id(dict(a, versions=dict(a["versions"], torch="0.0"))) != a["id"]


def test_gpu_fields_with_cuda(monkeypatch):
    """The GPU path, with torch.cuda answering as it does on a one-GPU machine."""
    import torch

    props = SimpleNamespace(name="NVIDIA H100 80GB HBM3", total_memory=85 * 2**30, major=9, minor=0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: props)
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 90100)
    monkeypatch.setattr(hardware, "gpu_driver_version", lambda: "570.86.15")
    fp = hardware.fingerprint("gpu box", probe_gpu=True)
    assert fp["gpus"] == [{"index": 0, "name": props.name, "memory_bytes": 85 * 2**30, "capability": "9.0"}]
    assert fp["gpu_driver"] == "570.86.15" and fp["cuda"] == "12.8" and fp["cudnn"] == 90100
    flat = hardware.flat_fingerprint(fp)
    assert flat["hw_gpu"] == props.name and flat["hw_gpu_driver"] == "570.86.15" and flat["hw_cuda"] == "12.8"
    assert flat["hw_gpu_memory_gib"] == 85.0
    text = hardware.describe(flat)
    assert "NVIDIA H100 80GB HBM3, driver 570.86.15, CUDA 12.8" in text
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert hardware.fingerprint("gpu box")["id"] != fp["id"], "the GPU is part of what makes timings comparable"


def test_no_gpu_without_torch_imported(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert hardware.gpu_info(probe_torch=False) == []


def test_flat_fingerprint_and_description():
    fp = hardware.fingerprint("box", libraries={"b": "2", "a": "1"})
    flat = hardware.flat_fingerprint(fp)
    assert flat["hw_name"] == "box" and flat["hw_id"] == fp["id"]
    assert flat["hw_memory_gib"] == round(fp["memory_bytes"] / 2**30, 2)
    assert json.loads(flat["hw_libraries"]) == {"a": "1", "b": "2"}
    assert all(not isinstance(v, (dict, list)) for v in flat.values()), "every column is a scalar"
    text = hardware.describe(flat)
    assert text.startswith(fp["cpu_model"]) and f"{fp['affinity']} usable cores" in text
    if not fp["gpus"]:
        assert "no GPU" in text
    # a row read back from CSV has NaN where a text was empty
    assert "nan" not in hardware.describe(dict(flat, hw_gpu=math.nan, hw_gpu_driver=math.nan, hw_cuda=math.nan))
