"""Tasks in batches (the CUDA path, forced here on the CPU): torch pair metrics computed once over
several tasks give the values each task gets alone, and one bad pair fails only its own task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import smooth_image
from metrics.standin_weights import torchvision_standin
from PIL import Image

from gcbench import RunConfig, run
from gcbench.core.errors import ConfigError
from gcbench.execution.executors import chunks, make_executor
from gcbench.metrics.registry import get_metric
from gcbench.results.views import per_image


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    import io

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def _pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """Two sizes, interleaved, so a batch call has to group them."""
    out = []
    for i, size in enumerate([(176, 200), (192, 168), (176, 200), (192, 168), (176, 200)]):
        image = smooth_image(*size, seed=i)
        out.append((image, _jpeg(image, 20 + 15 * i)))
    return out


@pytest.mark.parametrize("name", ["ms-ssim", "ssim", "lpips", "dists"])
def test_compute_many_equals_compute_on_each(name: str, tmp_path: Path) -> None:
    options = {}
    if name in ("lpips", "dists"):
        arch = "alexnet" if name == "lpips" else "vgg16"
        options["trunk_weights"] = str(torchvision_standin(arch, tmp_path / f"{arch}.pth", seed=3))
    metric = get_metric(name, **options)
    pairs = _pairs()
    many = metric.compute_many(pairs)
    alone = [metric.compute(a, b) for a, b in pairs]
    assert [sorted(v) for v in many] == [sorted(v) for v in alone]
    for got, expected in zip(many, alone, strict=True):
        for column, value in expected.items():
            assert got[column] == pytest.approx(value, rel=1e-6, abs=1e-9), column
    assert len({v[metric.columns[0].name] for v in many}) == len(pairs)  # every pair its own value


def test_chunks_keep_order_and_every_task() -> None:
    assert list(chunks(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunks([], 4)) == []
    with pytest.raises(ConfigError, match="--batch"):
        make_executor("local", 1, batch=0)
    with pytest.raises(ConfigError, match="--batch"):
        RunConfig(codecs=["jpeg"], dataset="sample", out="o", batch=0).check()


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_batched_run_stores_what_a_plain_run_stores(jobs: int, image_folder, tmp_path: Path) -> None:
    images = image_folder(3, (176, 200))
    metrics = ["psnr", "ms-ssim", "ssim"]

    def values(batch: int) -> dict[tuple[str, str], tuple[float, ...]]:
        out = tmp_path / f"b{batch}"
        report = run(RunConfig(codecs=["jpeg@20,50,80"], dataset=str(images), out=out, metrics=metrics, jobs=jobs,
                               batch=batch, progress=False, write_outputs=False))
        assert report.n_ok == 9 and not report.failed
        df = per_image(out)
        return {(r.image, r.setting): (r.psnr, r.ms_ssim, r.ssim) for r in df.itertuples()}

    plain, batched = values(1), values(4)
    assert plain.keys() == batched.keys() and len(plain) == 9
    for key, expected in plain.items():
        np.testing.assert_allclose(batched[key], expected, rtol=1e-12, err_msg=str(key))


def test_one_bad_pair_fails_only_its_task(image_folder, tmp_path: Path) -> None:
    images = image_folder(2, (176, 200))
    Image.fromarray(smooth_image(120, 150, seed=9)).save(images / "small.png")  # too small for MS-SSIM
    out = tmp_path / "out"
    report = run(RunConfig(codecs=["jpeg@30,60"], dataset=str(images), out=out, metrics=["psnr", "ms-ssim"], batch=6,
                           progress=False, write_outputs=False))
    assert report.n_ok == 6 and report.n_metric_failures == 2
    df = per_image(out)
    is_small = df["image"].str.startswith("small")
    small, others = df[is_small], df[~is_small]
    assert len(small) == 2 and small["ms_ssim"].isna().all() and small["psnr"].notna().all()
    assert others["ms_ssim"].notna().all() and len(others) == 4
