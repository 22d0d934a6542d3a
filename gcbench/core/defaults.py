"""One table of defaults, shared by the library and the command line.

Every default that more than one place needs lives here, and every environment variable
gcbench reads is read through :func:`env` (so ``gcbench --help`` and the README can list
them, and no module invents its own spelling). Change a default here, nowhere else.
"""

from __future__ import annotations

import os

# -- analysis -------------------------------------------------------------------------------
CONFIDENCE = 0.95                       # coverage of every interval gcbench reports
BD_METHODS = ("pchip", "akima")         # BD interpolation shown by default (cubic on request)
ALL_BD_METHODS = ("pchip", "akima", "cubic")
CURVE_METHOD = "pchip"                  # interpolation drawn between RD points
BOOTSTRAP_REPLICATES = 1000             # replicates when a bootstrap is asked for
SEED = 0
RATE = "bpp"                            # rate axis of plots and BD tables ("bpp_payload": entropy-coded strings only)
CROP_SIZE = 192                         # side of the report's example crops, in pixels

# -- runs -----------------------------------------------------------------------------------
JOBS = 1
EXECUTOR = "local"
DEVICE = "cpu"
DEVICE_BATCH = 8                        # tasks per worker call on CUDA: torch pair metrics run 8 images per call
METRICS = ("psnr", "ms-ssim")           # computed when a run names none
TARGET_MODE = "nearest"                 # equal-bitrate: the nearest bpp ("under": highest not above)
BPP_TOLERANCE = 0.05                    # equal-bitrate search: relative distance still "on target"
EXHAUSTIVE_AXIS = 16                    # equal-bitrate search: axes this short are probed at every setting

# -- timing ---------------------------------------------------------------------------------
TIMING_WARMUP = 2                       # untimed runs per (codec, setting, image)
TIMING_REPEATS = 10                     # timed runs per (codec, setting, image)
TIMING_THREADS = 1                      # threads for torch, OpenMP/BLAS and the codec library

# -- environment variables (name -> what it sets) -------------------------------------------
ENVIRONMENT = {
    "GCBENCH_DATA": "folder holding named datasets (kodak/, clic2020-test/, …)",
    "GCBENCH_CACHE": "gcbench's cache folder (default $XDG_CACHE_HOME/gcbench or ~/.cache/gcbench)",
    "GCBENCH_WEIGHTS": "folders searched first for pretrained files (os.pathsep-separated)",
    "GCBENCH_WEIGHTS_MANIFEST": "extra weights manifests (TOML, os.pathsep-separated)",
    "GCBENCH_OFFLINE": "1: never download (datasets, weights)",
    "GCBENCH_CODEC_PATH": "extra folders of codec specs (os.pathsep-separated)",
    "GCBENCH_DATASET_PATH": "extra folders of dataset manifests (os.pathsep-separated)",
    "GCBENCH_DISABLE_PLUGIN_AUTOLOAD": "1: ignore the gcbench.codecs / gcbench.metrics entry points",
}


def env(name: str, default: str = "") -> str:
    """The value of a gcbench environment variable (listed in :data:`ENVIRONMENT`)."""
    if name not in ENVIRONMENT:
        raise KeyError(f"{name} is not a gcbench environment variable")
    return os.environ.get(name, default)


def env_flag(name: str) -> bool:
    """A yes/no variable: set and not ``0`` means yes."""
    return env(name) not in ("", "0")


def offline() -> bool:
    """Whether downloads are forbidden (``GCBENCH_OFFLINE=1``)."""
    return env_flag("GCBENCH_OFFLINE")


def batch_for(device: str) -> int:
    """Tasks per worker call when none is given: batches on CUDA, one by one elsewhere (on a CPU
    a batch saves nothing and holds more images in memory)."""
    return DEVICE_BATCH if str(device).startswith("cuda") else 1
