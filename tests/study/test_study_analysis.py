"""Answers validation and analysis on answers signed as the form signs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from study.study_helpers import answers_doc, scripted_choices, write_json

from gcbench.cli import main
from gcbench.study import stats
from gcbench.study.analyze import AnalysisConfig, analyze_study
from gcbench.study.export import ExportConfig, export_study


@pytest.fixture(scope="module")
def study(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("analysis") / "study"
    export_study(ExportConfig(results=results_dir, codecs=["jpeg", "webp"], out=out, settings={"jpeg": "30", "webp": "10"},
                              crops=2, crop_size=64, participants=5, catch_rate=0.25, seed=3, min_view_s=0.5))
    return out, json.loads((out / "study-key.json").read_text())


def always(codec: str):
    return lambda left, right, image: "left" if left == codec else "right"


def webp_on_img00(left: str, right: str, image: str) -> str:
    return always("webp" if image == "img00.png" else "jpeg")(left, right, image)


def _files(tmp_path: Path, key: dict, prefs: list) -> list[Path]:
    out = []
    for part, prefer in zip(key["participants"], prefs):
        out.append(write_json(tmp_path / f"{part['id']}.json", answers_doc(key, part, scripted_choices(key, part, prefer))))
    return out


def test_scripted_preferences_come_back(study, tmp_path: Path) -> None:
    out, key = study
    prefs = [always("jpeg"), always("jpeg"), webp_on_img00, always("webp")]
    files = _files(tmp_path, key, prefs)
    report = analyze_study(AnalysisConfig(key=out / "study-key.json", answers=files, out=tmp_path / "a", bootstrap=200,
                                          elo_orders=200))
    assert report.rejected == []
    # 3 images × 2 crops = 6 comparisons each; P3 prefers webp on the 2 crops of img00.
    jpeg_wins = 6 + 6 + 4 + 0
    row = report.pairs.iloc[0]
    assert (row.codec_a, row.codec_b, row.n, row.wins_a, row.wins_b) == ("jpeg", "webp", 24, jpeg_wins, 24 - jpeg_wins)
    assert row.preference_a == pytest.approx(jpeg_wins / 24)
    assert (row.wilson_low, row.wilson_high) == pytest.approx(stats.wilson_interval(jpeg_wins, 24))
    assert row.ci_low < row.preference_a < row.ci_high and (row.participants, row.images) == (4, 3)
    assert row.p_value == pytest.approx(binomtest(jpeg_wins, 24).pvalue) and row.p_holm == row.p_value  # one pair
    scores = report.scores.set_index("codec")
    for col in ("elo_ml", "elo_sequential"):
        assert scores.loc["jpeg", col] > 2000 > scores.loc["webp", col]
    assert scores.elo_ml.mean() == pytest.approx(2000, abs=1e-6)  # anchored at a mean of 2000
    assert scores.loc["jpeg", "bt_score"] - scores.loc["webp", "bt_score"] == pytest.approx(np.log(16 / 8), abs=1e-6)
    for col, point in (("bt", "bt_score"), ("elo_ml", "elo_ml"), ("elo_sequential", "elo_sequential")):
        assert (scores[f"{col}_ci_low"] <= scores[point] + 1e-9).all()
        assert (scores[f"{col}_ci_high"] >= scores[point] - 1e-9).all()
    assert any("each pair pools all its kept trials" in n and "4 participants and 3 images" in n for n in report.notes)
    assert scores.loc["jpeg", "mean_bpp"] == pytest.approx(np.mean([
        f["bpp"] for f in key["files"].values() if f.get("codec") == "jpeg" and f["crop"] == 0]))
    for name in ("pairs.csv", "scores.csv", "participants.csv", "rejected.csv", "summary.md", "preferences.png"):
        assert (tmp_path / "a" / name).is_file()
    assert pd.read_csv(tmp_path / "a" / "pairs.csv").wins_a.tolist() == [jpeg_wins]


def test_failing_catch_participant_and_fast_trials_are_dropped_and_reported(study, tmp_path: Path) -> None:
    out, key = study
    p1, p2, p3 = key["participants"][:3]
    good = scripted_choices(key, p1, always("jpeg"))
    # p2 answers every catch trial wrongly: dropped whole.
    bad_catch = [(t, ("right" if c == "left" else "left") if tr["kind"] == "catch" else c, rt, f)
                 for (t, c, rt, f), tr in zip(scripted_choices(key, p2, always("webp")), p2["trials"])]
    # p3 answers its first three comparisons in 120 ms (under the 0.5 s minimum viewing time).
    fast, n_fast = [], 0
    for (t, c, rt, f), tr in zip(scripted_choices(key, p3, always("webp")), p3["trials"]):
        if tr["kind"] == "pair" and n_fast < 3:
            rt, n_fast = 120, n_fast + 1
        fast.append((t, c, rt, f))
    files = [write_json(tmp_path / f"{p['id']}.json", answers_doc(key, p, ch))
             for p, ch in ((p1, good), (p2, bad_catch), (p3, fast))]
    report = analyze_study(AnalysisConfig(key=out, answers=files, out=tmp_path / "a", bootstrap=50, elo_orders=50))
    parts = report.participants.set_index("participant")
    assert parts.loc[p1["id"], "status"] == "kept" and parts.loc[p1["id"], "catch_correct"] == 2
    assert parts.loc[p2["id"], "status"].startswith("failed catch trials (0 of 2 correct")
    assert parts.loc[p3["id"], "too_fast"] == 3 and parts.loc[p3["id"], "comparisons_used"] == 3
    row = report.pairs.iloc[0]
    assert (row.n, row.wins_a) == (6 + 3, 6)
    text = report.text()
    assert f"dropped {p2['id']}" in text and "3 trials too fast" in text
    # Stricter and looser rules as options.
    loose = analyze_study(AnalysisConfig(key=out, answers=files, out=tmp_path / "b", catch_pass=0.0, min_rt_s=0.0,
                                         bootstrap=0, plot=False))
    assert loose.pairs.iloc[0].n == 18
    slow = analyze_study(AnalysisConfig(key=out, answers=files[:1], out=tmp_path / "c", max_rt_s=1.0, bootstrap=0))
    assert slow.participants.too_slow.tolist() == [6] and slow.n_comparisons == 0


def test_bad_files_are_rejected_with_clear_messages_and_the_rest_analysed(study, tmp_path: Path) -> None:
    out, key = study
    p1, p2, p3 = key["participants"][:3]
    c1 = scripted_choices(key, p1, always("jpeg"))
    good1 = write_json(tmp_path / "good1.json", answers_doc(key, p1, c1))
    good2 = write_json(tmp_path / "good2.json", answers_doc(key, p2, scripted_choices(key, p2, always("jpeg"))))

    edited = answers_doc(key, p3, scripted_choices(key, p3, always("jpeg")))
    first_pair = next(i for i, t in enumerate(p3["trials"]) if t["kind"] == "pair")
    edited["trials"][first_pair]["choice"] = "left" if edited["trials"][first_pair]["choice"] == "right" else "right"
    slower = answers_doc(key, p3, scripted_choices(key, p3, always("jpeg")))
    slower["trials"][0]["rt_ms"] += 1
    foreign = answers_doc(key, p1, c1, token="0" * 32)
    moved = answers_doc(key, p1, c1, code=p2["code"])  # p1's answers presented as p2's
    resigned = answers_doc(key, p1, c1, hmac_key=p2["hmac_key"])  # signed with another participant's key
    other_study = answers_doc(key, p1, c1, study="feedfacefeedface")
    not_given = answers_doc(key, p1, [(p2["trials"][0]["trial"], "left", 900, 0)])
    twice = answers_doc(key, p1, [c1[0], c1[0]])
    no_sig = answers_doc(key, p1, c1)
    del no_sig["signature"]
    bad_choice = answers_doc(key, p1, [(c1[0][0], "up", 900, 0)])
    broken = tmp_path / "broken.json"
    broken.write_text(good1.read_text()[:-40])
    cases = {
        "edited.json": (edited, "checksum mismatch"), "slower.json": (slower, "checksum mismatch"),
        "foreign.json": (foreign, "token was not issued by this study"),
        "moved.json": (moved, f"claims participant code '{p2['code']}' but carries the token of another participant"),
        "resigned.json": (resigned, "checksum mismatch"), "other_study.json": (other_study, "belongs to another study"),
        "not_given.json": (not_given, "was not given to participant"), "twice.json": (twice, "answered twice"),
        "no_sig.json": (no_sig, "missing field 'signature'"), "bad_choice.json": (bad_choice, "choice must be 'left' or 'right'"),
        "list.json": ([1, 2], "top level must be a JSON object"),
        "other_format.json": ({"format": "something"}, "not a gcbench answers file"),
    }
    paths = [good1]
    for name, (doc, _) in cases.items():
        paths.append(write_json(tmp_path / name, doc))
    paths += [broken, tmp_path / "missing.json", good1, good2]
    report = analyze_study(AnalysisConfig(key=out, answers=paths, out=tmp_path / "a", bootstrap=20, elo_orders=20))
    reasons = {Path(r.file).name: r.reason for r in report.rejected}
    for name, (_, message) in cases.items():
        assert message in reasons[name], (name, reasons[name])
    assert reasons["broken.json"].startswith("not valid JSON (line")
    assert reasons["missing.json"] == "no such file"
    assert sum(1 for r in report.rejected if "duplicate: answers of participant" in r.reason) == 1
    assert len(report.rejected) == len(cases) + 3
    # The two good files are analysed: 2 × 6 comparisons, all for jpeg.
    assert report.participants.participant.tolist() == [p1["id"], p2["id"]]
    assert (report.pairs.iloc[0].n, report.pairs.iloc[0].wins_a) == (12, 12)
    assert "some codec never won" in " ".join(report.notes)


def test_identical_participants_give_a_degenerate_participant_interval(study, tmp_path: Path) -> None:
    out, key = study
    prefer = webp_on_img00  # 4 of 6 for jpeg: both codecs win, so the ML estimate exists
    files = _files(tmp_path, key, [prefer] * 4)
    report = analyze_study(AnalysisConfig(key=out, answers=files, out=tmp_path / "a", bootstrap=100, elo_orders=100,
                                          plot=False, clusters="participants"))
    s = report.scores.set_index("codec")
    for col, point in (("bt", "bt_score"), ("elo_ml", "elo_ml")):
        np.testing.assert_allclose(s[f"{col}_ci_low"], s[point], atol=1e-9)  # every replicate is the same data
        np.testing.assert_allclose(s[f"{col}_ci_high"], s[point], atol=1e-9)
    assert s.loc["jpeg", "bt_score"] * 2 == pytest.approx(np.log(16 / 8), abs=1e-6)
    # resampling the images too: img00 (all webp) against the others (all jpeg) spreads the interval
    both = analyze_study(AnalysisConfig(key=out, answers=files, out=tmp_path / "b", bootstrap=100, elo_orders=100,
                                        plot=False))
    row = both.pairs.iloc[0]
    assert row.ci_high - row.ci_low > 0.2


def _choices_by_crop(key: dict, participant: dict, prefer) -> list[tuple[str, str, int, int]]:
    """A participant who picks the original in catch trials and prefer(image, crop) (a codec) otherwise."""
    items = {it["item"]: it for it in key["items"]}
    out = []
    for t in participant["trials"]:
        if t["kind"] == "catch":
            out.append((t["trial"], t["original_side"], 1500, 0))
            continue
        item = items[t["item"]]
        out.append((t["trial"], "left" if t["left_codec"] == prefer(item["image"], item["crop"]) else "right", 1500, 0))
    return out


def test_cluster_interval_widens_when_one_participant_answers_all_alike(study, tmp_path: Path) -> None:
    """Same counts, same Wilson interval; the cluster interval sees that the answers cluster by participant."""
    out, key = study
    half = lambda image, crop: "jpeg" if crop == 0 else "webp"  # noqa: E731 - 3 of 6 for jpeg, every image split
    alike = {"jpeg": lambda image, crop: "jpeg", "webp": lambda image, crop: "webp"}

    def analysed(prefs: list, name: str):
        files = [write_json(tmp_path / f"{name}-{part['id']}.json", answers_doc(key, part, _choices_by_crop(key, part, f)))
                 for part, f in zip(key["participants"], prefs)]
        return analyze_study(AnalysisConfig(key=out, answers=files, out=tmp_path / name, bootstrap=400,
                                            elo_orders=20, plot=False)).pairs.iloc[0]

    mixed = analysed([half] * 4, "mixed")
    clustered = analysed([alike["jpeg"], alike["webp"], half, half], "clustered")  # P1 all jpeg, P2 all webp
    assert (mixed.n, mixed.wins_a) == (clustered.n, clustered.wins_a) == (24, 12)
    assert (mixed.wilson_low, mixed.wilson_high) == (clustered.wilson_low, clustered.wilson_high)
    assert mixed.ci_high - mixed.ci_low == pytest.approx(0.0, abs=1e-12)  # every (participant, image) cell is 50 %
    assert clustered.ci_high - clustered.ci_low > 0.3
    assert clustered.ci_high - clustered.ci_low > clustered.wilson_high - clustered.wilson_low


def test_three_codecs(results_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    export_study(ExportConfig(results=results_dir, codecs=["jpeg444", "jpeg", "webp"], out=out, target_bpp=0.8,
                              crops=1, crop_size=64, participants=3, catch_rate=0.0, seed=5, min_view_s=0.0))
    key = json.loads((out / "study-key.json").read_text())
    rank = {"jpeg444": 0, "jpeg": 1, "webp": 2}

    def ranked(left: str, right: str, image: str) -> str:
        return "left" if rank[left] < rank[right] else "right"

    report = analyze_study(AnalysisConfig(key=out, answers=_files(tmp_path, key, [ranked] * 3), out=tmp_path / "a",
                                          bootstrap=30, elo_orders=100))
    pairs = report.pairs
    assert [(r.codec_a, r.codec_b, r.n, r.wins_a) for r in pairs.itertuples()] == [
        ("jpeg444", "jpeg", 9, 9), ("jpeg444", "webp", 9, 9), ("jpeg", "webp", 9, 9)]
    assert report.scores.codec.tolist() == ["jpeg444", "jpeg", "webp"]  # sorted by maximum-likelihood Elo
    assert report.scores.bt_score.is_monotonic_decreasing and report.scores.elo_sequential.is_monotonic_decreasing
    assert np.isfinite(report.scores.elo_ml).all()  # the ridge keeps it finite where the ML does not exist
    p = report.pairs.p_value.to_numpy()
    np.testing.assert_allclose(report.pairs.p_holm, np.minimum(1, 3 * p))  # three equal p-values
    assert any("regularised" in n for n in report.notes)  # jpeg444 never lost: no ML estimate


def test_cli_export_and_analyze(results_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s"
    assert main(["study", "export", str(results_dir), "--codec", "jpeg@30", "--codec", "webp", "--setting", "webp=10",
                 "--crops", "1", "--crop-size", "64", "--participants", "2", "--seed", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 participant forms" in printed and "key (keep it; do not hand it out)" in printed
    key = json.loads((out / "study-key.json").read_text())
    assert key["selection"]["settings"] == {"jpeg": "30", "webp": "10"} and key["seed"] == 4
    files = _files(tmp_path, key, [always("webp"), always("webp")])
    assert main(["study", "analyze", str(out / "study-key.json"), *map(str, files), "--bootstrap", "20"]) == 0
    printed = capsys.readouterr().out
    assert "| jpeg | webp |" in printed and (out / "analysis" / "scores.csv").is_file()
    (tmp_path / "junk.json").write_text("{")
    assert main(["study", "analyze", str(out), *map(str, files), str(tmp_path / "junk.json"), "--no-plot"]) == 1
    captured = capsys.readouterr()
    assert "rejected" in captured.out and "junk.json: not valid JSON" in captured.out
    assert main(["study", "export", str(results_dir), "--codec", "jpeg", "--codec", "webp", "--out", str(tmp_path / "n")]) == 2
    assert "give either a setting" in capsys.readouterr().err
