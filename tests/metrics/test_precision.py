"""gcbench.metrics.precision: the TF32 switch that every torch metric runs under."""

from __future__ import annotations

import torch

from gcbench.metrics.precision import full_precision


def test_tf32_switched_off_on_cuda_and_restored() -> None:
    """The switch is flags only, so it is exercised here without a GPU; values on a GPU are
    compared with the CPU's by benchmarks/gpu_check.py."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        with full_precision(torch.device("cuda")):
            assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        with full_precision(torch.device("cpu")):
            assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def test_device_class_is_part_of_a_torch_metrics_identity() -> None:
    """CPU and GPU values are different identities (never read back for each other); the card's
    index is not, and numpy metrics ignore the device."""
    from gcbench.metrics.registry import get_metric

    for name in ("ms-ssim", "ssim", "lpips", "fid"):
        cpu, cuda0, cuda1 = (get_metric(name, device=d) for d in ("cpu", "cuda:0", "cuda:1"))
        assert cpu.uses_device
        assert cpu.identity() != cuda0.identity(), name
        assert cuda0.identity() == cuda1.identity(), name
    psnr_cpu, psnr_cuda = (get_metric("psnr", device=d) for d in ("cpu", "cuda"))
    assert not psnr_cpu.uses_device and psnr_cpu.identity() == psnr_cuda.identity()
