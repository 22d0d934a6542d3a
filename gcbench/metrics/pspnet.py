"""PSPNet R50-D8 (Cityscapes) through mmsegmentation: RGB images in, 19-class train-id maps out.

The model is mmsegmentation's own, built from its config ``pspnet_r50-d8_4xb2-40k_cityscapes-512x1024``
(shipped inside the mmsegmentation wheel) and run with its own inference path
(``mmseg.apis.inference_model``), so resolution and normalisation are the config's:

- the test pipeline's ``Resize(scale=(2048, 1024), keep_ratio=True)`` (cv2 bilinear on uint8):
  an image is scaled so that it fits 2048×1024, e.g. a 1024×512 image is upsampled ×2;
- the data preprocessor's mean (123.675, 116.28, 103.53) and std (58.395, 57.12, 57.375) on RGB
  (mmseg loads BGR and swaps; images are handed over in BGR order for that reason);
- ``test_cfg.mode = "whole"``: one forward pass over the whole image; logits resized
  (bilinear) back to the original size, then argmax.

Images of one size go through in batches of ``batch_size``. mmsegmentation's own evaluation
runs one image at a time; batching changes nothing in exact arithmetic, and ``batch_size=1``
reproduces it bit for bit. SyncBN is reverted to BN as mmsegmentation's inferencer does
(identical in eval mode) so the model runs on one CPU or GPU.

Weights: the Cityscapes checkpoint through :mod:`gcbench.weights` (entry
``pspnet-r50-d8-cityscapes``), or a user's file (``checkpoint``), or — only when asked for
explicitly — a randomly initialised stand-in for offline tests (``random_init``): He-normal
convolutions and identity batch norm from a fixed seed, so that its output depends on its input
(PyTorch's default initialisation makes an almost constant map). A stand-in is never a result.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from gcbench.core.errors import UnavailableError, WeightsError

CONFIG_NAME = "pspnet_r50-d8_4xb2-40k_cityscapes-512x1024"
WEIGHTS_ENTRY = "pspnet-r50-d8-cityscapes"
NUM_CLASSES = 19


def config_file() -> Path:
    """The config inside the installed mmsegmentation (``mmseg/.mim/configs``)."""
    import importlib.util

    spec = importlib.util.find_spec("mmseg")
    if spec is None or not spec.origin:
        raise UnavailableError("mmsegmentation is not installed. To fix: pip install 'gcbench[seg]'")
    path = Path(spec.origin).parent / ".mim" / "configs" / "pspnet" / f"{CONFIG_NAME}.py"
    if not path.is_file():
        raise UnavailableError(f"mmsegmentation has no config {CONFIG_NAME} at {path}; "
                               "reinstall it: pip install --force-reinstall mmsegmentation==1.2.2")
    return path


def _import_mmseg() -> Any:
    from gcbench.metrics.mmcv_ops_shim import install

    install()  # before mmseg: its modules import mmcv.ops at import time
    with warnings.catch_warnings():
        # mmcv-lite warns that MultiScaleDeformableAttention (compiled) is missing; PSPNet has none
        warnings.filterwarnings("ignore", message=".*MultiScaleDeformableAttention.*")
        import mmseg.apis

    return mmseg.apis


def he_normal_(model: Any, seed: int) -> None:
    """The stand-in's weights: He-normal convolutions (fan-in), identity batch norm, from ``seed``."""
    import torch

    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()
                module.running_mean.zero_()
                module.running_var.fill_(1.0)


def load_weights(model: Any, path: Path) -> None:
    """Load a checkpoint (mmseg's ``{"state_dict": …}`` or a bare state dict); every model key must be there."""
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)  # hash-checked or the user's own file
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise WeightsError(f"{path}: not a PyTorch checkpoint ({exc})") from exc
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: no state dict in this checkpoint")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    try:
        missing, _unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shapes that do not fit
        raise WeightsError(f"{path} is not a {CONFIG_NAME} checkpoint: {str(exc).splitlines()[-1].strip()}") from exc
    if missing:
        raise WeightsError(f"{path} is not a {CONFIG_NAME} checkpoint: {len(missing)} weights missing "
                           f"(e.g. {', '.join(missing[:3])})")


class PSPNetSegmenter:
    """The model on a device; ``segment(images)`` → one uint8 train-id map per image (original size)."""

    def __init__(self, device: str = "cpu", checkpoint: Path | None = None, random_seed: int | None = None,
                 test_scale: tuple[int, int] | None = None, batch_size: int = 2) -> None:
        import torch
        from mmengine import Config
        from mmengine.model import revert_sync_batchnorm

        if (checkpoint is None) == (random_seed is None):
            raise ValueError("give exactly one of checkpoint and random_seed")
        apis = _import_mmseg()
        cfg = Config.fromfile(str(config_file()))
        if test_scale is not None:
            for step in cfg.test_pipeline:
                if step.get("type") == "Resize":
                    step["scale"] = tuple(int(v) for v in test_scale)
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            # building draws default initial weights: keep the caller's RNG; the config's training
            # losses warn about their own defaults, irrelevant to inference
            warnings.filterwarnings("ignore", message=".*(build_loss|avg_non_ignore).*")
            model = apis.init_model(cfg, None, device="cpu")
        model = revert_sync_batchnorm(model)
        if checkpoint is not None:
            load_weights(model, checkpoint)
        else:
            he_normal_(model, int(random_seed))  # type: ignore[arg-type]
        self.model = model.to(device).eval()
        self.device = device
        self.batch_size = max(1, int(batch_size))
        self._inference = apis.inference_model

    def segment(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Train-id maps (H×W uint8, 0…18) of RGB uint8 images; same-size images share batches."""
        out: list[np.ndarray | None] = [None] * len(images)
        by_size: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for i, image in enumerate(images):
            by_size[image.shape].append(i)
        for indices in by_size.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                bgr = [np.ascontiguousarray(images[i][..., ::-1]) for i in chunk]
                results = self._inference(self.model, bgr)
                for i, result in zip(chunk, results, strict=True):
                    out[i] = result.pred_sem_seg.data[0].to("cpu").numpy().astype(np.uint8)
        return out  # type: ignore[return-value]
