"""Timing: clocks (CPU, and CUDA's synchronise/events logic on a simulated stream), warm-up
exclusion, stage and start-up columns, fixed threads, statistics against an independent
implementation, paper-shaped tables from several machines, the CLI, and the single-shot
times of ``gcbench run``."""

from __future__ import annotations

import os
import queue
import re
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gcbench import timing
from gcbench.codecs.base import Codec
from gcbench.codecs.spec import spec_from_dict
from gcbench.core.errors import ConfigError, GcbenchError, UnavailableError
from gcbench.codecs.stages import stage
from gcbench.timing import CpuClock, CudaClock, TimingConfig, run_timing

SLOW = 0.25  # seconds the first call of SlowFirstCodec takes on top of its work


# -------------------------------------------------------------------------------------------
# Test codecs (loaded through specs with adapter "test_timing:<Class>")
# -------------------------------------------------------------------------------------------

def _pack(image: np.ndarray) -> bytes:
    h, w = image.shape[:2]
    return struct.pack("<II", h, w) + np.ascontiguousarray(image).tobytes()


def _unpack(data: bytes) -> np.ndarray:
    h, w = struct.unpack("<II", data[:8])
    return np.frombuffer(data[8:], np.uint8).reshape(h, w, 3).copy()


class SlowFirstCodec(Codec):
    """Raw pixels; the first encode and the first decode of each instance are slow (a cold start)."""

    def __init__(self, spec):
        super().__init__(spec)
        self.n_encode = self.n_decode = 0

    def encode(self, image, setting, side=None):
        self.n_encode += 1
        if self.n_encode == 1:
            time.sleep(SLOW)
        return _pack(image)

    def decode(self, data, size=None):
        self.n_decode += 1
        if self.n_decode == 1:
            time.sleep(SLOW)
        return _unpack(data)


class StagedCodec(Codec):
    """A learned codec's shape: steps wrapped in gcbench.codecs.stages.stage."""

    def encode(self, image, setting, side=None):
        with stage("analysis"):
            time.sleep(0.004)
        with stage("entropy coding"):
            time.sleep(0.002)
        return _pack(image)

    def decode(self, data, size=None):
        with stage("entropy coding"):
            time.sleep(0.002)
        with stage("synthesis"):
            time.sleep(0.004)
        return _unpack(data)


class PipeCodec(Codec):
    """A command-line codec: every call starts `cat`, which copies the bitstream through a pipe."""

    def startup_probe(self):
        subprocess.run(["cat", "/dev/null"], check=True)

    def encode(self, image, setting, side=None):
        return subprocess.run(["cat"], input=_pack(image), capture_output=True, check=True).stdout

    def decode(self, data, size=None):
        return _unpack(subprocess.run(["cat"], input=data, capture_output=True, check=True).stdout)


class SleepProbeCodec(SlowFirstCodec):
    """A start-up probe of known length, counting its calls."""

    def __init__(self, spec):
        super().__init__(spec)
        self.probes = 0

    def startup_probe(self):
        self.probes += 1
        time.sleep(0.005)


class ReportedStartupCodec(SlowFirstCodec):
    def startup_seconds(self):
        return 0.0123


class ThreadedCodec(SlowFirstCodec):
    """A codec whose library takes its thread count through a method."""

    def set_threads(self, n):
        self.threads = n
        return n


# Simulated CUDA streams, reachable from codecs by id (spec options are deep-copied data).
_STREAMS: dict[str, FakeStream] = {}


class AsyncDeviceCodec(Codec):
    """A GPU codec's shape: it launches kernels and returns before they finish."""

    accepts_device = True

    def encode(self, image, setting, side=None):
        _STREAMS[self.spec.options["stream"]].launch(float(setting))
        return _pack(image)

    def decode(self, data, size=None):
        _STREAMS[self.spec.options["stream"]].launch(float(self.spec.options.get("decode_kernel_s", 0.0)))
        return _unpack(data)


class FakeEvent:
    def __init__(self):
        self.done = threading.Event()
        self.t = None

    def fire(self):
        self.t = time.perf_counter()
        self.done.set()


class FakeStream:
    """A CUDA stream in miniature: work runs in order on a background thread; launching returns at once;
    events are stamped when the stream reaches them. Implements timing.CudaBackend."""

    def __init__(self):
        self.q: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            item = self.q.get()
            try:
                if item is None:
                    return
                item()
            finally:
                self.q.task_done()

    def launch(self, seconds):
        self.q.put(lambda: time.sleep(seconds))

    def stop(self):
        self.q.put(None)
        self.thread.join(5)

    # CudaBackend
    def synchronize(self):
        self.q.join()

    def event(self):
        return FakeEvent()

    def record(self, event):
        self.q.put(event.fire)

    def elapsed_s(self, start, end):
        assert end.done.wait(5)
        return end.t - start.t


@pytest.fixture
def stream():
    s = FakeStream()
    yield s
    s.stop()


def make_spec(cls_name, settings=("raw",), name=None, **options):
    return spec_from_dict({"adapter": f"{__name__}:{cls_name}", "rate_param": "mode", "settings": list(settings),
                           "rate_increases_with_setting": True, "options": options},
                          default_name=name or cls_name.lower())


def config(folder, out, codecs, **kw):
    kw.setdefault("warmup", 1)
    kw.setdefault("repeats", 3)
    kw.setdefault("progress", False)
    kw.setdefault("write_outputs", False)
    kw.setdefault("hardware_name", "test-box")
    return TimingConfig(codecs=codecs, dataset=str(folder), out=out, **kw)


# -------------------------------------------------------------------------------------------
# Clocks
# -------------------------------------------------------------------------------------------

def test_cpu_clock_lies_within_an_outer_clock():
    clock = CpuClock()
    t0 = time.monotonic()
    out, t = clock.time(lambda: time.sleep(0.02) or "done")
    outer = time.monotonic() - t0
    assert out == "done"
    assert 0.02 <= t.seconds <= outer + 1e-4
    assert t.gpu_seconds is None


def test_synchronised_cuda_clock_counts_queued_work_and_unsynchronised_does_not(stream):
    synced = CudaClock(stream, sync=True)
    _, t = synced.time(lambda: stream.launch(0.06))
    assert t.seconds >= 0.06
    assert t.gpu_seconds is not None and 0.055 <= t.gpu_seconds <= t.seconds + 1e-3
    unsynced = CudaClock(stream, sync=False)
    _, t2 = unsynced.time(lambda: stream.launch(0.06))
    stream.synchronize()
    assert t2.seconds < 0.03, "an unsynchronised clock stops when the launch returns"
    assert t2.gpu_seconds is None
    assert "UNSYNCHRONISED" in unsynced.name


def test_cuda_clock_does_not_charge_earlier_queued_work(stream):
    stream.launch(0.12)  # someone else's kernels, still running when the timed call starts
    _, t = CudaClock(stream).time(lambda: stream.launch(0.03))
    assert 0.03 <= t.seconds < 0.11
    assert 0.025 <= t.gpu_seconds < 0.11


def test_cuda_without_cuda_is_a_clear_error(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UnavailableError, match="CUDA is not available.*--device cpu"):
        timing.make_clock("cuda")
    with pytest.raises(ConfigError, match="cpu, cuda or cuda:N"):
        timing.make_clock("gpu")
    assert isinstance(timing.make_clock("cpu"), CpuClock)


def test_timed_call_pauses_gc_and_collects_stages():
    import gc

    seen = {}

    def fn():
        seen["gc"] = gc.isenabled()
        with stage("a"):
            time.sleep(0.003)
        with stage("a"):
            time.sleep(0.003)
        return 1

    out, t, stages = timing.timed_call(CpuClock(), fn)
    assert out == 1 and seen["gc"] is False and gc.isenabled()
    assert stages["a"] >= 0.006 and stages["a"] <= t.seconds
    assert timing.timed_call(CpuClock(), fn, stages=False)[2] == {}


# -------------------------------------------------------------------------------------------
# Runs
# -------------------------------------------------------------------------------------------

def test_warmup_runs_are_excluded(image_folder, tmp_path):
    folder = image_folder(1, (32, 48))
    spec = make_spec("SlowFirstCodec")
    warm = run_timing(config(folder, tmp_path / "warm", [spec], warmup=1, repeats=3))
    s = timing.load_samples(tmp_path / "warm")
    assert len(s) == 3 and list(s["repeat"]) == [0, 1, 2]
    assert s["encode_s"].max() < SLOW / 2 and s["decode_s"].max() < SLOW / 2
    assert warm.summary["encode_ms_median"].iloc[0] < SLOW * 1e3 / 2
    # The same codec without warm-up: the slow first call is in the samples (so the check above can fail).
    run_timing(config(folder, tmp_path / "cold", [spec], warmup=0, repeats=3))
    c = timing.load_samples(tmp_path / "cold")
    assert (c["encode_s"] >= SLOW).sum() == 1 and c.loc[c["encode_s"].idxmax(), "repeat"] == 0
    assert (c["decode_s"] >= SLOW).sum() == 1


def test_rows_carry_fingerprint_threads_and_bpp(image_folder, tmp_path):
    import torch

    folder = image_folder(2, (40, 56))
    before_env, before_torch = os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()
    report = run_timing(config(folder, tmp_path / "t", ["jpeg@60", "jpegxl@2.0"], threads=2, repeats=2))
    assert os.environ.get("OMP_NUM_THREADS") == before_env and torch.get_num_threads() == before_torch
    s = timing.load_samples(tmp_path / "t")
    assert len(s) == 2 * 2 * 2 and report.n_samples == 8
    for col in ("hw_name", "hw_id", "hw_cpu_model", "hw_cpu_count", "hw_memory_gib", "hw_gpu", "hw_gpu_driver",
                "hw_cuda", "hw_torch", "hw_gcbench", "hw_libraries"):
        assert col in s.columns
    assert set(s["hw_name"]) == {"test-box"} and s["hw_cpu_count"].eq(os.cpu_count()).all()
    assert (s["threads"] == 2).all() and (s["torch_intra_op"] == 2).all() and (s["omp_num_threads"] == "2").all()
    jxl = s[s["codec"] == "jpegxl"]
    assert (jxl["codec_threads"] == 2).all() and (jxl["codec_threads_via"] == "spec option numthreads").all()
    assert '"libjxl"' in jxl["hw_libraries"].iloc[0]
    jpeg = s[s["codec"] == "jpeg"]
    assert jpeg["codec_threads"].isna().all() and "libjpeg" in jpeg["hw_libraries"].iloc[0]
    # bpp from the bitstream: the same encode done here by hand
    from PIL import Image

    from gcbench.codecs.registry import get_codec

    arr = np.asarray(Image.open(folder / "img00.png").convert("RGB"))
    n = len(get_codec("jpeg").encode(arr, 60))
    row = jpeg[jpeg["image"] == "img00.png"].iloc[0]
    assert row["n_bytes"] == n and row["bpp"] == pytest.approx(8 * n / (40 * 56))
    assert row["megapixels"] == pytest.approx(40 * 56 / 1e6)


def test_set_threads_method_is_used(image_folder, tmp_path):
    tc = timing.build_for_timing(make_spec("ThreadedCodec"), ["raw"], threads=3, device="cpu")
    assert tc.codec.threads == 3 and tc.codec_threads == 3 and tc.codec_threads_via == "set_threads()"


def test_stage_breakdown_columns(image_folder, tmp_path):
    folder = image_folder(1, (24, 32))
    report = run_timing(config(folder, tmp_path / "s", [make_spec("StagedCodec")], repeats=3))
    s = timing.load_samples(tmp_path / "s")
    assert (s["encode_stage_analysis_s"] >= 0.004).all() and (s["encode_stage_entropy_coding_s"] >= 0.002).all()
    assert (s["decode_stage_synthesis_s"] >= 0.004).all()
    stage_sum = s["encode_stage_analysis_s"] + s["encode_stage_entropy_coding_s"]
    assert (stage_sum <= s["encode_s"]).all(), "stages lie inside the timed call"
    labels = [m.label for m in timing.timing_table(report.summary).measures]
    assert {"Enc. analysis ms", "Enc. entropy coding ms", "Dec. entropy coding ms", "Dec. synthesis ms"} <= set(labels)
    bare = run_timing(config(folder, tmp_path / "n", [make_spec("StagedCodec")], repeats=2, stages=False))
    assert not [c for c in bare.summary.columns if "_stage_" in c]


def test_command_line_startup_is_measured_apart(image_folder, tmp_path):
    folder = image_folder(1, (24, 32))
    report = run_timing(config(folder, tmp_path / "p", [make_spec("PipeCodec"), make_spec("ReportedStartupCodec")],
                               repeats=3, startup_repeats=5, write_outputs=True))
    summ = report.summary.set_index("codec")
    pipe = summ.loc["pipecodec"]
    assert 0 < pipe["startup_ms_median"] < 1000 and pipe["startup_ms_iqr"] >= 0
    assert pipe["startup_via"] == "startup_probe() timed by gcbench" and bool(pipe["includes_startup"])
    assert not summ.loc["reportedstartupcodec"].isna()["startup_ms_median"]
    reported = summ.loc["reportedstartupcodec"]
    assert reported["startup_ms_median"] == pytest.approx(12.3) and reported["startup_ms_iqr"] == 0
    md = (tmp_path / "p" / "timing_table.md").read_text()
    assert "Start-up ms" in md and "start one process per call" in md


def test_startup_probe_is_warmed_then_timed():
    codec = SleepProbeCodec(make_spec("SleepProbeCodec"))
    st = timing.measure_startup(codec, repeats=4, warmup=2)
    assert codec.probes == 6 and 0.005 <= st.seconds < 0.05 and st.iqr_s >= 0 and st.via.startswith("startup_probe()")
    assert timing.measure_startup(SlowFirstCodec(make_spec("SlowFirstCodec"))) == timing.Startup()
    reported = timing.measure_startup(ReportedStartupCodec(make_spec("ReportedStartupCodec")), repeats=3)
    assert (reported.seconds, reported.iqr_s, reported.via) == (pytest.approx(0.0123), 0.0,
                                                                "startup_seconds() reported by the codec")


class ProgramsStartupCodec(SlowFirstCodec):
    """A codec of two programs reporting each one's start-up, as gcbench's external adapter does."""

    calls = 0

    def startup_seconds(self):
        type(self).calls += 1
        return {"enc": 0.002 * type(self).calls, "dec": 0.010}


def test_startup_per_program():
    ProgramsStartupCodec.calls = 0
    st = timing.measure_startup(ProgramsStartupCodec(make_spec("ProgramsStartupCodec")), repeats=3, warmup=1)
    # timed calls 2, 3, 4: enc 0.004, 0.006, 0.008; dec 0.010 each
    assert st.programs == {"dec": pytest.approx(0.010), "enc": pytest.approx(0.006)}
    assert st.seconds == pytest.approx(statistics.median([0.004, 0.006, 0.008, 0.010, 0.010, 0.010]))


def test_external_codec_startup_through_gcbench_timing(image_folder, tmp_path):
    """cwebp/dwebp through the command-line adapter: start-up per program, apart from encode/decode."""
    folder = image_folder(1, (32, 48))
    report = run_timing(config(folder, tmp_path / "w", ["cwebp@75"], repeats=2, startup_repeats=3))
    row = report.summary.iloc[0]
    programs = __import__("json").loads(row["startup_programs"])
    assert set(programs) == {"cwebp", "dwebp"} and all(0 < v < 1 for v in programs.values())
    assert row["startup_ms_median"] > 0 and row["startup_via"] == "startup_seconds() reported by the codec"
    assert "Start-up ms" in timing.to_markdown(timing.timing_table(report.summary))


def test_device_codec_on_simulated_cuda(image_folder, tmp_path, stream):
    _STREAMS["s1"] = stream
    folder = image_folder(1, (16, 16))
    spec = make_spec("AsyncDeviceCodec", settings=[0.03], name="gpu-model", stream="s1", decode_kernel_s=0.02)
    report = run_timing(config(folder, tmp_path / "g", [spec, "jpeg@50"], device="cuda", cuda_backend=stream,
                               warmup=1, repeats=2))
    s = timing.load_samples(tmp_path / "g").set_index("codec")
    gpu, cpu = s.loc["gpu-model"], s.loc["jpeg"]
    assert (gpu["codec_device"] == "cuda").all()
    assert (gpu["timer"] == "cuda synchronised perf_counter_ns + events").all()
    assert (gpu["encode_s"] >= 0.03).all() and (gpu["decode_s"] >= 0.02).all()
    assert (gpu["encode_gpu_s"] >= 0.025).all()
    assert (cpu["codec_device"] == "cpu").all() and (cpu["timer"] == "cpu perf_counter_ns").all()
    assert report.summary["encode_gpu_ms_median"].notna().sum() == 1
    assert report.notes == ["codec 'jpeg' runs on the CPU: its adapter takes no device (rows say codec_device=cpu)"]
    # the same codec unsynchronised: what a time.time() around the call would have reported
    bad = run_timing(config(folder, tmp_path / "g2", [spec], device="cuda", cuda_backend=stream, sync=False,
                            warmup=1, repeats=2))
    stream.synchronize()
    assert bad.summary["encode_ms_median"].iloc[0] < 15


class UntrainedCodec(SlowFirstCodec):
    """An architecture that can be timed before it is trained."""

    accepts_random_weights = True


def test_random_weights_reach_only_codecs_that_take_them(image_folder, tmp_path):
    folder = image_folder(1, (16, 16))
    report = run_timing(config(folder, tmp_path / "rw", [make_spec("UntrainedCodec"), "jpeg@50"], repeats=2,
                               random_weights=True))
    s = timing.load_samples(tmp_path / "rw").set_index("codec")
    assert s.loc["untrainedcodec", "random_weights"].all() and not s.loc["jpeg", "random_weights"].any()
    md = timing.to_markdown(timing.timing_table(report.summary))
    assert "| untrainedcodec (random weights) |" in md and "| jpeg |" in md and "untrained architectures" in md


def test_codec_failure_is_reported_and_others_go_on(image_folder, tmp_path):
    folder = image_folder(1, (16, 16))
    spec = spec_from_dict({"adapter": "failing_codec:FailingCodec", "rate_param": "mode",
                           "settings": ["encode-error", "ok"], "rate_increases_with_setting": True},
                          default_name="failing")
    report = run_timing(config(folder, tmp_path / "f", [spec, "jpeg@50"], repeats=2))
    assert report.failed and len(report.errors) == 1 and "encoder refused" in report.errors[0]["error"]
    assert set(report.summary["codec"] + "@" + report.summary["setting"]) == {"failing@ok", "jpeg@50"}


def test_every_cell_failing_leaves_no_table(image_folder, tmp_path):
    folder = image_folder(1, (16, 16))
    spec = spec_from_dict({"adapter": "failing_codec:FailingCodec", "rate_param": "mode",
                           "settings": ["encode-error"], "rate_increases_with_setting": True}, default_name="failing")
    report = run_timing(config(folder, tmp_path / "e", [spec], repeats=2, write_outputs=True))
    assert report.failed and report.summary is None and report.outputs == []
    assert not (tmp_path / "e" / timing.SAMPLES_FILE).exists() and (tmp_path / "e" / timing.META_FILE).is_file()


def test_invalid_options(image_folder, tmp_path):
    folder = image_folder(1, (16, 16))
    for kw, msg in [({"repeats": 0}, "--repeats"), ({"warmup": -1}, "--warmup"), ({"device": "tpu"}, "--device"),
                    ({"threads": 0}, "--threads")]:
        with pytest.raises(ConfigError, match=msg):
            run_timing(config(folder, tmp_path / "x", ["jpeg@50"], **kw))
    with pytest.raises(ConfigError, match="given twice"):
        run_timing(config(folder, tmp_path / "x", ["jpeg@50", "jpeg@60"]))


def test_folder_holds_one_machine_and_retimed_settings_replace(image_folder, tmp_path):
    folder = image_folder(1, (16, 16))
    out = tmp_path / "m"
    run_timing(config(folder, out, ["jpeg@50,60"], repeats=2))
    run_timing(config(folder, out, ["jpeg@60", "webp@50"], repeats=2))
    s = timing.load_samples(out)
    assert sorted(set(s["codec"] + "@" + s["setting"])) == ["jpeg@50", "jpeg@60", "webp@50"]
    assert (s.groupby(["codec", "setting"]).size() == 2).all(), "re-timed settings replace, not duplicate"
    with pytest.raises(ConfigError, match="machine name 'test-box' there, 'other' now"):
        run_timing(config(folder, out, ["jpeg@50"], hardware_name="other"))
    with pytest.raises(ConfigError, match="threads '1' there, '2' now"):
        run_timing(config(folder, out, ["jpeg@50"], threads=2))
    with pytest.raises(GcbenchError, match="no timing results"):
        timing.load_timing(tmp_path / "nothing")


# -------------------------------------------------------------------------------------------
# Statistics and tables
# -------------------------------------------------------------------------------------------

def _synthetic_samples(name, encode, decode, images=("a", "b"), mp=0.5):
    rows = []
    for i, (e, d) in enumerate(zip(encode, decode, strict=True)):
        rows.append({"hw_name": name, "hw_id": "x", "hw_cpu_model": "CPU", "dataset": "d", "codec": "c",
                     "setting": "5", "setting_value": 5.0, "rate_param": "q", "image": images[i % len(images)],
                     "megapixels": mp, "bpp": 1.0, "bpp_kind": "exact", "encode_s": e, "decode_s": d,
                     "repeat": i // len(images), "device": "cpu", "timer": "cpu perf_counter_ns", "warmup": 1,
                     "repeats": len(encode) // len(images), "threads": 1, "torch_intra_op": 1, "torch_inter_op": 1,
                     "omp_num_threads": "1"})
    return pd.DataFrame(rows)


def test_summary_statistics_match_an_independent_implementation():
    rng = np.random.default_rng(7)
    enc = list(rng.uniform(0.01, 0.05, 10))
    dec = list(rng.uniform(0.001, 0.004, 10))
    row = timing.summarise(_synthetic_samples("m", enc, dec)).iloc[0]
    for name, values in (("encode", enc), ("decode", dec)):
        ms = [v * 1e3 for v in values]
        q1, q2, q3 = statistics.quantiles(ms, n=4, method="inclusive")
        assert row[f"{name}_ms_median"] == pytest.approx(statistics.median(ms))
        assert row[f"{name}_ms_q25"] == pytest.approx(q1) and row[f"{name}_ms_q75"] == pytest.approx(q3)
        assert row[f"{name}_ms_iqr"] == pytest.approx(q3 - q1)
        per_mp = [v / 0.5 for v in ms]
        assert row[f"{name}_ms_per_mp_median"] == pytest.approx(statistics.median(per_mp))
        spreads = []
        for img in (0, 1):
            own = ms[img::2]
            a, _, b = statistics.quantiles(own, n=4, method="inclusive")
            spreads.append((b - a) / statistics.median(own))
        assert row[f"{name}_repeat_spread"] == pytest.approx(statistics.median(spreads))
    assert row["n_images"] == 2 and row["n_samples"] == 10


def test_table_cells_show_median_and_iqr():
    summary = timing.summarise(_synthetic_samples("m", [0.010, 0.012, 0.014, 0.016], [0.0011, 0.0012, 0.0013, 0.0014]))
    table = timing.timing_table(summary, per="image")
    assert [m.label for m in table.measures] == ["Enc. ms/img", "Dec. ms/img"]
    assert table.cell_text(0, "m", table.measures[0]) == "13.0 [3.0]"
    assert table.cell_text(0, "m", table.measures[1]) == "1.25 [0.15]"
    frame = timing.to_frame(table)
    assert frame["m: encode_ms_median"].iloc[0] == pytest.approx(13.0)
    with pytest.raises(ConfigError):
        timing.timing_table(summary, per="pixel")


def test_tex_escape():
    assert timing.tex_escape("a_b & 50% [x] #1 ~ ^ {} \\ 2×3") == (
        r"a\_b \& 50\% {[}x{]} \#1 \textasciitilde{} \textasciicircum{} \{\} \textbackslash{} 2$\times$3")


def _tex_rows(tex):
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0]
    return [ln for ln in body.strip().splitlines() if ln.strip()]


def test_two_machines_merge_and_render(image_folder, tmp_path):
    """This machine timed with 1 and with 2 threads, named differently, in one table."""
    folder = image_folder(2, (48, 64))
    one = run_timing(config(folder, tmp_path / "t1", ["jpeg@50,90"], threads=1, hardware_name="this-1t",
                            write_outputs=True))
    two = run_timing(config(folder, tmp_path / "t2", ["jpeg@50,90"], threads=2, hardware_name="this-2t"))
    merged = timing.merge_timing([tmp_path / "t1", tmp_path / "t2"])
    assert list(dict.fromkeys(merged["hw_name"])) == ["this-1t", "this-2t"]
    table = timing.timing_table(merged)
    md = timing.to_markdown(table)
    lines = md.splitlines()
    assert "this-1t: Enc. ms/img" in lines[0] and "this-2t: Dec. ms/MP" in lines[0]
    assert len(lines[0].split(" | ")) == len(lines[2].split(" | ")) == 3 + 2 * 4
    # each cell shows the numbers load_timing gives the report
    t2 = timing.load_timing(tmp_path / "t2").set_index("setting")
    med, iqr = t2.loc["90", "decode_ms_median"], t2.loc["90", "decode_ms_iqr"]
    d = timing._decimals(med)
    row90 = next(ln for ln in lines if "quality=90" in ln).split(" | ")
    assert row90[-3] == f"{med:.{d}f} [{iqr:.{d}f}]"
    assert "threads 2 (torch intra-op 2" in md and "threads 1 (torch intra-op 1" in md
    tex = timing.to_latex(table)
    assert r"\multicolumn{4}{c}{this-1t} & \multicolumn{4}{c}{this-2t}" in tex
    assert r"\cmidrule(lr){4-7} \cmidrule(lr){8-11}" in tex
    assert tex.count("{") == tex.count("}")
    rows = _tex_rows(tex)
    assert len(rows) == 2 and all(r.count(" & ") == 10 and r.endswith(r"\\") for r in rows)
    assert re.search(r"\\begin\{tabular\}\{llr{9}\}", tex)
    csv = timing.render(table, "csv")
    back = pd.read_csv(__import__("io").StringIO(csv))
    assert back["this-2t: decode_ms_median"].tolist() == pytest.approx(
        [t2.loc["50", "decode_ms_median"], t2.loc["90", "decode_ms_median"]])
    # the summary written to the folder holds the same numbers as load_timing
    written = pd.read_csv(tmp_path / "t1" / "timing_summary.csv")
    assert written["encode_ms_median"].tolist() == pytest.approx(one.summary["encode_ms_median"].tolist())
    assert two.summary is not None
    with pytest.raises(ConfigError, match="appears in both"):
        timing.merge_timing([tmp_path / "t1", timing.load_timing(tmp_path / "t1")])
    # a machine missing a setting shows "--"
    partial = merged[~((merged["hw_name"] == "this-2t") & (merged["setting"] == "50"))]
    assert "-- | --" in timing.to_markdown(timing.timing_table(partial, per="image"))


def test_outputs_and_chart(image_folder, tmp_path):
    folder = image_folder(1, (24, 32))
    report = run_timing(config(folder, tmp_path / "o", ["jpeg@50", "webp@50"], repeats=2, write_outputs=True))
    names = sorted(p.name for p in report.outputs)
    assert names == ["timing.png", "timing.svg", "timing_summary.csv", "timing_table.csv", "timing_table.md",
                     "timing_table.tex"]
    png = (tmp_path / "o" / "timing.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    meta = __import__("json").loads((tmp_path / "o" / "timing.json").read_text())
    assert meta["hardware"]["name"] == "test-box"
    assert meta["runs"][0]["codecs"]["jpeg"]["timer"] == "cpu perf_counter_ns"


# -------------------------------------------------------------------------------------------
# CLI
# -------------------------------------------------------------------------------------------

def test_cli_timing_and_merge(image_folder, tmp_path, capsys):
    from gcbench.cli import main

    folder = image_folder(1, (24, 32))
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["--codec", "jpeg@75", "--dataset", str(folder), "--warmup", "1", "--repeats", "2", "--no-progress"]
    assert main(["timing", *common, "--hardware-name", "A", "--out", str(a)]) == 0
    assert main(["timing", *common, "--hardware-name", "B", "--threads", "2", "--out", str(b)]) == 0
    assert (a / "timing_table.tex").is_file() and (a / "timing.svg").is_file()
    capsys.readouterr()
    assert main(["timing", "merge", str(a), str(b), "--format", "md", "--per", "mp"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ("| Codec | Setting | bpp | A: Enc. ms/MP | A: Dec. ms/MP | B: Enc. ms/MP "
                                   "| B: Dec. ms/MP |")
    target = tmp_path / "t.tex"
    assert main(["timing", "merge", str(a), str(b), "--format", "tex", "-o", str(target),
                 "--chart", str(tmp_path / "chart")]) == 0
    assert r"\multicolumn{4}{c}{B}" in target.read_text() and (tmp_path / "chart.png").is_file()
    assert main(["timing", "--dataset", str(folder)]) == 2
    assert "needs --codec, --out" in capsys.readouterr().err


# -------------------------------------------------------------------------------------------
# gcbench run: one single-shot time per task in every RD table
# -------------------------------------------------------------------------------------------

def test_run_records_single_shot_times(image_folder, tmp_path):
    from gcbench.execution.runner import RunConfig, run
    from gcbench.results.views import per_image, summary_table

    folder = image_folder(2, (24, 32))
    run(RunConfig(codecs=["jpeg@50"], dataset=str(folder), out=tmp_path / "r", metrics=["psnr"], progress=False,
                  write_outputs=False))
    df = per_image(tmp_path / "r")
    assert (df["timing_kind"] == "single-shot").all()
    assert (df["encode_s"] > 0).all() and (df["decode_s"] > 0).all()
    summ = summary_table(tmp_path / "r")
    assert summ["encode_s"].iloc[0] == pytest.approx(df["encode_s"].mean())
    assert summ["decode_s"].iloc[0] == pytest.approx(df["decode_s"].mean())


def test_timing_command_does_not_import_torch_for_help():
    code = "import sys, gcbench.cli as c; c.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], check=True)
    assert out.stdout.strip() == "False"
