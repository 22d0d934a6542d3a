"""Continuous rate axes (float settings, ranges), masks as codec input, compression ratios.

The float-axis codec is a user model given to gcbench as ``adapter = "test_variable_rate:GainCodec"``
in a spec file: a gain-controlled quantiser whose RoI (the side input) gets a step four times finer.
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gcbench.codecs.base import Codec
from gcbench.execution.runner import RunConfig, run
from gcbench.results.views import per_image, summary_table

NINE = ["1.0", "1.25", "1.5", "1.75", "2.0", "2.25", "2.5", "2.75", "3.0"]


class GainCodec(Codec):
    """Uniform quantiser with step 48 / gain; inside the RoI the step is 4× finer.

    The bitstream carries everything the decoder needs: size, gain, the RoI (bit-packed) and
    the zlib-compressed quantisation indices.
    """

    uses_side_input = True

    def encode(self, image: np.ndarray, setting, side: np.ndarray | None = None) -> bytes:
        h, w = image.shape[:2]
        roi = side >= 0.5 if side is not None else np.zeros((h, w), bool)
        step = self._steps(float(setting), roi)
        q = np.rint(image.astype(np.float64) / step[..., None]).astype(np.int16)
        header = struct.pack("<IId?", h, w, float(setting), side is not None)
        packed = np.packbits(roi).tobytes() if side is not None else b""
        return header + packed + zlib.compress(q.tobytes(), 6)

    def decode(self, data: bytes, size=None) -> np.ndarray:
        h, w, gain, has_roi = struct.unpack("<IId?", data[:17])
        offset = 17
        roi = np.zeros((h, w), bool)
        if has_roi:
            n = (h * w + 7) // 8
            roi = np.unpackbits(np.frombuffer(data[offset:offset + n], np.uint8))[: h * w].reshape(h, w).astype(bool)
            offset += n
        q = np.frombuffer(zlib.decompress(data[offset:]), np.int16).reshape(h, w, 3)
        return np.clip(np.rint(q * self._steps(gain, roi)[..., None]), 0, 255).astype(np.uint8)

    @staticmethod
    def _steps(gain: float, roi: np.ndarray) -> np.ndarray:
        return np.where(roi, 12.0 / gain, 48.0 / gain)


@pytest.fixture
def gain_spec(specs: Path) -> str:
    """Spec 'gain' (adapter test_variable_rate:GainCodec) on GCBENCH_CODEC_PATH, fresh codec registry."""
    (specs / "gain.toml").write_text(
        'adapter = "test_variable_rate:GainCodec"\nrate_param = "gain"\nsettings = [1.0, 2.0]\n'
        "rate_increases_with_setting = true\n")
    return "gain"


def test_float_range_sweep_holds_exactly_the_nine_settings(tmp_path: Path, image_folder, gain_spec: str) -> None:
    import sqlite3

    from gcbench.cli import main

    images = image_folder(2, (32, 48))
    out = tmp_path / "out"
    code = main(["run", "--codec", f"{gain_spec}@1.0:3.0:0.25", "--dataset", str(images), "--out", str(out),
                 "--metric", "psnr", "--no-progress"])
    assert code == 0
    table = summary_table(out)
    assert table["setting"].tolist() == NINE
    assert table["setting_value"].tolist() == [float(s) for s in NINE]
    assert (table["n_images"] == 2).all()
    assert table["bpp"].is_monotonic_increasing and table["psnr"].is_monotonic_increasing
    df = per_image(out)
    assert sorted(df["setting"].unique(), key=float) == NINE and len(df) == 18
    with sqlite3.connect(out / "gcbench.sqlite") as conn:
        stored = {r[0] for r in conn.execute("SELECT setting FROM tasks")}
    assert stored == set(NINE)  # the text as given, no 1.2500000001
    csv = pd.read_csv(out / "summary.csv", dtype={"setting": str})
    assert csv["setting"].tolist() == NINE


def test_settings_sort_numerically_in_tables_and_plots(tmp_path: Path, image_folder, gain_spec: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.pyplot as plt

    from gcbench.analysis.plots import plot_rd

    images = image_folder(1, (32, 48))
    out = tmp_path / "out"
    report = run(RunConfig(codecs=[f"{gain_spec}@10.0,2.5,0.1:0.3:0.1,9.75"], dataset=str(images), out=out,
                           metrics=["psnr"], progress=False, write_outputs=False))
    assert not report.failed
    expected = ["0.1", "0.2", "0.3", "2.5", "9.75", "10.0"]  # text order would put 10.0 before 2.5
    table = summary_table(out)
    assert table["setting"].tolist() == expected
    assert per_image(out)["setting"].tolist() == expected
    figures = []
    monkeypatch.setattr(plt, "close", lambda fig=None: figures.append(fig))
    plot_rd(out, tmp_path / "rd", columns=["psnr"], formats=("png",))
    line = figures[0].axes[0].lines[0]
    # the curve visits the points in setting order (the codec spends more bits at a higher gain)
    np.testing.assert_allclose(line.get_xdata(), table["bpp"].to_numpy())
    np.testing.assert_allclose(line.get_ydata(), table["psnr"].to_numpy())


def _masks(tmp_path: Path, n: int, size: tuple[int, int], rows: slice) -> Path:
    folder = tmp_path / "masks"
    folder.mkdir(exist_ok=True)
    roi = np.zeros(size, np.uint8)
    roi[rows] = 255
    for i in range(n):
        Image.fromarray(roi).save(folder / f"img{i:02d}.png")
    return folder


def test_mask_is_the_codecs_side_input(tmp_path: Path, image_folder, gain_spec: str) -> None:
    images = image_folder(2, (32, 48))
    masks = _masks(tmp_path, 2, (32, 48), slice(0, 16))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = run(RunConfig(codecs=[f"{gain_spec}@2.0", "jpeg@50"], dataset=str(images), out=tmp_path / "with",
                               metrics=["psnr", "roi-psnr"], masks=str(masks), progress=False, write_outputs=False))
    assert not report.failed
    messages = [str(w.message) for w in caught if "ignore side input" in str(w.message)]
    assert len(messages) == 1 and "codec(s) jpeg ignore" in messages[0]  # gain uses the masks: not named
    with_masks = per_image(tmp_path / "with").set_index(["codec", "image"])
    no_masks = run(RunConfig(codecs=[f"{gain_spec}@2.0"], dataset=str(images), out=tmp_path / "without",
                             metrics=["psnr"], progress=False, write_outputs=False))
    assert not no_masks.failed
    plain = per_image(tmp_path / "without").set_index("image")
    for image in ("img00.png", "img01.png"):
        row = with_masks.loc[(gain_spec, image)]
        # a 4× finer step in the RoI: about 20·log10(4) = 12 dB better there
        assert row["psnr_in"] - row["psnr_out"] > 9.0
        assert row["n_bytes"] > plain.loc[image, "n_bytes"]
        jpeg = with_masks.loc[("jpeg", image)]
        assert abs(jpeg["psnr_in"] - jpeg["psnr_out"]) < 3.0
    # other masks: the side-input codec encodes again, the codec that ignores them does not
    before = per_image(tmp_path / "with")
    _masks(tmp_path, 2, (32, 48), slice(16, 32))
    again = run(RunConfig(codecs=[f"{gain_spec}@2.0", "jpeg@50"], dataset=str(images), out=tmp_path / "with",
                          metrics=["psnr", "roi-psnr"], masks=str(masks), progress=False, write_outputs=False))
    after = per_image(tmp_path / "with")
    assert again.n_ok == 4
    keys = dict(zip(zip(before.codec, before.image), before.key, strict=True))
    for _, row in after.iterrows():
        same_key = keys[(row["codec"], row["image"])] == row["key"]
        assert same_key == (row["codec"] == "jpeg")
        if row["codec"] == gain_spec:  # encoded with the new RoI (bottom half), measured with it
            assert row["psnr_in"] - row["psnr_out"] > 9.0


def test_compression_ratio_columns(tmp_path: Path, image_folder) -> None:
    images = image_folder(3, (40, 56))
    out = tmp_path / "out"
    report = run(RunConfig(codecs=["jpeg@30,80"], dataset=str(images), out=out, metrics=["psnr"], progress=False,
                           write_outputs=False))
    assert not report.failed
    df = per_image(out)
    sizes = {name: os.path.getsize(images / name) for name in df["image"]}
    for _, row in df.iterrows():
        assert row["cr"] == pytest.approx(24.0 / (8.0 * row["n_bytes"] / (40 * 56)), rel=1e-12)
        assert row["file_bytes"] == sizes[row["image"]]
        assert row["cr_file"] == pytest.approx(sizes[row["image"]] / row["n_bytes"], rel=1e-12)
    table = summary_table(out)
    for _, row in table.iterrows():
        g = df[df.setting == row["setting"]]
        assert row["cr"] == pytest.approx(24.0 / g["bpp"].mean(), rel=1e-12)
        assert row["cr_file"] == pytest.approx(g["file_bytes"].sum() / g["n_bytes"].sum(), rel=1e-12)
    assert table["cr"].iloc[0] > table["cr"].iloc[1]  # quality 30 compresses more than 80
    # the original gone: its file ratio is unknown, not made up
    (images / "img01.png").unlink()
    df = per_image(out)
    assert df[df.image == "img01.png"]["cr_file"].isna().all() and df[df.image != "img01.png"]["cr_file"].notna().all()
    assert summary_table(out)["cr_file"].isna().all() and summary_table(out)["cr"].notna().all()
