"""Per-task arrays of set metrics in the results folder, and reading many such files in bounded memory.

Each task stores one array per set metric (``features/<metric_id>/<task_key>.npy``: Inception
features of its patches, a confusion matrix …), written atomically. :class:`FeatureFiles`
hands a list of such files to a set metric as a
:class:`~gcbench.metrics.set_inputs.FeatureSet`: iterated, one file is in memory at a time;
asked for rows by index (KID's random subsets), the files are first copied once, chunk by
chunk, into one scratch ``.npy`` beside them, which is then memory-mapped per request and
unmapped after it, so resident memory stays at the size of the rows asked for.
(Reference features of originals are cached by the run: ``gcbench.execution.reference_features``.)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from gcbench.core.arrays import array_header, load_array, save_array
from gcbench.core.errors import MetricError

__all__ = ["FeatureFiles", "load_array", "save_array", "task_feature_path"]


def task_feature_path(out: Path, metric_id: str, task_key: str) -> Path:
    """Where a task's array of one set metric is kept in the results folder ``out``."""
    return Path(out) / "features" / metric_id / f"{task_key}.npy"


class FeatureFiles:
    """A :class:`~gcbench.metrics.set_inputs.FeatureSet` over ``.npy`` files, read when asked for.

    ``scratch`` is the folder of the stacked copy made for ``take`` (default: the first file's
    folder, on the same disk as the features); use as a context manager, or call ``close``, to
    remove it.
    """

    def __init__(self, paths: Sequence[str | Path], scratch: str | Path | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        self.scratch = Path(scratch) if scratch is not None else (self.paths[0].parent if self.paths else None)
        self._headers: list[tuple[tuple[int, ...], np.dtype]] | None = None
        self._stacked: Path | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[np.ndarray]:
        for path in self.paths:
            yield load_array(path)

    def headers(self) -> list[tuple[tuple[int, ...], np.dtype]]:
        """(shape, dtype) of every file, from the headers alone."""
        if self._headers is None:
            self._headers = [array_header(p) for p in self.paths]
        return self._headers

    def n_rows(self) -> int:
        return sum(shape[0] if shape else 1 for shape, _ in self.headers())

    def _row_layout(self) -> tuple[tuple[int, ...], np.dtype]:
        layouts = {(shape[1:], dtype) for shape, dtype in self.headers()}
        if len(layouts) != 1:
            raise MetricError(f"feature files disagree in row shape or dtype: {sorted(map(str, layouts))}")
        return layouts.pop()

    def _stack(self) -> Path:
        """Copy every file's rows, one file at a time, into one ``.npy`` (written, never mapped)."""
        from numpy.lib import format as npy

        row_shape, dtype = self._row_layout()
        assert self.scratch is not None
        self.scratch.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.scratch, prefix=".stacked-", suffix=".npy")
        with os.fdopen(fd, "wb") as f:
            header = {"descr": npy.dtype_to_descr(dtype), "fortran_order": False,
                      "shape": (self.n_rows(), *row_shape)}
            npy.write_array_header_2_0(f, header)
            for array in self:
                f.write(np.ascontiguousarray(array, dtype=dtype).tobytes())
        return Path(name)

    def take(self, rows: np.ndarray) -> np.ndarray:
        if not self.paths:
            raise MetricError("no feature files to take rows from")
        if self._stacked is None:
            self._stacked = self._stack()
        mapped = np.load(self._stacked, mmap_mode="r")
        out = np.array(mapped[np.asarray(rows)])  # a copy of the rows asked for
        del mapped  # unmapped here, so the pages read stop counting as this process's memory
        return out

    def close(self) -> None:
        """Remove the stacked copy, if one was made."""
        if self._stacked is not None:
            self._stacked.unlink(missing_ok=True)
            self._stacked = None

    def __enter__(self) -> FeatureFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
