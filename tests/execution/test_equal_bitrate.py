"""Equal-bitrate selection: bisection on integer, float and listed axes; on Kodak with JPEG and
WebP the chosen setting is within one step of the target for every image; the runner path."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gcbench.cli import main as cli
from gcbench.codecs.base import Codec
from gcbench.codecs.spec import spec_from_dict
from gcbench.core.errors import ConfigError
from gcbench.execution.equal_bitrate import RateAxis, rate_axis, search_setting

N_KODAK = 3


def _spec(settings: list, increasing: bool = True):
    return spec_from_dict({"adapter": "pillow", "rate_param": "q", "settings": settings,
                           "rate_increases_with_setting": increasing, "options": {"format": "JPEG"}},
                          default_name="t")


def test_axis_from_spec() -> None:
    assert rate_axis(_spec([1, 5, 95])) == RateAxis("int", True, (1, 5, 95), 1.0, 95.0)
    qp = rate_axis(_spec([22, 27, 32, 37], increasing=False))
    assert qp.kind == "int" and not qp.increasing
    ratio = rate_axis(_spec([10.0, 20.5, 80.0], increasing=False))
    assert ratio.kind == "float" and (ratio.lo, ratio.hi) == (10.0, 80.0)
    assert rate_axis(_spec(["low", "high"])).kind == "listed"
    assert rate_axis(_spec([1, 5, 95]), search="listed").kind == "listed"
    with pytest.raises(ConfigError):
        rate_axis(_spec([1, 5]), search="everywhere")


def _counting(f):
    calls = []

    def measure(s):
        calls.append(s)
        return f(s)

    return measure, calls


def test_integer_bisection_nearest_and_under() -> None:
    bpp = lambda q: 0.02 * q ** 1.3  # increasing in q
    axis = rate_axis(_spec([1, 100]))
    for target in (0.3, 1.0, 3.7):
        measure, calls = _counting(bpp)
        s, got, status, _ = search_setting(measure, axis, target, "nearest")
        best = min(range(1, 101), key=lambda q: (abs(bpp(q) - target), q))
        assert s == best and got == bpp(best) and status == "ok"
        assert len(set(calls)) <= math.ceil(math.log2(100)) + 2  # bisection, not a scan
        s, got, status, _ = search_setting(bpp, axis, target, "under")
        assert got <= target < bpp(s + 1)


def test_decreasing_axis() -> None:
    bpp = lambda qp: 8.0 * 2 ** (-(qp - 10) / 6)  # QP: more bits at lower QP
    axis = rate_axis(_spec([10, 51], increasing=False))
    s, got, status, _ = search_setting(bpp, axis, 0.5, "under")
    assert got <= 0.5 < bpp(s - 1) and status == "ok"
    s, got, _, _ = search_setting(bpp, axis, 0.5, "nearest")
    assert s == min(range(10, 52), key=lambda q: abs(bpp(q) - 0.5))


def test_float_axis_and_range_ends() -> None:
    bpp = lambda r: 24.0 / r  # a compression ratio: more bits at a lower ratio
    axis = rate_axis(_spec([4.0, 400.0], increasing=False))
    s, got, status, probes = search_setting(bpp, axis, 0.3, "nearest")
    assert status == "ok" and abs(got - 0.3) <= 1e-3 * 0.3 and 4.0 <= s <= 400.0
    assert len(probes) < 40
    s, got, status, _ = search_setting(bpp, axis, 0.01, "nearest")
    assert (s, status) == (400.0, "above-target")  # even the highest ratio spends more
    s, got, status, _ = search_setting(bpp, axis, 50.0, "nearest")
    assert (s, status) == (4.0, "below-target")  # the codec cannot spend that much
    with pytest.raises(ConfigError):
        search_setting(bpp, axis, -1.0)
    with pytest.raises(ConfigError):
        search_setting(bpp, axis, 0.3, mode="closest")


def test_named_settings_are_all_tried() -> None:
    table = {"tiny": 0.1, "small": 0.25, "large": 0.9}
    axis = rate_axis(_spec(list(table)))
    s, got, status, probes = search_setting(table.__getitem__, axis, 0.3, "nearest")
    # the nearest setting is 16.7 % below the target: outside the default 5 % tolerance, not "ok"
    assert (s, got, status, len(probes)) == ("small", 0.25, "off-target", 3)
    s, got, status, probes = search_setting(table.__getitem__, axis, 0.3, "nearest", tolerance=0.2)
    assert (s, got, status, len(probes)) == ("small", 0.25, "ok", 3)


# -- Kodak with JPEG and WebP --------------------------------------------------------------------

def _kodak_images(kodak_dir: Path) -> list:
    from gcbench.data.images import load_image
    from gcbench.execution.plan import ImageItem

    out = []
    for path in sorted(kodak_dir.glob("kodim*.png"))[:N_KODAK]:
        img = load_image(path)
        out.append((ImageItem(path.name, str(path), img.sha256, img.height, img.width), img.array))
    return out


@pytest.mark.parametrize("codec_name", ["jpeg", "webp"])
def test_kodak_selection_within_one_step(kodak_dir: Path, tmp_path: Path, codec_name: str) -> None:
    from gcbench.codecs.spec import build_codec
    from gcbench.execution.plan import CodecPlan
    from gcbench.codecs.registry import codecs
    from gcbench.execution.equal_bitrate import select_settings

    spec = codecs.get(codec_name)
    codec = build_codec(spec)
    plan = CodecPlan(spec, spec.settings, codec.versions())
    items = _kodak_images(kodak_dir)
    targets = [0.3, 0.75]
    selections = select_settings([plan], [i for i, _ in items], targets, "kodak", folder=tmp_path)
    assert len(selections) == len(items) * len(targets)
    lo, hi = min(spec.settings), max(spec.settings)
    arrays = {i.name: a for i, a in items}
    for sel in selections:
        image = arrays[sel.image]

        def bpp(q: int, image: np.ndarray = image) -> float:
            return 8.0 * len(codec.encode(image, q)) / (image.shape[0] * image.shape[1])

        s, t = sel.setting, sel.target_bpp
        assert sel.status == "ok", sel
        assert bpp(s) == pytest.approx(sel.bpp)
        # one step down spends less, one step up more: the target lies within one step of s
        below = bpp(s - 1) if s > lo else -math.inf
        above = bpp(s + 1) if s < hi else math.inf
        assert below <= t <= above
        # and s is the nearer of the two settings around the target
        neighbour = s + 1 if sel.bpp <= t else s - 1
        if lo <= neighbour <= hi:
            assert abs(sel.bpp - t) <= abs(bpp(neighbour) - t)
        assert sel.n_probes <= math.ceil(math.log2(hi - lo + 1)) + 2
    # exhaustive check on the first image: no setting of the whole axis is nearer the target
    name, image = items[0][0].name, items[0][1]
    every = {q: 8.0 * len(codec.encode(image, q)) / (image.shape[0] * image.shape[1]) for q in range(lo, hi + 1)}
    for t in targets:
        sel = next(s for s in selections if s.image == name and s.target_bpp == t)
        assert abs(sel.bpp - t) == pytest.approx(min(abs(b - t) for b in every.values()))
    # the selections are kept: a second search reuses them without encoding
    again = select_settings([plan], [i for i, _ in items], targets, "kodak", folder=tmp_path)
    assert [(s.image, s.setting) for s in again] == [(s.image, s.setting) for s in selections]


def test_run_with_target_bpp(kodak_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gcbench.results.curves import load_results
    from gcbench.execution.equal_bitrate import equal_bitrate_table, load_selections

    out = tmp_path / "run"
    argv = ["run", "--codec", "jpeg@10,50", "--codec", "webp@10,50", "--dataset", str(kodak_dir),
            "--max-images", "2", "--metric", "psnr", "--out", str(out), "--no-progress",
            "--target-bpp", "0.3", "--target-bpp", "0.6"]
    assert cli(argv) == 0
    sel = load_selections(out)
    assert len(sel) == 2 * 2 * 2
    table = pd.read_csv(out / "equal_bitrate.csv")
    assert len(table) == 8 and (table["task_status"] == "ok").all()
    # the stored task is the selected setting: same bpp, and metrics computed on it
    assert np.allclose(table["bpp"], table["search_bpp"]) and table["psnr"].notna().all()
    assert (out / "equal_bitrate_summary.csv").is_file()
    assert equal_bitrate_table(out)["target_bpp"].tolist() == sorted(table["target_bpp"].tolist())
    # RD curves keep the sweep only (targeted one-image settings would distort the means)
    curves = load_results(out).curves
    assert set(curves["setting"]) == {"10", "50"}
    # a second run finds everything done
    capsys.readouterr()
    assert cli(argv) == 0
    assert "0 done" in capsys.readouterr().out


def test_no_sweep_needs_a_target(tmp_path: Path, kodak_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--codec", "jpeg", "--dataset", str(kodak_dir), "--out", str(tmp_path / "x"), "--no-sweep"]
    assert cli(argv) == 2
    assert "--target-bpp" in capsys.readouterr().err
    assert cli(argv[:-1] + ["--target-bpp", "-0.2", "--max-images", "1", "--no-progress"]) == 2


# -- non-monotone rate axes: the nearest setting, its distance, the tolerance --------------------

class TableCodec(Codec):
    """A codec whose bitstream of a 32×32 image is 128 × BPP[setting] bytes: bpp is not monotonic
    in the setting (setting 4 spends more than 5). It decodes to mid-grey."""

    BPP = {1: 1.0, 2: 2.0, 3: 3.0, 4: 5.0, 5: 4.2, 6: 6.0, 7: 7.0, 8: 8.0, 9: 9.0, 10: 10.0}

    def encode(self, image, setting, side=None):
        n = int(round(self.BPP[int(setting)] * image.shape[0] * image.shape[1] / 8))
        return bytes([int(setting)]) + b"\0" * (n - 1)

    def decode(self, data, size=None):
        return np.full((*size, 3), 128, np.uint8)


def test_short_non_monotone_axis_is_probed_everywhere() -> None:
    bpp = TableCodec.BPP
    axis = rate_axis(_spec([1, 10]))
    # bisection would stop at the bracket (5, 6) and take 5 (4.2, −12.5 %); setting 4 is nearer (+4.2 %)
    s, got, status, probes = search_setting(bpp.__getitem__, axis, 4.8, "nearest")
    assert (s, got, status, len(probes)) == (4, 5.0, "ok", 10)
    s, got, status, _ = search_setting(bpp.__getitem__, axis, 4.8, "under")
    assert (s, got, status) == (5, 4.2, "off-target")  # the highest bpp under the target, 12.5 % off
    s, got, status, _ = search_setting(bpp.__getitem__, axis, 4.8, "nearest", tolerance=0.02)
    assert (s, status) == (4, "off-target")


def test_long_non_monotone_axis_takes_the_bracket_s_neighbours() -> None:
    table = {q: 0.02 * q + 0.003 for q in range(1, 101)}
    target = 1.31
    table[67] = target * 0.997  # a dip: setting 67 spends less than 66
    measure, calls = _counting(table.__getitem__)
    s, got, status, _ = search_setting(measure, rate_axis(_spec([1, 100])), target, "nearest")
    nearest = min(table, key=lambda q: abs(table[q] - target))
    # the bracketing pair is (65, 66); its neighbour 67 is the nearest of all 100 settings
    assert nearest == 67 and s == 67 and status == "ok" and got == table[67]
    assert 65 in calls and 66 in calls and len(set(calls)) <= math.ceil(math.log2(101)) + 2


def test_selections_carry_their_distance_and_the_tolerance_decides(tmp_path: Path, specs: Path, image_folder,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (specs / "table.toml").write_text('adapter = "test_equal_bitrate:TableCodec"\nrate_param = "q"\n'
                                      "settings = [1, 10]\nrate_increases_with_setting = true\n")
    data = image_folder(1, (32, 32))
    argv = ["run", "--codec", "table", "--dataset", str(data), "--metric", "psnr", "--no-progress", "--no-sweep",
            "--target-bpp", "4.8", "--target-bpp", "2.1"]
    assert cli(argv + ["--out", str(tmp_path / "a")]) == 0
    table = pd.read_csv(tmp_path / "a" / "equal_bitrate.csv").set_index("target_bpp")
    assert table.loc[4.8, "setting"] == 4 and table.loc[4.8, "bpp"] == 5.0  # the nearest, found and run
    assert table.loc[4.8, "rel_distance"] == pytest.approx(0.2 / 4.8) and table.loc[4.8, "status"] == "ok"
    assert table.loc[2.1, "setting"] == 2 and table.loc[2.1, "rel_distance"] == pytest.approx(-0.1 / 2.1)
    assert table.loc[2.1, "status"] == "ok" and bool(table.loc[2.1, "on_target"])
    assert cli(argv + ["--out", str(tmp_path / "b"), "--bpp-tolerance", "0.045"]) == 0
    table = pd.read_csv(tmp_path / "b" / "equal_bitrate.csv").set_index("target_bpp")
    assert table.loc[4.8, "status"] == "ok" and table.loc[2.1, "status"] == "off-target"  # −4.8 % > 4.5 %
    assert not bool(table.loc[2.1, "on_target"])
    summary = pd.read_csv(tmp_path / "b" / "equal_bitrate_summary.csv").set_index("target_bpp")
    assert summary.loc[2.1, "n_off_target"] == 1 and summary.loc[4.8, "n_off_target"] == 0
