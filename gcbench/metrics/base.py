"""The metric interface.

A metric declares itself: its kind, the columns it writes and, for each column, whether
higher is better (required, never guessed from the name), a label and a unit. Tables, plots
and analysis read these declarations; nothing special-cases a metric by its name.

Kinds:
- ``pair``: per image, from the original and the reconstruction (PSNR, LPIPS).
- ``noref``: per image, from the reconstruction alone (NIQE).
- ``set``: per (codec, setting), from all images together (FID, KID).
- ``task``: per (codec, setting), from a downstream model (mIoU).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from gcbench.core.availability import OK, Availability
from gcbench.core.errors import PluginError
from gcbench.metrics.set_inputs import NO_REFERENCES, FeatureSet, ReferenceFeatures

Kind = Literal["pair", "noref", "set", "task"]
KINDS = ("pair", "noref", "set", "task")
SUMMARY_TRANSFORMS = ("db",)  # see Column.summary_of; computed in gcbench.results.columns


@dataclass(frozen=True)
class Column:
    name: str
    higher_is_better: bool
    label: str = ""
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    #: (source column, transform): the summary is the transform of the source's mean, not the mean
    #: of this column (("ms_ssim", "db"): −10·log10(1 − mean), CompressAI's MS-SSIM dB)
    summary_of: tuple[str, str] | None = None
    #: False for values that are not a quality axis (a spread, the original's score): never in BD tables or RD plots
    axis: bool = True

    @property
    def title(self) -> str:
        text = self.label or self.name
        return f"{text} [{self.unit}]" if self.unit else text


class Metric(ABC):
    name: ClassVar[str]
    kind: ClassVar[Kind]
    columns: ClassVar[tuple[Column, ...]]
    library: ClassVar[str] = ""
    #: bump when the implementation changes its numbers: finished results are recomputed
    implementation_version: ClassVar[int] = 1
    #: torch-based metrics run on ``device``; pure-numpy ones ignore it
    uses_device: ClassVar[bool] = False
    #: pair metrics that read the image's mask (gcbench.data.masks): the worker calls
    #: ``compute(original, reconstruction, mask=…)`` with a read-only float32 H×W array in [0, 1]
    needs_mask: ClassVar[bool] = False
    #: pair metrics that query the codec (estimated bits from its likelihoods): the worker adds
    #: ``codec=…, setting=…`` to the ``compute`` call
    needs_codec: ClassVar[bool] = False
    #: set/task metrics that read the image's ground-truth label map (Cityscapes): a remote worker
    #: receives it by value in ``ImageContext.label`` instead of reading it beside the image
    needs_label: ClassVar[bool] = False

    def __init__(self, device: str = "cpu", **options: Any) -> None:
        self.device = device
        self.options = options

    @property
    def device_class(self) -> str:
        """The kind of device without its index: 'cuda:1' → 'cuda' (values agree across cards of a kind)."""
        return str(self.device).split(":", 1)[0]

    @classmethod
    def available(cls) -> Availability:
        return OK

    def versions(self) -> dict[str, str]:
        return {}

    def identity(self) -> str:
        """What the stored value depends on: the metric, its options, its library versions and,
        for torch metrics, the device class (cpu, cuda, mps).

        CPU and GPU agree to float rounding (benchmarks/gpu_check.py measures how closely), but a
        result folder never mixes the two silently: values from another device class are another
        metric identity, computed again rather than read back as if they were the same numbers.
        """
        described: dict[str, Any] = {"name": self.name, "v": self.implementation_version, "options": self.options,
                                     "versions": self.versions()}
        if self.uses_device:
            described["device"] = self.device_class
        text = json.dumps(described, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def prepare(self) -> None:
        """Load weights or models once per worker, before the first image."""

    def preflight(self) -> None:
        """Called once in the main process before any work: raise WeightsError when a file the
        metric needs cannot be found, so the run says so up front and proceeds without it."""


class PairMetric(Metric):
    kind: ClassVar[Kind] = "pair"

    @abstractmethod
    def compute(self, original: np.ndarray, reconstruction: np.ndarray) -> dict[str, float]:
        """Values for this metric's columns, for one image pair (uint8 H×W×3 RGB each)."""

    def compute_many(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[dict[str, float]]:
        """Values for several pairs, in order; equal to ``compute`` on each.

        Torch metrics override this to stack pairs of one size into a single call on their
        device (the worker batches tasks this way on CUDA); others loop.
        """
        return [self.compute(original, reconstruction) for original, reconstruction in pairs]


def same_size_groups(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[list[int]]:
    """Indices of ``pairs`` grouped by image shape, each group in order: what one batched call takes."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (original, _) in enumerate(pairs):
        groups.setdefault(tuple(original.shape), []).append(i)
    return list(groups.values())


class NoRefMetric(Metric):
    kind: ClassVar[Kind] = "noref"

    @abstractmethod
    def compute(self, original: np.ndarray | None, reconstruction: np.ndarray) -> dict[str, float]:
        """Values for one reconstruction (``original`` is passed but not used)."""


def validate_metric_class(name: str, obj: Any) -> type[Metric]:
    """Check that ``obj`` is a Metric subclass declaring its kind and columns; raises PluginError naming it."""
    if not (isinstance(obj, type) and issubclass(obj, Metric)):
        raise PluginError(f"metric {name!r} must be a subclass of gcbench.Metric, got {obj!r}")
    if getattr(obj, "kind", None) not in KINDS:
        raise PluginError(f"metric {name!r} must declare kind as one of {KINDS}")
    cols = getattr(obj, "columns", None)
    if not cols or not all(isinstance(c, Column) for c in cols):
        raise PluginError(f"metric {name!r} must declare columns as a tuple of gcbench.Column")
    for c in cols:
        if not isinstance(c.higher_is_better, bool):
            raise PluginError(f"metric {name!r} column {c.name!r}: higher_is_better must be True or False")
        if c.summary_of is not None and (len(c.summary_of) != 2 or c.summary_of[1] not in SUMMARY_TRANSFORMS):
            raise PluginError(f"metric {name!r} column {c.name!r}: summary_of must be (column, one of {SUMMARY_TRANSFORMS})")
    return obj


def column_index() -> dict[str, Column]:
    """Every declared column of every registered metric whose class loads (for views and plots);
    prefix-family members (``pyiqa:NAME``) included."""
    from gcbench.metrics.registry import all_metric_names, metrics

    out: dict[str, Column] = {}
    for name in all_metric_names():
        try:
            cls = metrics.get(name)
        except Exception:  # noqa: BLE001 - a broken plugin must not break tables
            continue
        for col in cls.columns:
            out.setdefault(col.name, col)
    return out


@dataclass(frozen=True)
class ImageContext:
    """What a metric may know about the image besides its pixels (labels live beside it)."""

    name: str
    path: str
    dataset: str
    dataset_root: str
    sha256: str
    label: np.ndarray | None = None  # the label map when the run sent it (remote workers); else read by path


@dataclass
class SetResult:
    values: dict[str, float]
    n_items: int  # what the values were computed from (patches for FID, pixels or images otherwise)
    flags: list[str] = field(default_factory=list)  # warnings shown beside the values


class SetMetric(Metric):
    """A metric over all images of one (codec, setting): FID, KID (kind "set"), mIoU (kind "task").

    The work splits in three so that it parallelises and resumes like per-image metrics:

    1. ``item_features`` runs in the worker for every (codec, setting, image) and returns an
       array (Inception features of the patches, a confusion matrix …), stored per task.
    2. ``reference_features`` runs once per original image; the run caches it under a key
       of ``reference_identity()`` and the image content (None when there is no reference)
       and hands the cache back through ``use_references`` (metrics never read cache paths).
    3. ``finalize`` combines all item and reference arrays of one (codec, setting), given as
       :class:`~gcbench.metrics.set_inputs.FeatureSet` s read from disk one array at a time.
    """

    kind: ClassVar[Kind] = "set"
    #: reference features already computed, by image content (the run sets it: ``use_references``)
    references: ReferenceFeatures = NO_REFERENCES

    def use_references(self, references: ReferenceFeatures) -> None:
        """Where this metric finds reference features already computed (called by the run)."""
        self.references = references

    @abstractmethod
    def item_features(self, original: np.ndarray, reconstruction: np.ndarray, context: ImageContext) -> np.ndarray:
        """Features of one reconstruction."""

    def reference_features(self, original: np.ndarray, context: ImageContext) -> np.ndarray | None:
        """Features of one original (None: this metric needs no reference)."""
        return None

    def reference_identity(self) -> str:
        """Key of the reference features: protocol, extractor weights and versions."""
        return self.identity()

    @abstractmethod
    def finalize(self, features: FeatureSet | list[np.ndarray], references: FeatureSet | list[np.ndarray]) -> SetResult:
        """The metric's values for one (codec, setting) (plain lists of arrays are accepted too)."""
