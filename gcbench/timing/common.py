"""File names and option names shared by the timing modules."""

from __future__ import annotations

SAMPLES_FILE = "timing_samples.csv"
SUMMARY_FILE = "timing_summary.csv"
META_FILE = "timing.json"
TABLE_STEM = "timing_table"
CHART_STEM = "timing"

#: spec options through which a codec library takes its own thread count
THREAD_OPTIONS = ("numthreads", "num_threads", "threads")
DIRECTIONS = ("encode", "decode")
