"""The Ray executor on a real local Ray instance: the same table as the local pool, nothing lost
when a worker or the driver is killed, failures as rows, set metrics gathered at the driver,
and a clear error when Ray is not installed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import count_tasks
from PIL import Image

from gcbench.cli import main
from gcbench.codecs.pillow import PillowCodec
from gcbench.core.errors import ConfigError, UnavailableError
from gcbench.execution.executors import make_executor
from gcbench.metrics.base import Column, SetMetric, SetResult
from gcbench.execution.runner import RunConfig, run
from gcbench.results.views import per_image, set_table
from test_variable_rate import GainCodec

TESTS = Path(__file__).resolve().parent
TABLE = ["codec", "setting", "image", "status", "n_bytes", "bpp", "bpp_kind", "psnr", "ms_ssim", "ms_ssim_db"]


# -- helpers that Ray workers import (tests/ is on their PYTHONPATH) ---------------------------


class PausingJpeg(PillowCodec):
    """JPEG that, the first time it encodes ``options.pause_setting``, writes its PID to
    ``options.pid_file`` and waits to be killed (a later attempt finds the file and just encodes)."""

    def encode(self, image, setting, side=None):
        pid_file = Path(self.spec.options["pid_file"])
        if setting == self.spec.options["pause_setting"] and not pid_file.exists():
            tmp = pid_file.with_suffix(".tmp")
            tmp.write_text(str(os.getpid()))
            tmp.replace(pid_file)
            time.sleep(120)
        return super().encode(image, setting, side)


class HistogramSet(SetMetric):
    """A set metric small enough for tests: |original − reconstruction| histograms summed over
    the images, against histograms of the originals as the reference."""

    name = "test-hist"
    kind = "set"
    columns = (Column("test_mad", higher_is_better=False), Column("test_ref_mean", higher_is_better=True))

    def item_features(self, original, reconstruction, context):
        diff = np.abs(original.astype(np.int16) - reconstruction.astype(np.int16))
        return np.bincount(diff.ravel(), minlength=256).astype(np.int64)

    def reference_features(self, original, context):
        return np.bincount(original.ravel(), minlength=256).astype(np.int64)

    def finalize(self, features, references):
        levels = np.arange(256)
        f, r = sum(np.asarray(a) for a in features), sum(np.asarray(a) for a in references)  # FeatureSets iterate
        return SetResult({"test_mad": float(levels @ f / f.sum()), "test_ref_mean": float(levels @ r / r.sum())},
                         n_items=len(features))


class GatedGainCodec(GainCodec):
    """The side-input gain codec whose ``prepare`` waits for ``options.gate`` to exist: the test
    moves the driver's files away first, so the worker must have received everything by value."""

    def prepare(self):
        gate = Path(self.spec.options["gate"])
        deadline = time.time() + 120
        while not gate.exists():
            if time.time() > deadline:
                raise TimeoutError(f"{gate} never appeared")
            time.sleep(0.02)


class GatedPng(PillowCodec):
    """Lossless PNG with the same gate."""

    prepare = GatedGainCodec.prepare


def register_test_metric() -> None:
    """Ray's worker_process_setup_hook: make the test metric known in every worker."""
    from gcbench.metrics import registry

    registry.metrics.add(HistogramSet.name, "test_ray_executor:HistogramSet", replace=True)


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_address(tmp_path_factory: pytest.TempPathFactory):
    """One local Ray instance (2 CPUs) for the module; its workers see tests/ and the test cache."""
    import ray

    env = {
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "GCBENCH_OFFLINE": "1",
        "GCBENCH_CACHE": str(tmp_path_factory.getbasetemp() / "gcbench-cache"),
    }
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)  # inherited by the raylet, hence by every job's workers
        ctx = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                       runtime_env={"worker_process_setup_hook": "test_ray_executor.register_test_metric"})
    yield ctx.address_info["address"]
    ray.shutdown()


def _run(dataset: Path, out: Path, codecs: list[str], metrics: list[str], **kw) -> object:
    return run(RunConfig(codecs=codecs, dataset=str(dataset), out=out, metrics=metrics, progress=False,
                         write_outputs=False, **kw))


def _table(out: Path, cols: list[str] = TABLE) -> pd.DataFrame:
    df = per_image(out)
    return df[[c for c in cols if c in df.columns]].sort_values(["codec", "setting", "image"]).reset_index(drop=True)


# -- tests -------------------------------------------------------------------------------------


def test_same_per_image_table_as_the_local_pool(ray_address: str, tmp_path: Path, image_folder,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    data = image_folder(3, (176, 208))
    codecs = ["jpeg@20,60", "webp@40"]
    local = _run(data, tmp_path / "local", codecs, ["psnr", "ms-ssim"], jobs=2, threads=1)
    puts: list[object] = []
    real_put = ray.put
    monkeypatch.setattr(ray, "put", lambda value, **kw: puts.append(value) or real_put(value, **kw))
    # first PSNR only, then MS-SSIM added: the second run ships stored bitstreams, not images re-encoded
    first = _run(data, tmp_path / "ray", codecs, ["psnr"], executor="ray", threads=1)
    assert first.n_ok == 9 and not first.failed
    assert len(puts) == 3 and all(isinstance(p, np.ndarray) for p in puts)  # one put per image, not per task
    encode_s = _table(tmp_path / "ray", ["codec", "setting", "image", "encode_s"])
    second = _run(data, tmp_path / "ray", codecs, ["psnr", "ms-ssim"], executor="ray", threads=1)
    assert second.n_ok == 9 and second.n_skipped == 0 and not second.failed
    assert local.n_ok == 9 and not local.failed
    pd.testing.assert_frame_equal(_table(tmp_path / "ray"), _table(tmp_path / "local"), check_exact=True)
    pd.testing.assert_frame_equal(_table(tmp_path / "ray", ["codec", "setting", "image", "encode_s"]), encode_s)
    # the run records where it ran
    with sqlite3.connect(tmp_path / "ray" / "gcbench.sqlite") as conn:
        config = conn.execute("SELECT config FROM runs ORDER BY run_id DESC").fetchone()[0]
    assert '"executor": "ray"' in config and '"cpus_per_task": 1' in config


def test_worker_killed_mid_task_loses_nothing(ray_address: str, tmp_path: Path, image_folder, specs: Path) -> None:
    pid_file = tmp_path / "paused.pid"
    (specs / "pausing.toml").write_text(
        'base = "jpeg"\nadapter = "test_ray_executor:PausingJpeg"\nsettings = [30, 70]\n'
        f'[options]\npause_setting = 70\npid_file = "{pid_file}"\n')
    data = image_folder(2, (176, 176))
    killed: list[int] = []

    def kill_when_paused() -> None:
        deadline = time.time() + 120
        while not pid_file.exists() and time.time() < deadline:
            time.sleep(0.02)
        if pid_file.exists():
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    killer = threading.Thread(target=kill_when_paused, daemon=True)
    killer.start()
    report = _run(data, tmp_path / "ray", ["pausing"], ["psnr", "ms-ssim"], executor="ray", threads=1,
                  executor_options={"max_retries": 2})
    killer.join(timeout=5)
    assert killed and killed[0] != os.getpid(), "no worker was paused and killed"
    assert report.n_ok == 4 and not report.failed
    # the retried task gives exactly what a run that was never interrupted gives
    _run(data, tmp_path / "clean", ["pausing"], ["psnr", "ms-ssim"], jobs=1)
    pd.testing.assert_frame_equal(_table(tmp_path / "ray"), _table(tmp_path / "clean"), check_exact=True)


def test_failures_are_rows_and_a_worker_dying_every_time_is_retried_a_bounded_number_of_times(
        ray_address: str, tmp_path: Path, image_folder, specs: Path) -> None:
    (specs / "failing.toml").write_text(
        'adapter = "failing_codec:FailingCodec"\nrate_param = "mode"\nrate_increases_with_setting = true\n'
        'settings = ["ok", "encode-error", "decode-error", "boom", "crash"]\n')
    data = image_folder(1, (64, 64))
    t0 = time.perf_counter()
    report = _run(data, tmp_path / "ray", ["failing"], ["psnr"], executor="ray", executor_options={"max_retries": 1})
    assert time.perf_counter() - t0 < 120
    assert report.n_ok == 1 and report.n_failed == 4
    df = per_image(tmp_path / "ray").set_index("setting")
    assert df.loc["ok", "status"] == "ok" and df.loc["ok", "psnr"] == np.inf
    expect = {"encode-error": ("encode", "encoder refused"), "decode-error": ("decode", "decoder refused"),
              "boom": ("encode", "ZeroDivisionError: unexpected bug"),
              "crash": ("worker", "Ray worker process died while running this task, 1 retries included")}
    for setting, (stage, text) in expect.items():
        assert df.loc[setting, "status"] == "error"
        assert df.loc[setting, "error_stage"] == stage
        assert text in df.loc[setting, "error"]


def test_driver_killed_then_rerun_resumes_without_recomputing(ray_address: str, kodak_dir: Path, tmp_path: Path) -> None:
    subset = tmp_path / "kodak4"
    subset.mkdir()
    for p in sorted(kodak_dir.glob("*.png"))[:4]:
        (subset / p.name).symlink_to(p)
    args = ["run", "--codec", "jpeg@10,20,30,40,50,60,70,80,90", "--codec", "webp@20,50,80", "--dataset", str(subset),
            "--metric", "psnr", "--metric", "ms-ssim", "--out", str(tmp_path / "out"), "--no-progress",
            "--executor", "ray", "--address", ray_address]
    db = tmp_path / "out" / "gcbench.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "gcbench", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while count_tasks(db) < 8 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(db) as conn:
        before = dict(conn.execute("SELECT key, created FROM tasks"))
    assert 0 < len(before) < 48, len(before)
    resumed = subprocess.run([sys.executable, "-m", "gcbench", *args], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"{48 - len(before)} done, {len(before)} already in the store, 0 failed" in resumed.stdout
    with sqlite3.connect(db) as conn:
        after = dict(conn.execute("SELECT key, created FROM tasks"))
        statuses = {s for (s,) in conn.execute("SELECT status FROM metric_results")}
    assert len(after) == 48 and statuses == {"ok"}
    assert all(after[k] == t for k, t in before.items())  # finished tasks were not run again


def test_set_metric_features_gather_at_the_driver(ray_address: str, tmp_path: Path, image_folder,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from gcbench.metrics import registry

    fresh = registry.Registry("metric", validate=registry._validate_metric,
                              populate=registry._populate_metrics)
    fresh.add(HistogramSet.name, HistogramSet)
    monkeypatch.setattr(registry, "metrics", fresh)
    data = image_folder(3, (96, 128))
    results = {}
    for name, kw in (("inline", {"jobs": 1}), ("ray", {"executor": "ray"})):
        cache = tmp_path / f"cache-{name}"
        monkeypatch.setenv("GCBENCH_CACHE", str(cache))  # each run computes its own references
        report = _run(data, tmp_path / name, ["jpeg@10,50", "webp@30"], ["psnr", "test-hist"], **kw)
        assert report.n_ok == 9 and not report.failed
        # references once per original (3), features once per task (9), all written by the driver
        assert len(list((cache / "reference-features").glob("*.npy"))) == 3
        assert len(list((tmp_path / name / "features").rglob("*.npy"))) == 9
        results[name] = set_table(tmp_path / name)
    cols = ["codec", "setting", "metric", "status", "n_items", "test_mad", "test_ref_mean"]
    assert len(results["ray"]) == 3 and (results["ray"]["n_items"] == 3).all()
    pd.testing.assert_frame_equal(results["ray"][cols], results["inline"][cols], check_exact=True)


def test_task_resources_follow_the_devices() -> None:
    from gcbench.codecs.spec import CodecSpec
    from gcbench.execution.plan import MetricRef, Task
    from gcbench.execution.ray_executor import task_resources

    def task(options: dict, device: str, metrics: tuple[str, ...]) -> Task:
        spec = CodecSpec("c", "pillow", "quality", (1,), True, options=options)
        refs = tuple(MetricRef(name=m, metric_id=m, device=device) for m in metrics)
        return Task(key="k", codec="c", spec=spec, codec_versions={}, metrics=refs)

    assert task_resources(task({}, "cpu", ("psnr", "ms-ssim")), 1, 0.25) == {"num_cpus": 1.0, "num_gpus": 0.0}
    # PSNR ignores the device; MS-SSIM runs on it
    assert task_resources(task({}, "cuda", ("psnr",)), 2, 0.25) == {"num_cpus": 2.0, "num_gpus": 0.0}
    assert task_resources(task({}, "cuda", ("psnr", "ms-ssim")), 1, 0.25)["num_gpus"] == 0.25
    assert task_resources(task({"device": "cuda:0"}, "cpu", ("psnr",)), 1, 0.5)["num_gpus"] == 0.5
    assert task_resources(task({"device": "cuda", "num_gpus": 1}, "cuda", ("ms-ssim",)), 1, 0.25)["num_gpus"] == 1.0


def test_gpu_tasks_on_a_cluster_without_gpus_fail_before_any_work(ray_address: str, tmp_path: Path, image_folder) -> None:
    with pytest.raises(ConfigError, match="the Ray cluster has 0 GPUs"):
        _run(image_folder(1, (176, 176)), tmp_path / "o", ["jpeg@50"], ["ms-ssim"], executor="ray", device="cuda")
    with sqlite3.connect(tmp_path / "o" / "gcbench.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 0


def test_without_ray_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError, as when it is not installed
    with pytest.raises(UnavailableError, match=r"pip install 'gcbench\[ray\]'"):
        make_executor("ray", 1)
    code = main(["run", "--codec", "jpeg@50", "--dataset", "sample", "--out", str(tmp_path / "o"), "--executor", "ray"])
    assert code == 2 and "pip install 'gcbench[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "o" / "gcbench.sqlite").exists()  # refused before the store was opened


def test_with_ray_the_executor_is_built_and_options_are_checked() -> None:
    ex = make_executor("ray", 2, 1, address="auto", max_retries=5)
    assert ex.name == "ray" and ex.describe()["address"] == "auto" and ex.describe()["max_retries"] == 5
    with pytest.raises(ConfigError, match="unknown"):
        make_executor("ray", 1, adress="auto")
    with pytest.raises(ConfigError, match="takes no options"):
        make_executor("local", 1, address="auto")  # --address without --executor ray
    assert make_executor("local", 2).name == "local"  # the local pool stays the default executor


def test_cli_options_reach_the_executor() -> None:
    from gcbench.cli import build_parser
    from gcbench.cli.run import config_from_args

    args = build_parser().parse_args(["run", "--codec", "jpeg", "--dataset", "sample", "--out", "x", "--executor", "ray",
                                      "--address", "ray://head:10001", "--ray-max-retries", "2",
                                      "--ray-gpus-per-task", "0.5"])
    args.argv = []
    config = config_from_args(args)
    assert config.executor == "ray"
    assert config.executor_options == {"address": "ray://head:10001", "max_retries": 2, "gpus_per_task": 0.5}
    args = build_parser().parse_args(["run", "--codec", "jpeg", "--dataset", "sample", "--out", "x"])
    args.argv = []
    assert config_from_args(args).executor == "local" and config_from_args(args).executor_options == {}


# -- a worker that cannot see the driver's files --------------------------------------------------


def _move_away_at_first_wait(monkeypatch: pytest.MonkeyPatch, folder: Path, gate: Path) -> list[Path]:
    """When the driver first waits for results (every task submitted, every input read), rename
    ``folder`` and open the gate: from then on the driver's files are not where the tasks say."""
    import ray

    real_wait = ray.wait
    moved: list[Path] = []

    def wait(*args, **kw):
        if not moved:
            moved.append(folder.rename(folder.with_name(folder.name + "-moved")))
            gate.touch()
        return real_wait(*args, **kw)

    monkeypatch.setattr(ray, "wait", wait)
    return moved


def test_masks_reach_workers_by_value(ray_address: str, tmp_path: Path, image_folder, specs: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    gate = tmp_path / "gate"
    (specs / "gated.toml").write_text(
        'adapter = "test_ray_executor:GatedGainCodec"\nrate_param = "gain"\nsettings = [2.0]\n'
        f'rate_increases_with_setting = true\n[options]\ngate = "{gate}"\n')
    data = image_folder(2, (32, 48))
    masks = tmp_path / "masks"
    masks.mkdir()
    roi = np.zeros((32, 48), np.uint8)
    roi[:16] = 255
    for i in range(2):
        Image.fromarray(roi).save(masks / f"img{i:02d}.png")
    metrics = ["psnr", "roi-psnr"]
    gate.touch()
    local = _run(data, tmp_path / "local", ["gated@2.0"], metrics, jobs=1, masks=str(masks))
    gate.unlink()
    moved = _move_away_at_first_wait(monkeypatch, masks, gate)
    remote = _run(data, tmp_path / "ray", ["gated@2.0"], metrics, executor="ray", threads=1, masks=str(masks))
    assert moved and not masks.exists()
    assert not local.failed and not remote.failed, per_image(tmp_path / "ray")[["status", "error", "metric_errors"]]
    cols = ["key", "codec", "setting", "image", "status", "n_bytes", "bpp", "psnr", "psnr_in", "psnr_out"]
    # encoded with the mask (4× finer step in the RoI) and measured with it, under the same keys
    table = _table(tmp_path / "ray", cols)
    assert (table["psnr_in"] - table["psnr_out"] > 9.0).all()
    pd.testing.assert_frame_equal(table, _table(tmp_path / "local", cols), check_exact=True)


@pytest.mark.slow
def test_cityscapes_labels_reach_workers_by_value(ray_address: str, tmp_path: Path, specs: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from test_cityscapes import make_cityscapes

    gate = tmp_path / "gate"
    (specs / "gatedpng.toml").write_text(f'base = "png"\nadapter = "test_ray_executor:GatedPng"\n'
                                         f'[options]\ngate = "{gate}"\n')
    root = tmp_path / "cityscapes"
    make_cityscapes(root, cities={"aachen": 2}, size=(32, 64))
    options = {"miou": {"random_init": True, "test_scale": [64, 32]}}
    kw = {"metric_options": options, "data_root": str(root)}
    gate.touch()
    local = _run(Path("cityscapes"), tmp_path / "local", ["gatedpng"], ["miou"], jobs=1, **kw)
    gate.unlink()
    moved = _move_away_at_first_wait(monkeypatch, root / "gtFine", gate)
    remote = _run(Path("cityscapes"), tmp_path / "ray", ["gatedpng"], ["miou"], executor="ray", threads=1, **kw)
    assert moved and not (root / "gtFine").exists()
    assert not local.failed and not remote.failed, set_table(tmp_path / "ray")
    cols = ["codec", "setting", "metric", "status", "n_items", "miou", "aacc"]
    theirs, ours = set_table(tmp_path / "local")[cols], set_table(tmp_path / "ray")[cols]
    assert (ours["status"] == "ok").all() and (ours["n_items"] == 2).all()
    pd.testing.assert_frame_equal(ours, theirs, check_exact=True)
    # a label the driver cannot read either fails the metric with the driver's message (the folder
    # inside the layout, given as a plain dataset, is not checked for labels up front)
    moved[0].rename(tmp_path / "gone")
    _run(root / "leftImg8bit" / "val", tmp_path / "nolabels", ["gatedpng"], ["miou"], executor="ray", threads=1,
         metric_options=options)
    errors = per_image(tmp_path / "nolabels")["metric_errors"]
    assert errors.str.contains("no label for").all()
