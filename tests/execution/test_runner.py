"""The runner end to end: results, resume, failures, parallelism, and equality with plain Pillow."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import count_tasks
from PIL import Image

from gcbench.cli import main
from gcbench.core.errors import UnavailableError, UnknownNameError
from gcbench.execution.runner import RunConfig, run
from gcbench.results.store import ResultStore
from gcbench.results.views import per_image, summary, summary_table


def _run(dataset: str | Path, out: Path, codecs: list[str], metrics: list[str] | None = None, **kw) -> object:
    return run(RunConfig(codecs=codecs, dataset=str(dataset), out=out, metrics=metrics or ["psnr", "ms-ssim"],
                         progress=False, **kw))


def test_sample_run_tables_and_plot(tmp_path: Path) -> None:
    report = _run("sample", tmp_path / "r", ["jpeg@10,50", "webp@50"])
    assert not report.failed and report.n_tasks == 9 and report.n_ok == 9
    for name in ("summary.csv", "per_image.csv", "rd.png", "rd.svg"):
        assert (tmp_path / "r" / name).stat().st_size > 0
    s = pd.read_csv(tmp_path / "r" / "summary.csv")
    assert {"codec", "setting", "n_images", "bpp", "psnr", "ms_ssim", "ms_ssim_db"} <= set(s.columns)
    assert s[["codec", "setting"]].values.tolist() == [["jpeg", 10], ["jpeg", 50], ["webp", 50]]
    assert (s["n_images"] == 3).all()
    df = per_image(tmp_path / "r")
    # the summary is the mean of per-image values
    mean = df[(df.codec == "jpeg") & (df.setting == "50")][["bpp", "psnr", "ms_ssim"]].mean()
    row = s[(s.codec == "jpeg") & (s.setting == 50)].iloc[0]
    assert row["bpp"] == pytest.approx(mean["bpp"], rel=1e-12) and row["psnr"] == pytest.approx(mean["psnr"], rel=1e-12)
    # MS-SSIM in dB is -10 log10(1 - v)
    assert np.allclose(df["ms_ssim_db"], -10 * np.log10(1 - df["ms_ssim"]))
    # bpp counts every byte of the stored bitstream
    with ResultStore(tmp_path / "r") as store:
        for _, r in df.iterrows():
            data = store.read_bitstream(r["key"])
            assert len(data) == r["n_bytes"] and r["bpp"] == 8 * len(data) / (r["height"] * r["width"])


def test_rerun_skips_and_new_metric_reuses_bitstreams(tmp_path: Path) -> None:
    out = tmp_path / "r"
    _run("sample", out, ["jpeg@20"], metrics=["psnr"])
    before = per_image(out)
    again = _run("sample", out, ["jpeg@20"], metrics=["psnr"])
    assert again.n_skipped == 3 and again.n_ok == 0
    more = _run("sample", out, ["jpeg@20"], metrics=["psnr", "ms-ssim"])
    assert more.n_ok == 3 and more.n_skipped == 0
    after = per_image(out)
    assert after["ms_ssim"].notna().all()
    # the encode was not repeated: same single-shot times and bytes as the first run
    pd.testing.assert_series_equal(before["encode_s"], after["encode_s"])
    pd.testing.assert_series_equal(before["n_bytes"], after["n_bytes"])


def test_jobs_two_equals_jobs_one(tmp_path: Path) -> None:
    a = _run("sample", tmp_path / "a", ["jpeg@30", "webp@30"], jobs=1)
    b = _run("sample", tmp_path / "b", ["jpeg@30", "webp@30"], jobs=2)
    assert not a.failed and not b.failed
    cols = ["codec", "setting", "image", "n_bytes", "bpp", "psnr", "ms_ssim"]
    pd.testing.assert_frame_equal(per_image(tmp_path / "a")[cols], per_image(tmp_path / "b")[cols])


def test_equal_to_a_plain_pillow_loop_on_kodak(kodak_dir: Path, tmp_path: Path) -> None:
    """jpeg@75 and webp@75 on the 24 Kodak images: bpp and PSNR equal to 4 decimals."""
    _run(kodak_dir, tmp_path / "k", ["jpeg@75", "webp@75"], metrics=["psnr"], jobs=2)
    s = summary(per_image(tmp_path / "k")).set_index("codec")
    for fmt, codec in (("JPEG", "jpeg"), ("WEBP", "webp")):
        bpps, psnrs = [], []
        for path in sorted(kodak_dir.glob("*.png")):
            img = np.asarray(Image.open(path).convert("RGB"))
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, fmt, quality=75)
            rec = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
            bpps.append(8 * len(buf.getvalue()) / (img.shape[0] * img.shape[1]))
            mse = np.mean((img.astype(np.float64) - rec) ** 2)
            psnrs.append(10 * np.log10(255**2 / mse))
        assert s.loc[codec, "n_images"] == 24
        assert round(s.loc[codec, "bpp"], 4) == round(float(np.mean(bpps)), 4)
        assert round(s.loc[codec, "psnr"], 4) == round(float(np.mean(psnrs)), 4)


def test_bad_images_are_error_rows_and_the_run_goes_on(tmp_path: Path) -> None:
    from conftest import smooth_image

    folder = tmp_path / "mixed data"
    folder.mkdir()
    good = smooth_image(200, 240, seed=4)
    Image.fromarray(good).save(folder / "good.png")
    data = (folder / "good.png").read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 3])
    (folder / "text.png").write_text("hello, I am text")
    Image.fromarray(good[:1, :1]).save(folder / "one pixel.png")
    Image.fromarray((good[..., 0].astype(np.uint16) * 257)).save(folder / "grey16.png")
    Image.fromarray(good).convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    Image.fromarray(good).convert("P").save(folder / "palette.gif")
    Image.fromarray(good).save(folder / "Bild mit Ümläuten é.png")
    out = tmp_path / "out dir"
    code = main(["run", "--codec", "jpeg@50", "--codec", "webp@50", "--dataset", str(folder), "--out", str(out),
                 "--no-progress"])
    assert code == 1  # some tasks failed
    from gcbench.results.views import failures

    f = failures(out)
    image_errors = f[f.kind == "image"]
    assert sorted(image_errors["image"]) == ["text.png", "truncated.png"]
    assert image_errors["error"].str.contains("not a recognised image format|cannot decode").all()
    df = per_image(out)
    assert sorted(df["image"].unique()) == sorted(
        ["good.png", "one pixel.png", "grey16.png", "cmyk.jpg", "palette.gif", "Bild mit Ümläuten é.png"])
    assert (df["status"] == "ok").all()
    # the 1×1 image gets PSNR and a clear MS-SSIM error, only for that metric
    tiny = df[df.image == "one pixel.png"]
    assert tiny["psnr"].notna().all() and tiny["ms_ssim"].isna().all()
    assert tiny["metric_errors"].str.contains("too small for MS-SSIM").all()
    assert df[df.image != "one pixel.png"]["ms_ssim"].notna().all()
    with sqlite3.connect(out / "gcbench.sqlite") as conn:
        conv = dict(conn.execute("SELECT name, conversions FROM images"))
    assert "scaled to 8-bit" in conv["grey16.png"] and "CMYK" in conv["cmyk.jpg"]


def _failing_spec(tmp_path: Path) -> Path:
    specs = tmp_path / "specs"
    specs.mkdir(exist_ok=True)
    (specs / "failing.toml").write_text(
        'adapter = "failing_codec:FailingCodec"\nrate_param = "mode"\nrate_increases_with_setting = true\n'
        'settings = ["ok", "encode-error", "decode-error", "wrong-size", "empty", "boom"]\n')
    return specs


def test_codec_failures_become_error_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image_folder) -> None:
    from gcbench.codecs import registry

    monkeypatch.setenv("GCBENCH_CODEC_PATH", str(_failing_spec(tmp_path)))
    monkeypatch.setattr(registry, "codecs", registry.new_codec_registry())
    report = _run(image_folder(1, (180, 180)), tmp_path / "o", ["failing"])
    assert report.n_failed == 5 and report.n_ok == 1
    df = per_image(tmp_path / "o").set_index("setting")
    assert df.loc["ok", "status"] == "ok" and df.loc["ok", "psnr"] == np.inf  # PNG is lossless
    expect = {"encode-error": ("encode", "encoder refused"), "decode-error": ("decode", "decoder refused"),
              "wrong-size": ("decode", "decoded image is 180×179"), "empty": ("encode", "no bytes"),
              "boom": ("encode", "ZeroDivisionError: unexpected bug")}
    for setting, (stage, text) in expect.items():
        assert df.loc[setting, "status"] == "error"
        assert df.loc[setting, "error_stage"] == stage
        assert text in df.loc[setting, "error"]


def test_crashing_worker_is_an_error_row_and_the_pool_recovers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image_folder) -> None:
    specs = _failing_spec(tmp_path)
    (specs / "crashy.toml").write_text('base = "failing"\nsettings = ["crash", "ok"]\n')
    monkeypatch.setenv("GCBENCH_CODEC_PATH", str(specs))
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[1]) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = tmp_path / "o"
    code = subprocess.run([sys.executable, "-m", "gcbench", "run", "--codec", "crashy", "--dataset",
                           str(image_folder(2, (180, 180))), "--out", str(out), "--jobs", "2", "--metric", "psnr",
                           "--no-progress"], capture_output=True, text=True, timeout=300)
    assert code.returncode == 1, code.stderr
    df = per_image(out)
    crashed = df[df.setting == "crash"]
    assert (crashed["status"] == "error").all() and crashed["error"].str.contains("worker process died").all()
    assert len(df) == 4  # nothing lost


def test_unknown_and_unavailable_names_fail_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'jpeg'"):
        _run("sample", tmp_path / "x", ["jpgg"])
    with pytest.raises(UnknownNameError, match="Did you mean 'psnr'"):
        _run("sample", tmp_path / "x", ["jpeg"], metrics=["psrn"])
    assert not (tmp_path / "x").exists()
    # a missing optional package: the codec is unavailable with the install hint
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pillow_heif" else real(name, *a))
    with pytest.raises(UnavailableError, match=r"pip install 'gcbench\[heif\]'"):
        _run("sample", tmp_path / "x", ["heic"])
    assert main(["run", "--codec", "heic", "--dataset", "sample", "--out", str(tmp_path / "y")]) == 2


def test_sigkill_halfway_then_resume_gives_the_same_summary(kodak_dir: Path, tmp_path: Path) -> None:
    # 6 Kodak images × 12 settings, killed with SIGKILL once some tasks are stored
    subset = tmp_path / "kodak6"
    subset.mkdir()
    for p in sorted(kodak_dir.glob("*.png"))[:6]:
        (subset / p.name).symlink_to(p)
    args = ["--codec", "jpeg@10,30,50,70,90,95", "--codec", "webp@10,30,50,70,90,95", "--dataset", str(subset),
            "--metric", "psnr", "--metric", "ms-ssim", "--no-progress"]
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "gcbench", "run", *args, "--out", str(out), "--jobs", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while count_tasks(out / "gcbench.sqlite") < 20 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_at_kill = count_tasks(out / "gcbench.sqlite")
    assert 0 < done_at_kill < 72, done_at_kill
    resumed = subprocess.run([sys.executable, "-m", "gcbench", "run", *args, "--out", str(out)],
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{done_at_kill} already in the store" in resumed.stdout or "already in the store" in resumed.stdout
    clean = tmp_path / "clean"
    assert main(["run", *args, "--out", str(clean)]) == 0
    with sqlite3.connect(out / "gcbench.sqlite") as conn:
        n, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT codec || '|' || setting || '|' || image) FROM tasks").fetchone()
    assert n == distinct == 72
    a, b = summary_table(out), summary_table(clean)
    cols = ["codec", "setting", "n_images", "n_failed", "bpp", "psnr", "ms_ssim"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_sigterm_marks_the_run_interrupted_and_resume_completes(kodak_dir: Path, tmp_path: Path) -> None:
    subset = tmp_path / "kodak3"
    subset.mkdir()
    for p in sorted(kodak_dir.glob("*.png"))[:3]:
        (subset / p.name).symlink_to(p)
    args = [sys.executable, "-m", "gcbench", "run", "--codec", "jpeg@10,20,30,40,50,60,70,80,90", "--dataset",
            str(subset), "--metric", "psnr", "--metric", "ms-ssim", "--out", str(tmp_path / "o"), "--no-progress"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while count_tasks(tmp_path / "o" / "gcbench.sqlite") < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "run the same command again to resume" in err
    with sqlite3.connect(tmp_path / "o" / "gcbench.sqlite") as conn:
        assert conn.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
    assert subprocess.run(args, capture_output=True, timeout=300).returncode == 0
    assert count_tasks(tmp_path / "o" / "gcbench.sqlite") == 27


def test_a_damaged_stored_bitstream_fails_the_task_and_the_next_run_heals_it(tmp_path: Path) -> None:
    out = tmp_path / "r"
    _run("sample", out, ["jpeg@30"], metrics=["psnr"])
    with ResultStore(out) as store:
        key = store.query("SELECT key FROM tasks ORDER BY image LIMIT 1")[0]["key"]
        store.bitstream_path(key).write_bytes(b"not a JPEG any more")
    added = _run("sample", out, ["jpeg@30"], metrics=["psnr", "ms-ssim"])
    assert added.n_failed == 1 and added.failed
    df = per_image(out).set_index("key")
    assert df.loc[key, "status"] == "error" and df.loc[key, "error_stage"] == "decode"
    healed = _run("sample", out, ["jpeg@30"], metrics=["psnr", "ms-ssim"])
    assert healed.n_ok == 1 and healed.n_skipped == 2 and not healed.failed
    df = per_image(out).set_index("key")
    assert df.loc[key, "status"] == "ok" and df["ms_ssim"].notna().all()
