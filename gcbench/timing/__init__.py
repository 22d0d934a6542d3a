"""Timing on named hardware: what one encode and one decode cost, measured so people can trust it.

What a timing row means (``gcbench timing``):

- The clock is ``time.perf_counter_ns`` around exactly one ``codec.encode`` or ``codec.decode``
  call on an image already in memory: image loading, format conversion and bitstream checks
  happen outside the timed window (I/O excluded). Python's garbage collector is paused during
  the call, as ``timeit`` does.
- On CUDA the device is synchronised before the clock starts (work queued earlier is not
  charged to this call) and again before it stops (kernels the call launched are counted), and
  CUDA events recorded around the call give the GPU-side time as well (``*_gpu_s``).
  ``sync=False`` exists only to show what unsynchronised timing reports.
- For every (codec, setting, image): W warm-up encode+decode runs that are not recorded, then R
  timed repeats. Tables show the median and inter-quartile range over all images × repeats, per
  image and per megapixel.
- Threads are fixed for the whole measurement and recorded on every row: torch intra-/inter-op,
  the OpenMP/BLAS variables, and the codec library's own thread option when the codec has one.
- Command-line codecs pay one process start-up per call; it is measured once apart (a codec's
  ``startup_probe()``, timed here, or its ``startup_seconds()``) and reported in its own column.
- Learned codecs that wrap their steps in ``gcbench.codecs.stages.stage`` get one column per stage.
- Every row carries the hardware fingerprint (``hw_*`` columns) with the user's name for the
  machine, so timings from several machines merge into one table with a column group each.

Output folder: ``timing_samples.csv`` (one row per timed repeat), ``timing_summary.csv``,
``timing.json`` (fingerprint, configuration, start-up and errors), the paper-shaped table as
``timing_table.{md,tex,csv}`` and the bar chart ``timing.{png,svg}``. ``load_timing(dir)`` gives
the report the same numbers as a DataFrame.
"""

from __future__ import annotations

from gcbench.timing.chart import (  # noqa: F401
    plot_timing,
    write_exports,
)
from gcbench.timing.clocks import (  # noqa: F401
    Clock,
    CpuClock,
    CudaBackend,
    CudaClock,
    Timed,
    TorchCudaBackend,
    check_device,
    fixed_threads,
    make_clock,
    timed_call,
)
from gcbench.timing.common import (  # noqa: F401
    CHART_STEM,
    DIRECTIONS,
    META_FILE,
    SAMPLES_FILE,
    SUMMARY_FILE,
    TABLE_STEM,
    THREAD_OPTIONS,
)
from gcbench.timing.measure import (  # noqa: F401
    CellResult,
    Sample,
    Startup,
    TimedCodec,
    _quartiles,
    build_for_timing,
    measure_cell,
    measure_startup,
)
from gcbench.timing.run import (  # noqa: F401
    TimingConfig,
    TimingReport,
    _codec_plans,
    _sample_rows,
    _stage_key,
    run_timing,
)
from gcbench.timing.storage import (  # noqa: F401
    _atomic_write,
    _check_folder,
    _combine,
    _write_meta,
    _write_samples,
    load_samples,
    load_timing,
)
from gcbench.timing.tables import (  # noqa: F401
    _CARRY,
    _TEX,
    GROUP,
    Measure,
    TimingTable,
    _decimals,
    _md_cell,
    _stats,
    _truthy,
    merge_timing,
    render,
    stage_names,
    summarise,
    tex_escape,
    timing_table,
    to_frame,
    to_latex,
    to_markdown,
)

__all__ = [
    "Clock", "CpuClock", "CudaClock", "TorchCudaBackend", "Timed", "TimingConfig", "TimingReport", "TimingTable",
    "fixed_threads", "load_samples", "load_timing", "make_clock", "measure_cell", "measure_startup", "merge_timing",
    "plot_timing", "render", "run_timing", "summarise", "timed_call", "timing_table", "to_latex", "to_markdown",
    "write_exports",
]
