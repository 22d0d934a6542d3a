"""``mmcv.ops`` for mmcv-lite: the one pure-PyTorch op PSPNet's import path needs, nothing compiled.

mmsegmentation 1.2.2 needs ``mmcv < 2.2``. The full ``mmcv`` ships compiled ops (``mmcv._ext``)
and builds from source for ~20 minutes; ``mmcv-lite`` installs in seconds but has no ``_ext``,
so its ``mmcv/ops/__init__.py`` fails on import. ``import mmseg.models`` imports ``mmcv.ops`` at
module level in a few files, for two names:

- ``point_sample`` (``mmseg.utils.mask_classification``, ``mmseg.models.utils.point_sample``,
  ``san_head``): in mmcv it is plain PyTorch (``F.grid_sample``), in ``mmcv/ops/point_sample.py``;
- ``sigmoid_focal_loss`` (``mmseg.models.losses.focal_loss``): a compiled training loss.

PSPNet inference (ResNetV1c, PSPHead, FCNHead, EncoderDecoder) calls neither. :func:`install`
registers a module ``mmcv.ops`` whose ``__path__`` is mmcv-lite's own ``ops`` folder, without
running its ``__init__``; it exports mmcv-lite's own ``point_sample.py`` (the same code the full
mmcv runs, on CPU and GPU alike) and, for the compiled names imported at module level, a
stand-in that raises :class:`~gcbench.core.errors.UnavailableError` if it is ever called. Any other
name raises ModuleNotFoundError, which is what mmseg's own fallbacks catch
(``try: from mmcv.ops import CrissCrossAttention except ModuleNotFoundError: … = None``), so
heads that need compiled ops are simply unavailable, as with no ops at all.

It is installed only when the compiled ops are absent (``mmcv._ext`` cannot be found): with the
full mmcv nothing is replaced. :func:`ops_backend` says which one is in use; the ``miou`` metric
records it among its versions.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

SHIM_FLAG = "__gcbench_shim__"
# Compiled ops that mmseg imports at module level but PSPNet inference never calls.
COMPILED_STANDINS = ("sigmoid_focal_loss",)
# Pure-PyTorch modules of mmcv-lite's ops folder and the names they export.
PURE_MODULES = {"point_sample": ("point_sample", "bilinear_grid_sample", "rel_roi_point_to_rel_img_point",
                                 "SimpleRoIAlign")}


def compiled_ops_present() -> bool:
    """Whether the installed mmcv has its compiled extension (looked up without importing mmcv)."""
    spec = importlib.util.find_spec("mmcv")
    if spec is None or not spec.origin:
        return False
    return any(Path(spec.origin).parent.glob("_ext.*"))


def _standin(name: str) -> Any:
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        from gcbench.core.errors import UnavailableError

        raise UnavailableError(
            f"mmcv.ops.{name} is a compiled op and mmcv-lite has none; gcbench's PSPNet inference does not use "
            "it. Install the full mmcv 2.1.0 (compiled: pip install mmcv==2.1.0, about 20 minutes on 2 cores) "
            "for models that do")

    unavailable.__name__ = name
    unavailable.__qualname__ = name
    return unavailable


def _missing(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise ModuleNotFoundError(
        f"mmcv.ops.{name} is a compiled op and mmcv-lite has none (gcbench's mmcv.ops stand-in is active); "
        "install the full mmcv 2.1.0 to use it", name="mmcv._ext")


def install() -> str:
    """Make ``import mmcv.ops`` work; returns the backend in use ("compiled" or "gcbench-shim")."""
    existing = sys.modules.get("mmcv.ops")
    if existing is not None:
        return "gcbench-shim" if getattr(existing, SHIM_FLAG, False) else "compiled"
    if compiled_ops_present():
        return "compiled"
    import mmcv

    ops_dir = Path(mmcv.__file__).resolve().parent / "ops"
    module = types.ModuleType("mmcv.ops", "gcbench stand-in for mmcv.ops under mmcv-lite (see gcbench.metrics.mmcv_ops_shim)")
    module.__path__ = [str(ops_dir)]  # submodules load from mmcv-lite's own files
    module.__package__ = "mmcv.ops"
    setattr(module, SHIM_FLAG, True)
    module.__getattr__ = _missing  # type: ignore[attr-defined]
    sys.modules["mmcv.ops"] = module
    mmcv.ops = module  # type: ignore[attr-defined]
    try:
        for sub, names in PURE_MODULES.items():
            loaded = importlib.import_module(f"mmcv.ops.{sub}")
            for name in names:
                # set after the import: importing a submodule binds its module to the same name
                setattr(module, name, getattr(loaded, name))
        for name in COMPILED_STANDINS:
            setattr(module, name, _standin(name))
    except BaseException:
        sys.modules.pop("mmcv.ops", None)
        raise
    return "gcbench-shim"


def ops_backend() -> str:
    """Which ``mmcv.ops`` is in use: the compiled one or gcbench's shim (recorded with mIoU values)."""
    module = sys.modules.get("mmcv.ops")
    if module is not None:
        return "gcbench-shim" if getattr(module, SHIM_FLAG, False) else "compiled"
    return "compiled" if compiled_ops_present() else "gcbench-shim"
