"""The shipped command-line codec specs with the real programs (Debian packages listed in
scripts/debian-packages.txt): gcbench's bpp and PSNR equal the same program run by hand on a
Kodak image. BPG, VTM, HM and VVenC are not packaged anywhere reachable: their command lines are
checked by rendering them, against the commands CompressAI and the programs' manuals give."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gcbench.codecs import colour
from gcbench.codecs.external import ExternalCodec
from gcbench.codecs.spec import build_codec
from gcbench.codecs.registry import codecs

KODAK = "kodim20.png"  # 768×512
BUILD_ONLY = {"bpg", "bpg420", "vtm", "hm", "vvenc"}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255.0**2 / mse)


def sh(*argv: str | Path) -> None:
    subprocess.run([str(a) for a in argv], check=True, stdin=subprocess.DEVNULL, capture_output=True)


def read_pillow(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _yuv(d: Path, rgb: np.ndarray, fmt: colour.YuvFormat) -> Path:
    colour.write_yuv(d / "in.yuv", colour.rgb_to_yuv(rgb, fmt), fmt)
    return d / "in.yuv"


# Each by-hand run: (working folder, RGB image) → (bitstream bytes, reconstruction). The flags are
# typed out here as a user would type them, not rendered from the spec.
def hand_cjxl(d: Path, rgb: np.ndarray) -> tuple[bytes, np.ndarray]:
    Image.fromarray(rgb).save(d / "in.ppm")
    sh("cjxl", d / "in.ppm", d / "o.jxl", "-d", "2.5", "-e", "7", "--num_threads=0", "--quiet")
    sh("djxl", d / "o.jxl", d / "r.ppm", "--num_threads=1", "--bits_per_sample=8", "--quiet")
    return (d / "o.jxl").read_bytes(), read_pillow(d / "r.ppm")


def hand_avifenc(d: Path, rgb: np.ndarray) -> tuple[bytes, np.ndarray]:
    Image.fromarray(rgb).save(d / "in.png")
    sh("avifenc", "-j", "1", "-c", "aom", "-s", "6", "-y", "444", "-d", "8", "-r", "full", "--min", "32", "--max", "32",
       d / "in.png", d / "o.avif")
    sh("avifdec", "-j", "1", "-d", "8", "--png-compress", "0", d / "o.avif", d / "r.png")
    return (d / "o.avif").read_bytes(), read_pillow(d / "r.png")


def hand_heif(d: Path, rgb: np.ndarray) -> tuple[bytes, np.ndarray]:
    Image.fromarray(rgb).save(d / "in.png")
    sh("heif-enc", "-e", "x265", "-q", "50", "-p", "chroma=444", "-o", d / "o.heic", d / "in.png")
    sh(shutil.which("heif-dec") or "heif-convert", d / "o.heic", d / "r.png")
    return (d / "o.heic").read_bytes(), read_pillow(d / "r.png")


def hand_opj(d: Path, rgb: np.ndarray) -> tuple[bytes, np.ndarray]:
    Image.fromarray(rgb).save(d / "in.ppm")
    sh("opj_compress", "-i", d / "in.ppm", "-o", d / "o.j2k", "-r", "48", "-I")
    sh("opj_decompress", "-i", d / "o.j2k", "-o", d / "r.ppm")
    return (d / "o.j2k").read_bytes(), read_pillow(d / "r.ppm")


def hand_cwebp(d: Path, rgb: np.ndarray) -> tuple[bytes, np.ndarray]:
    Image.fromarray(rgb).save(d / "in.ppm")
    sh("cwebp", "-quiet", "-q", "50", "-m", "4", d / "in.ppm", "-o", d / "o.webp")
    sh("dwebp", "-quiet", d / "o.webp", "-ppm", "-o", d / "r.ppm")
    return (d / "o.webp").read_bytes(), read_pillow(d / "r.ppm")


def hand_x265(d: Path, rgb: np.ndarray) -> tuple[bytes, np.ndarray]:
    fmt = colour.YuvFormat("444", 8, "bt709", "full")
    h, w = rgb.shape[:2]
    sh("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "yuv444p", "-s", f"{w}x{h}",
       "-i", _yuv(d, rgb, fmt), "-frames:v", "1", "-c:v", "libx265", "-preset", "medium", "-tune", "ssim",
       "-x265-params", "qp=32:keyint=1:pools=1:frame-threads=1:info=0:log-level=error", "-f", "hevc", d / "o.hevc")
    sh("ffmpeg", "-nostdin", "-loglevel", "error", "-i", d / "o.hevc", "-f", "rawvideo", "-pix_fmt", "yuv444p", d / "r.yuv")
    return (d / "o.hevc").read_bytes(), colour.yuv_to_rgb(colour.read_yuv(d / "r.yuv", h, w, fmt), fmt)


def hand_svtav1(d: Path, rgb: np.ndarray) -> tuple[bytes, np.ndarray]:
    fmt = colour.YuvFormat("420", 8, "bt709", "full")
    h, w = rgb.shape[:2]  # Kodak's 768×512 needs no padding to multiples of 8
    sh("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}",
       "-i", _yuv(d, rgb, fmt), "-frames:v", "1", "-c:v", "libsvtav1", "-preset", "8", "-crf", "35",
       "-svtav1-params", "lp=1", "-f", "obu", d / "o.obu")
    sh("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "obu", "-i", d / "o.obu", "-f", "rawvideo", "-pix_fmt",
       "yuv420p", d / "r.yuv")
    return (d / "o.obu").read_bytes(), colour.yuv_to_rgb(colour.read_yuv(d / "r.yuv", h, w, fmt), fmt)


def hand_aom(d: Path, rgb: np.ndarray) -> tuple[bytes, np.ndarray]:
    fmt = colour.YuvFormat("444", 8, "bt709", "full")
    h, w = rgb.shape[:2]
    sh("aomenc", "-w", w, "-h", h, "--fps=1/1", "--limit=1", "--input-bit-depth=8", "--bit-depth=8", "--i444",
       "--cpu-used=6", "--threads=1", "--passes=2", "--end-usage=q", "--cq-level=32", "--tune=psnr", "--skip=0",
       "--obu", "-o", d / "o.obu", _yuv(d, rgb, fmt))
    sh("aomdec", "--rawvideo", "--output-bit-depth=8", "-o", d / "r.yuv", d / "o.obu")
    return (d / "o.obu").read_bytes(), colour.yuv_to_rgb(colour.read_yuv(d / "r.yuv", h, w, fmt), fmt)


def hand_ffmpeg_jpeg2000(d: Path, rgb: np.ndarray) -> tuple[bytes, np.ndarray]:
    Image.fromarray(rgb).save(d / "in.png")
    sh("ffmpeg", "-loglevel", "panic", "-y", "-i", d / "in.png", "-vcodec", "jpeg2000", "-pix_fmt", "yuv444p",
       "-c:v", "libopenjpeg", "-compression_level", "20", d / "o.jp2")
    sh("ffmpeg", "-loglevel", "panic", "-y", "-i", d / "o.jp2", d / "r.png")
    return (d / "o.jp2").read_bytes(), read_pillow(d / "r.png")


# codec → (mid setting, option overrides that keep the test quick, by-hand run)
DEBIAN: dict[str, tuple[object, dict, Callable[[Path, np.ndarray], tuple[bytes, np.ndarray]]]] = {
    "cjxl": (2.5, {}, hand_cjxl),
    "avifenc": (32, {}, hand_avifenc),
    "heif-enc": (50, {}, hand_heif),
    "opj": (48, {}, hand_opj),
    "cwebp": (50, {}, hand_cwebp),
    "ffmpeg-x265": (32, {"params": {"preset": "medium"}}, hand_x265),
    "ffmpeg-svtav1": (35, {"params": {"preset": 8}}, hand_svtav1),
    "aom-av1": (32, {"params": {"cpu_used": 6}}, hand_aom),
    "ffmpeg-jpeg2000": (20, {}, hand_ffmpeg_jpeg2000),
}


def test_every_shipped_command_line_spec_is_tested_here():
    external = {n for n in codecs.names() if codecs.get(n).adapter == "external"}
    assert external == set(DEBIAN) | BUILD_ONLY


@pytest.fixture(scope="module")
def one_kodak(kodak_dir, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kodak1")
    shutil.copy(kodak_dir / KODAK, folder / KODAK)
    return folder


@pytest.mark.parametrize("name", sorted(DEBIAN))
def test_gcbench_equals_the_program_run_by_hand(name, one_kodak, tmp_path):
    import json
    import sqlite3

    from gcbench.execution.runner import RunConfig, run
    from gcbench.results.views import per_image

    setting, overrides, by_hand = DEBIAN[name]
    out = tmp_path / "out"
    report = run(RunConfig(codecs=[f"{name}@{setting}"], dataset=str(one_kodak), out=out, metrics=["psnr"],
                           codec_options={name: overrides} if overrides else {}, progress=False, write_outputs=False))
    assert report.n_ok == 1, per_image(out).error.tolist()
    row = per_image(out).iloc[0]

    rgb = read_pillow(one_kodak / KODAK)
    work = tmp_path / "by hand"
    work.mkdir()
    data, rec = by_hand(work, rgb)
    assert row.n_bytes == len(data)
    assert row.bpp == pytest.approx(8 * len(data) / (rgb.shape[0] * rgb.shape[1]), rel=1e-12)
    assert row.psnr == pytest.approx(psnr(rgb, rec), abs=1e-9)
    assert 20 < row.psnr < 45 and 0.1 < row.bpp < 4  # a mid setting, a sane result
    with sqlite3.connect(out / "gcbench.sqlite") as conn:
        prov = json.loads(conn.execute("SELECT provenance FROM tasks").fetchone()[0])
    for b in prov["binaries"].values():
        assert os.path.isabs(b["path"]) and b["version"] and not b["version"].startswith("unknown")
    assert set(prov["commands"]) == {"encode", "decode"}


def test_rounding_beats_compressais_truncation_on_a_real_codec(one_kodak, tmp_path):
    """The same x265 encoder fed and read back the way CompressAI's VTM/HM/AV1 wrappers do it
    (astype(uint8) both ways) loses PSNR that the codec never lost."""
    import torch
    from compressai.transforms.functional import rgb2ycbcr, ycbcr2rgb

    rgb = read_pillow(one_kodak / KODAK)
    h, w = rgb.shape[:2]
    spec = codecs.get("ffmpeg-x265").with_options(params={"preset": "medium"})
    codec = build_codec(spec)
    gains = {}
    for qp in (22, 32):
        enc = codec.encode(rgb, qp)
        ours = psnr(rgb, codec.decode(enc.data, (h, w)))
        t = torch.from_numpy(rgb.transpose(2, 0, 1).copy()).float() / 255
        (tmp_path / "in.yuv").write_bytes((np.clip(rgb2ycbcr(t).numpy(), 0, 1) * 255).astype(np.uint8).tobytes())
        sh("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv444p", "-s", f"{w}x{h}",
           "-i", tmp_path / "in.yuv", "-frames:v", "1", "-c:v", "libx265", "-preset", "medium", "-tune", "ssim",
           "-x265-params", f"qp={qp}:keyint=1:pools=1:frame-threads=1:info=0:log-level=error", "-f", "hevc",
           tmp_path / "o.hevc")
        sh("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", tmp_path / "o.hevc", "-f", "rawvideo", "-pix_fmt",
           "yuv444p", tmp_path / "r.yuv")
        r = np.fromfile(tmp_path / "r.yuv", dtype=np.uint8).reshape(3, h, w).astype(np.float32) / 255
        theirs = (ycbcr2rgb(torch.from_numpy(r)).numpy().clip(0, 1).transpose(1, 2, 0) * 255).astype(np.uint8)
        assert abs(len(enc.data) / (tmp_path / "o.hevc").stat().st_size - 1) < 0.01  # same rate
        gains[qp] = ours - psnr(rgb, theirs)
    # measured on kodim20: +2.1 dB at QP 22, +0.65 dB at QP 32
    assert gains[22] > 1.5 and gains[32] > 0.4


def test_real_programs_in_folders_with_spaces(one_kodak, tmp_path, monkeypatch):
    from gcbench.execution.runner import RunConfig, run
    from gcbench.results.views import per_image

    bins = tmp_path / "my codec bins"
    bins.mkdir()
    for prog in ("cwebp", "dwebp"):
        (bins / prog).symlink_to(shutil.which(prog))
    root = tmp_path / "temp root with spaces"
    root.mkdir()
    monkeypatch.setenv("TMPDIR", str(root))
    monkeypatch.setattr(tempfile, "tempdir", None)
    run(RunConfig(codecs=["cwebp@50"], dataset=str(one_kodak), out=tmp_path / "out dir", metrics=["psnr"],
                  binaries={"cwebp": str(bins / "cwebp"), "dwebp": str(bins / "dwebp")}, progress=False,
                  write_outputs=False))
    row = per_image(tmp_path / "out dir").iloc[0]
    assert row.status == "ok" and row.psnr > 25
    assert list(root.iterdir()) == []


def test_a_real_program_failing_is_an_error_row_with_its_stderr(one_kodak, tmp_path):
    from gcbench.execution.runner import RunConfig, run
    from gcbench.results.views import per_image

    report = run(RunConfig(codecs=["cwebp@50", "opj@48"], dataset=str(one_kodak), out=tmp_path / "out",
                           metrics=["psnr"], codec_options={"cwebp": {"params": {"method": 99}}}, progress=False,
                           write_outputs=False))
    assert report.n_failed == 1 and report.n_ok == 1  # the other codec's task still ran
    df = per_image(tmp_path / "out").set_index("codec")
    err = df.loc["cwebp", "error"]
    assert err.startswith("cwebp (encode) exited with status") and "-m 99" in err
    assert "stderr (last lines):" in err or "stdout (last lines):" in err


# ---------------------------------------------------------------------------------------------
# Programs users build themselves: the rendered command lines
# ---------------------------------------------------------------------------------------------

def _lines(name: str, setting: int, h: int = 512, w: int = 768) -> dict[str, list[str]]:
    codec = build_codec(codecs.get(name))
    assert isinstance(codec, ExternalCodec)
    lines = codec.command_lines(setting, h, w)
    # where a build is installed its absolute path is used; compare program names
    for argv in lines.values():
        argv[0] = os.path.basename(argv[0])
    return lines


def test_bpg_is_compressais_command():
    assert codecs.get("bpg").settings == (47, 42, 37, 32, 27, 22, 17, 12)
    lines = _lines("bpg", 37)
    assert lines["encode"] == ["bpgenc", "-o", "$TMP/bitstream.bpg", "-q", "37", "-f", "444", "-e", "x265",
                               "-c", "ycbcr", "-b", "8", "$TMP/input.png"]
    assert lines["decode"] == ["bpgdec", "-o", "$TMP/decoded.png", "$TMP/bitstream.bpg"]
    lines420 = _lines("bpg420", 27)
    assert lines420["encode"] == ["bpgenc", "-o", "$TMP/bitstream.bpg", "-q", "27", "-f", "420", "-e", "x265",
                                  "-c", "ycbcr", "-b", "8", "$TMP/input.png"]
    assert lines420["decode"] == lines["decode"]


@pytest.mark.parametrize("name,enc,dec,cfg", [
    ("vtm", "EncoderAppStatic", "DecoderAppStatic", "encoder_intra_vtm.cfg"),
    ("hm", "TAppEncoderStatic", "TAppDecoderStatic", "encoder_intra_main_rext.cfg"),
])
def test_vtm_and_hm_are_compressais_commands(name, enc, dec, cfg):
    lines = _lines(name, 32, 512, 767)
    argv = lines["encode"]
    assert os.path.basename(argv[4]) == cfg
    argv[4] = cfg
    assert argv == [enc, "-i", "$TMP/input.yuv", "-c", cfg, "-q", "32", "-o", "/dev/null", "-b", "$TMP/bitstream.bin",
                    "-wdt", "767", "-hgt", "512", "-fr", "1", "-f", "1", "--InputChromaFormat=444",
                    "--InputBitDepth=8", "--ConformanceWindowMode=1"]
    assert lines["decode"] == [dec, "-b", "$TMP/bitstream.bin", "-o", "$TMP/decoded.yuv", "-d", "8"]
    codec = build_codec(codecs.get(name))
    assert codec.pad_to == 1  # the conformance window crops; the decoder writes the original size
    assert codec.encoder.yuv == colour.YuvFormat("444", 8, "bt709", "full") == codec.decoder.yuv
    # the .cfg path is an option
    other = build_codec(codecs.get(name).with_options(files={"config": "/opt/my.cfg"}))
    assert "/opt/my.cfg" in other.command_lines(32, 64, 64)["encode"]


def test_vvenc_pads_to_even_sizes_for_420():
    lines = _lines("vvenc", 32, 511, 767)
    assert lines["encode"] == ["vvencapp", "-i", "$TMP/input.yuv", "-s", "768x512", "-c", "yuv420", "-r", "1", "-f", "1",
                               "--preset", "medium", "-q", "32", "--qpa=0", "-t", "1", "-o", "$TMP/bitstream.266"]
    assert lines["decode"] == ["vvdecapp", "-b", "$TMP/bitstream.266", "-o", "$TMP/decoded.y4m", "-t", "1"]
    codec = build_codec(codecs.get("vvenc"))
    assert codec.coded_size(511, 767) == (512, 768) and codec.encoder.yuv.chroma == "420"


def test_aom_av1_has_compressais_flags():
    lines = _lines("aom-av1", 42, 512, 768)
    enc = lines["encode"]
    for flag in ("--end-usage=q", "--cq-level=42", "--tune=psnr", "--i444", "--input-bit-depth=8", "--limit=1",
                 "--cpu-used=4", "--threads=1"):
        assert flag in enc
    assert enc[enc.index("-w") + 1] == "768" and enc[enc.index("-h") + 1] == "512"
    assert codecs.get("aom-av1").settings == tuple(range(62, 6, -5))


def test_build_only_codecs_say_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    for name, program in (("bpg", "bpgenc"), ("vtm", "EncoderAppStatic"), ("hm", "TAppEncoderStatic"),
                          ("vvenc", "vvencapp")):
        monkeypatch.delenv(f"GCBENCH_BIN_{program.upper()}", raising=False)
        avail = build_codec(codecs.get(name)).available()
        assert not avail and program in avail.reason
        assert f"--binary {program}=PATH" in avail.hint and "build" in avail.hint
