"""The generic command-line adapter, driven by fake programs written at test time.

The fakes stand in for *a* codec program, never for BPG or VTM: they copy files (a lossless
"codec"), or fail in one way each — exit 1, hang, write nothing, write an empty file, write a
picture of the wrong size — so that every failure has its own clear error row.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from conftest import smooth_image
from gcbench.codecs import colour
from gcbench.codecs.external import ExternalCodec, env_var, parse_binary_args, render
from gcbench.codecs.spec import spec_from_dict
from gcbench.core.errors import CodecError, ConfigError, UnavailableError

FAKE = r'''#!{python}
"""A fake codec program: copies its input to its output, or fails as MODE says."""
import os, shutil, subprocess, sys, time

args = sys.argv[1:]
if args[:1] == ["--version"]:
    print("fakecodec version 1.2.3 (test build)")
    sys.exit(0)
role, mode, src, dst = args[:4]
extra = args[4:]
with open(os.path.join(os.path.dirname(dst), f"{{role}}.argv"), "w") as f:
    f.write("\n".join(sys.argv))
if mode == "exit1":
    print("fake failure: something broke in " + role, file=sys.stderr)
    sys.exit(1)
if mode == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open(extra[0], "w") as f:
        f.write(str(child.pid))
    print("hanging", file=sys.stderr, flush=True)
    time.sleep(120)
if mode == "nothing":
    sys.exit(0)
if mode == "empty":
    open(dst, "wb").close()
    sys.exit(0)
if mode == "wrongsize":
    from PIL import Image
    Image.new("RGB", (10, 10)).save(dst)
    sys.exit(0)
if mode == "y4m":  # raw 4:4:4 8-bit in, Y4M out; extra = width, height
    w, h = extra[:2]
    with open(src, "rb") as i, open(dst, "wb") as o:
        o.write(f"YUV4MPEG2 W{{w}} H{{h}} F25:1 Ip C444\nFRAME\n".encode() + i.read())
    sys.exit(0)
shutil.copyfile(src, dst)
'''


def install_fake(folder: Path, name: str = "fakecodec") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(FAKE.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_raw(enc_mode: str = "ok", dec_mode: str = "ok", *, path: str | Path = "", fmt_in: str = "png",
             fmt_out: str = "png", timeout: float = 60, pad_to: int = 1, yuv: dict | None = None,
             name: str = "fake", extra_enc: list[str] | None = None, extra_dec: list[str] | None = None) -> dict:
    binary = {"version_args": ["--version"], "install": "pip install fakecodec"}
    if path:
        binary["path"] = str(path)
    encode = {"command": ["{fakecodec}", "encode", "{enc_mode}", "{input}", "{output}", *(extra_enc or []), "--q={setting}"],
              "input": fmt_in, "suffix": ".fake"}
    decode = {"command": ["{fakecodec}", "decode", "{dec_mode}", "{input}", "{output}", *(extra_dec or [])], "output": fmt_out}
    encode |= yuv or {}
    return {
        "adapter": "external", "rate_param": "q", "rate_increases_with_setting": True, "settings": [1, 2],
        "options": {"timeout": timeout, "pad_to": pad_to, "binaries": {"fakecodec": binary},
                    "params": {"enc_mode": enc_mode, "dec_mode": dec_mode}, "encode": encode, "decode": decode},
        "name": name,
    }


def fake_codec(**kw) -> ExternalCodec:
    raw = fake_raw(**kw)
    return ExternalCodec(spec_from_dict(raw, default_name=raw["name"]))


@pytest.fixture
def bins(tmp_path: Path) -> Path:
    folder = tmp_path / "fake bins"  # a space in the path on purpose
    install_fake(folder)
    return folder


@pytest.fixture
def spaced_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private folders go under a temp root whose name has spaces; the test checks it is left empty."""
    root = tmp_path / "temp root with spaces"
    root.mkdir()
    monkeypatch.setenv("TMPDIR", str(root))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return root


def _image(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    return smooth_image(h, w, seed=seed)


# ---------------------------------------------------------------------------------------------
# Round trips and provenance
# ---------------------------------------------------------------------------------------------

def test_png_round_trip_with_spaces_records_binary_version_and_commands(bins, spaced_tmp):
    codec = fake_codec(path=bins / "fakecodec")
    img = _image()
    enc = codec.encode(img, 2)
    colour.write_png(spaced_tmp.parent / "ref.png", img)
    assert enc.data == (spaced_tmp.parent / "ref.png").read_bytes()  # the program got exactly this PNG
    np.testing.assert_array_equal(codec.decode(enc.data, img.shape[:2]), img)
    info = enc.info
    assert info["binaries"] == {"fakecodec": {"path": str(bins / "fakecodec"), "version": "1.2.3"}}
    exe = str(bins / "fakecodec")
    assert info["commands"]["encode"] == f"'{exe}' encode ok '$TMP/input.png' '$TMP/bitstream.fake' --q=2"
    assert info["commands"]["decode"] == f"'{exe}' decode ok '$TMP/bitstream.fake' '$TMP/decoded.png'"
    assert info["encoder_input"] == "PNG" and info["coded_size"] == [64, 48] and info["encode_process_s"] > 0
    assert list(spaced_tmp.iterdir()) == []  # every private folder was removed


@pytest.mark.parametrize("chroma,depth,size,pad", [("444", 8, (48, 64), 1), ("420", 10, (47, 63), 2), ("444", 8, (45, 61), 8)])
def test_yuv_in_and_out_pads_and_crops(bins, tmp_path, chroma, depth, size, pad):
    yuv = {"chroma": chroma, "bit_depth": depth, "matrix": "bt601", "range": "limited"}
    codec = fake_codec(path=bins / "fakecodec", fmt_in="yuv", fmt_out="yuv", pad_to=pad, yuv=yuv,
                       extra_enc=["{width}x{height}", "{image_width}x{image_height}"])
    img = _image(*size)
    enc = codec.encode(img, 1)
    coded = (-(-size[0] // pad) * pad, -(-size[1] // pad) * pad)
    fmt = colour.YuvFormat(chroma, depth, "bt601", "limited")
    assert len(enc.data) == fmt.frame_bytes(*coded)
    assert enc.info["coded_size"] == [coded[1], coded[0]]
    assert f"{coded[1]}x{coded[0]} {size[1]}x{size[0]}" in enc.info["commands"]["encode"]
    # the decoder's output read back equals this module's own round trip of the padded image
    padded = np.pad(img, ((0, coded[0] - size[0]), (0, coded[1] - size[1]), (0, 0)), mode="edge")
    expect = colour.yuv_to_rgb(colour.rgb_to_yuv(padded, fmt), fmt)[: size[0], : size[1]]
    np.testing.assert_array_equal(codec.decode(enc.data, size), expect)


def test_y4m_and_ppm_outputs(bins):
    img = _image(30, 40)
    codec = fake_codec(path=bins / "fakecodec", fmt_in="yuv", fmt_out="y4m", dec_mode="y4m",
                       extra_dec=["{width}", "{height}"], yuv={"chroma": "444", "bit_depth": 8})
    fmt = colour.YuvFormat()
    np.testing.assert_array_equal(codec.decode(codec.encode(img, 1).data, (30, 40)),
                                  colour.yuv_to_rgb(colour.rgb_to_yuv(img, fmt), fmt))
    ppm = fake_codec(path=bins / "fakecodec", fmt_in="ppm", fmt_out="ppm")
    np.testing.assert_array_equal(ppm.decode(ppm.encode(img, 1).data, (30, 40)), img)


def test_decode_without_a_size_reads_self_describing_output(bins):
    img = _image(20, 24)
    codec = fake_codec(path=bins / "fakecodec")
    np.testing.assert_array_equal(codec.decode(codec.encode(img, 1).data), img)
    raw = fake_codec(path=bins / "fakecodec", fmt_in="yuv", fmt_out="yuv")
    with pytest.raises(CodecError, match="needs the original image size"):
        raw.decode(b"x")


# ---------------------------------------------------------------------------------------------
# Spec checking and command templates
# ---------------------------------------------------------------------------------------------

def _with(raw: dict, **options) -> dict:
    out = {**raw, "options": {**raw["options"], **options}}
    return out


@pytest.mark.parametrize("change,message", [
    (lambda r: _with(r, encode={**r["options"]["encode"], "command": ["{fakecodec}", "{inptu}", "{setting}"]}),
     r"unknown placeholder \{inptu\}; valid here: .*\{input\}"),
    (lambda r: _with(r, encode={**r["options"]["encode"], "command": ["fakecodec", "{setting}"]}),
     "must start with a binary placeholder"),
    (lambda r: _with(r, encode={**r["options"]["encode"], "command": ["{fakecodec}", "{input}"]}),
     r"never uses \{setting\}"),
    (lambda r: _with(r, decode={**r["options"]["decode"], "command": ["{fakecodec}", "{setting}"]}),
     r"unknown placeholder \{setting\}"),
    (lambda r: _with(r, encode={**r["options"]["encode"], "input": "yuv", "chroma": "420"}), "needs even sizes"),
    (lambda r: _with(r, encode={**r["options"]["encode"], "input": "tiff"}), "input must be one of"),
    (lambda r: _with(r, params={"input": 3}), "clashes with a built-in placeholder"),
    (lambda r: _with(r, timout=3), r"unknown key\(s\) \['timout'\]"),
    (lambda r: _with(r, binaries={}), "no \\[options.binaries.NAME\\] table"),
    (lambda r: _with(r, params={"enc_mode": ["a"], "dec_mode": "ok"},
                     encode={**r["options"]["encode"], "command": ["{fakecodec}", "-m={enc_mode}", "{setting}"]}),
     "must be a whole argument"),
])
def test_malformed_specs_are_refused_with_the_reason(change, message):
    raw = change(fake_raw())
    with pytest.raises(ConfigError, match=message):
        ExternalCodec(spec_from_dict(raw, default_name="bad"))


def test_render_expands_lists_and_honours_format_specs():
    values = {"a": ["-x", "1"], "b": [], "setting": 0.25, "w": 8}
    assert render(["{a}", "{b}", "q={setting:.3f}", "{w}x{w}", "{{lit}}"], values, "t") == \
        ["-x", "1", "q=0.250", "8x8", "{lit}"]


# ---------------------------------------------------------------------------------------------
# Finding programs
# ---------------------------------------------------------------------------------------------

def test_lookup_order_option_then_environment_then_path(bins, tmp_path, monkeypatch):
    other = install_fake(tmp_path / "other bins")
    third = install_fake(tmp_path / "third")
    monkeypatch.setenv("PATH", str(bins) + os.pathsep + os.environ["PATH"])
    monkeypatch.delenv(env_var("fakecodec"), raising=False)
    assert fake_codec().resolved()["fakecodec"] == str(bins / "fakecodec")
    monkeypatch.setenv("GCBENCH_BIN_FAKECODEC", str(other))
    assert fake_codec().resolved()["fakecodec"] == str(other)
    assert fake_codec(path=third).resolved()["fakecodec"] == str(third)
    assert env_var("heif-dec") == "GCBENCH_BIN_HEIF_DEC"


def test_missing_program_is_unavailable_with_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("GCBENCH_BIN_FAKECODEC", raising=False)
    avail = fake_codec().available()
    assert not avail
    assert avail.reason == "program fakecodec not found on PATH"
    assert "pip install fakecodec" in avail.hint
    assert "--binary fakecodec=PATH" in avail.hint and "GCBENCH_BIN_FAKECODEC" in avail.hint
    with pytest.raises(UnavailableError, match="cannot run here: program fakecodec not found"):
        fake_codec().prepare()
    plain = tmp_path / "not executable"
    plain.write_text("x")
    avail = fake_codec(path=plain).available()
    assert f"{plain} (option binaries.fakecodec.path) is not an executable file" in avail.reason
    monkeypatch.setenv("GCBENCH_BIN_FAKECODEC", str(tmp_path / "nowhere"))
    assert "($GCBENCH_BIN_FAKECODEC) does not exist" in fake_codec().available().reason


def test_version_probe_and_startup_time(bins):
    codec = fake_codec(path=bins / "fakecodec")
    assert codec.versions() == {"fakecodec": "1.2.3"}
    startup = codec.startup_seconds(repeats=3)
    assert set(startup) == {"fakecodec"} and 0.0 < startup["fakecodec"] < 10.0


def test_parse_binary_args():
    assert parse_binary_args(["a=/x/y", "b = /p q/r"]) == {"a": "/x/y", "b": "/p q/r"}
    with pytest.raises(ConfigError, match="NAME=PATH"):
        parse_binary_args(["bpgenc"])


# ---------------------------------------------------------------------------------------------
# Failures, each its own error row, and the run goes on
# ---------------------------------------------------------------------------------------------

def _registry_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, specs: dict[str, dict]) -> None:
    """Write the specs as TOML into a spec folder and give the test a fresh codec registry."""
    from gcbench.codecs import registry

    folder = tmp_path / "specs"
    folder.mkdir(exist_ok=True)
    for name, raw in specs.items():
        (folder / f"{name}.toml").write_text(_toml(raw))
    monkeypatch.setenv("GCBENCH_CODEC_PATH", str(folder))
    monkeypatch.setattr(registry, "codecs", registry.new_codec_registry())


def _toml(raw: dict) -> str:
    import json

    def value(v):
        return json.dumps(v)  # JSON scalars and arrays of strings are valid TOML

    lines = [f"{k} = {value(v)}" for k, v in raw.items() if k not in ("options", "name")]
    opts = raw["options"]
    lines += ["[options]"] + [f"{k} = {value(v)}" for k, v in opts.items() if not isinstance(v, dict)]
    for key in ("params", "encode", "decode"):
        lines += [f"[options.{key}]"] + [f"{k} = {value(v)}" for k, v in opts[key].items()]
    for name, b in opts["binaries"].items():
        lines += [f"[options.binaries.{name}]"] + [f"{k} = {value(v)}" for k, v in b.items()]
    return "\n".join(lines) + "\n"


def test_every_failure_is_its_own_error_row_and_the_run_goes_on(bins, tmp_path, monkeypatch, image_folder, spaced_tmp):
    from gcbench.execution.runner import RunConfig, run
    from gcbench.results.views import per_image

    exe = bins / "fakecodec"
    pidfile = tmp_path / "grandchild.pid"
    cases = {
        "f-ok": fake_raw(path=exe),
        "f-exit1": fake_raw("exit1", path=exe),
        "f-hang": fake_raw("hang", path=exe, timeout=1.5, extra_enc=[str(pidfile)]),
        "f-nothing": fake_raw("nothing", path=exe),
        "f-empty": fake_raw("empty", path=exe),
        "f-dec-nothing": fake_raw(dec_mode="nothing", path=exe),
        "f-dec-exit1": fake_raw(dec_mode="exit1", path=exe),
        "f-wrongsize": fake_raw(dec_mode="wrongsize", path=exe),
    }
    _registry_with(tmp_path, monkeypatch, cases)
    t0 = time.perf_counter()
    report = run(RunConfig(codecs=[f"{n}@1" for n in cases], dataset=str(image_folder(2, (48, 64))),
                           out=tmp_path / "out", metrics=["psnr"], progress=False, write_outputs=False))
    elapsed = time.perf_counter() - t0
    assert report.n_ok == 2 and report.n_failed == 14
    df = per_image(tmp_path / "out")
    ok = df[df.codec == "f-ok"]
    assert (ok.status == "ok").all() and np.isinf(ok.psnr).all()
    expect = {
        "f-exit1": ("encode", ["fakecodec (encode) exited with status 1", "fake failure: something broke in encode",
                               "command: ", "$TMP/input.png"]),
        "f-hang": ("encode", ["fakecodec (encode) timed out after 1.5 s; its process group was killed", "hanging"]),
        "f-nothing": ("encode", ["exited with status 0 but wrote no bitstream ($TMP/bitstream.fake is missing)",
                                 "(it printed nothing)"]),
        "f-empty": ("encode", ["exited with status 0 but wrote an empty bitstream"]),
        "f-dec-nothing": ("decode", ["fakecodec (decode) exited with status 0 but wrote no decoded image"]),
        "f-dec-exit1": ("decode", ["fakecodec (decode) exited with status 1", "fake failure: something broke in decode"]),
        "f-wrongsize": ("decode", ["fakecodec (decode) wrote a 10×10 image; expected 64×48"]),
    }
    messages = set()
    for codec, (stage, texts) in expect.items():
        rows = df[df.codec == codec]
        assert len(rows) == 2 and (rows.status == "error").all() and (rows.error_stage == stage).all(), codec
        for text in texts:
            assert rows.error.str.contains(text, regex=False).all(), (codec, text, rows.error.iloc[0])
        messages.add(rows.error.iloc[0].splitlines()[0])
    assert len(messages) == len(expect)  # each failure reads differently
    # the hang cost its timeout twice, not two minutes, and its grandchild died with it
    assert elapsed < 60
    pid = int(pidfile.read_text())
    time.sleep(0.2)
    assert not _alive(pid)
    assert list(spaced_tmp.iterdir()) == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a killed child of an exited parent may linger as a zombie until reaped
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_missing_program_stops_the_run_before_any_work(tmp_path, monkeypatch, image_folder):
    from gcbench.cli import main
    from gcbench.catalog import list_codecs
    from gcbench.execution.runner import RunConfig, run

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("GCBENCH_BIN_FAKECODEC", raising=False)
    _registry_with(tmp_path, monkeypatch, {"f-missing": fake_raw()})
    folder = image_folder(1, (32, 32))
    with pytest.raises(UnavailableError, match="codec 'f-missing' cannot run here: program fakecodec not found"):
        run(RunConfig(codecs=["f-missing"], dataset=str(folder), out=tmp_path / "out", metrics=["psnr"]))
    assert not (tmp_path / "out").exists()
    assert main(["run", "--codec", "f-missing", "--dataset", str(folder), "--out", str(tmp_path / "o2")]) == 2
    listed = list_codecs("f-*").set_index("codec")
    status = listed.loc["f-missing", "status"]
    assert status.startswith("unavailable: program fakecodec not found on PATH")
    assert "pip install fakecodec" in status and "--binary fakecodec=PATH" in status


def test_program_gone_after_planning_is_an_error_row(bins, tmp_path, image_folder):
    from gcbench.data.images import load_image
    from gcbench.execution.plan import CodecPlan, ImageItem, plan_tasks
    from gcbench.execution.worker import WorkerState, execute

    exe = install_fake(tmp_path / "soon gone")
    spec = spec_from_dict(fake_raw(path=exe), default_name="f")
    path = next(image_folder(1, (32, 32)).iterdir())
    loaded = load_image(path)
    item = ImageItem(path.name, str(path), loaded.sha256, loaded.height, loaded.width)
    [task] = plan_tasks([CodecPlan(spec=spec, settings=(1,), versions={"fakecodec": "1.2.3"})], [item], [], "d")
    exe.unlink()
    rec = execute(task, WorkerState())
    assert rec.status == "error" and rec.error_stage == "setup"
    assert f"{exe} (option binaries.fakecodec.path) does not exist" in rec.error


def test_binary_option_on_the_command_line(bins, tmp_path, monkeypatch, image_folder):
    import json
    import sqlite3

    from gcbench.cli import main

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("GCBENCH_BIN_FAKECODEC", raising=False)
    _registry_with(tmp_path, monkeypatch, {"f-cli": fake_raw()})
    folder = image_folder(1, (32, 32))
    out = tmp_path / "out"
    argv = ["run", "--codec", "f-cli@1", "--dataset", str(folder), "--out", str(out), "--metric", "psnr",
            "--no-progress", "--no-outputs"]
    assert main(argv + ["--binary", f"fakecodec={bins / 'fakecodec'}"]) == 0
    with sqlite3.connect(out / "gcbench.sqlite") as conn:
        prov = json.loads(conn.execute("SELECT provenance FROM tasks").fetchone()[0])
    assert prov["binaries"]["fakecodec"]["path"] == str(bins / "fakecodec")
    assert main(argv + ["--binary", f"fakecodek={bins / 'fakecodec'}"]) == 2  # a typo is refused


def test_concurrent_tasks_never_collide(bins, tmp_path, monkeypatch, image_folder, spaced_tmp):
    codec = fake_codec(path=bins / "fakecodec", fmt_in="yuv", fmt_out="yuv", yuv={"bit_depth": 10})
    images = [_image(24 + i, 40, seed=i) for i in range(8)]
    fmt = colour.YuvFormat("444", 10)

    def round_trip(img: np.ndarray) -> np.ndarray:
        return codec.decode(codec.encode(img, 1).data, img.shape[:2])

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(round_trip, images))
    for img, rec in zip(images, results):
        np.testing.assert_array_equal(rec, colour.yuv_to_rgb(colour.rgb_to_yuv(img, fmt), fmt))
    # and two worker processes running the same codec on different images
    from gcbench.execution.runner import RunConfig, run

    _registry_with(tmp_path, monkeypatch, {"f-par": fake_raw(path=bins / "fakecodec")})
    report = run(RunConfig(codecs=["f-par"], dataset=str(image_folder(2, (40, 56))), out=tmp_path / "out",
                           metrics=["psnr"], jobs=2, progress=False, write_outputs=False))
    assert report.n_ok == 4 and report.n_failed == 0
    # every private folder was removed; multiprocessing's own (the pool's fork-server socket) is
    # the process's, removed when it exits
    assert [p for p in spaced_tmp.iterdir() if not p.name.startswith("pymp-")] == []


def test_config_file_is_found_beside_the_binaries(tmp_path):
    """VTM and HM keep their .cfg files in cfg/ next to bin/; a relative name is looked up there."""
    root = tmp_path / "VVCSoftware VTM"
    exe = install_fake(root / "bin" / "umake" / "release", "EncoderApp")
    (root / "cfg").mkdir()
    cfg = root / "cfg" / "encoder_intra_vtm.cfg"
    cfg.write_text("# cfg\n")
    raw = fake_raw(path=exe)
    raw["options"]["files"] = {"config": "encoder_intra_vtm.cfg"}
    raw["options"]["encode"]["command"] = ["{fakecodec}", "-c", "{config}", "{setting}"]
    codec = ExternalCodec(spec_from_dict(raw, default_name="f"))
    assert codec.resolved()["config"] == str(cfg)
    assert codec.command_lines(37, 16, 16)["encode"] == [str(exe), "-c", str(cfg), "37"]
    raw["options"]["files"] = {"config": "missing.cfg"}
    avail = ExternalCodec(spec_from_dict(raw, default_name="f")).available()
    assert not avail and "'missing.cfg' (option files.config) not found" in avail.reason
    assert avail.hint == "give its path: --codec-option fake.files.config=PATH"
