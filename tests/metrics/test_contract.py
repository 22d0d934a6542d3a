"""Contract over the metric registry: every registered metric, run through a real ``gcbench run``,
stores exactly the columns it declares — no more, no fewer.

Metrics whose published weights cannot be had offline run with the explicit stand-ins the other
metric tests use (flagged as such in their identity); a metric added to the registry without a
place here makes the test fail, so no metric escapes the contract.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gcbench.metrics.registry import metrics
from metrics.standin_weights import inception_standin, torchvision_standin

# Metrics that need something a plain sweep does not have: each gets its own run below.
NEEDS_LIKELIHOODS = {"roi-bits"}
NEEDS_CITYSCAPES = {"miou"}


def _declared(name: str) -> set[str]:
    return {column.name for column in metrics.get(name).columns}


def _stored(out: Path) -> dict[str, set[str]]:
    """Metric name → the union of the value keys stored for it (per task and per set)."""
    keys: dict[str, set[str]] = {}
    with sqlite3.connect(out / "gcbench.sqlite") as conn:
        for table in ("metric_results", "set_metrics"):
            for metric, values in conn.execute(f'SELECT metric, "values" FROM {table} WHERE status = \'ok\''):
                keys.setdefault(metric, set()).update(json.loads(values or "{}"))
    return keys


def _standin_options(folder: Path) -> dict[str, dict[str, object]]:
    alexnet = torchvision_standin("alexnet", folder / "alexnet.pth", seed=1)
    vgg = torchvision_standin("vgg16", folder / "vgg16.pth", seed=2)
    inception = inception_standin(folder / "inception.pth", seed=3)
    return {
        "lpips": {"trunk_weights": str(alexnet)},
        "roi-lpips": {"trunk_weights": str(alexnet)},
        "dists": {"trunk_weights": str(vgg)},
        "fid": {"inception_weights": str(inception)},
        "kid": {"inception_weights": str(inception)},
        "miou": {"random_init": True, "test_scale": [64, 32]},
        "miou-pseudo": {"random_init": True, "test_scale": [256, 256]},
    }


@pytest.fixture(scope="module")
def stored_columns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    from conftest import smooth_image
    from gcbench.execution.runner import RunConfig, run
    from test_cityscapes import make_cityscapes

    root = tmp_path_factory.mktemp("contract")
    options = _standin_options(root)
    images, masks = root / "images", root / "masks"
    images.mkdir()
    masks.mkdir()
    for i in range(2):
        Image.fromarray(smooth_image(256, 256, seed=i)).save(images / f"img{i}.png")
        roi = np.zeros((256, 256), np.uint8)
        roi[:96, :128] = 255
        Image.fromarray(roi).save(masks / f"img{i}.png")
    plain = [n for n in metrics.names() if n not in NEEDS_LIKELIHOODS | NEEDS_CITYSCAPES]
    run(RunConfig(codecs=["jpeg@50"], dataset=str(images), masks=str(masks), metrics=plain,
                  metric_options={k: v for k, v in options.items() if k in plain},
                  out=root / "plain", progress=False, write_outputs=False))
    stored = _stored(root / "plain")

    city = root / "cityscapes"
    make_cityscapes(city, cities={"aachen": 2}, size=(32, 64))
    run(RunConfig(codecs=["jpeg@50"], dataset="cityscapes", data_root=str(city), metrics=["miou"],
                  metric_options={"miou": options["miou"]}, out=root / "city", progress=False, write_outputs=False))
    stored.update(_stored(root / "city"))
    return stored


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(metrics.names()) - NEEDS_LIKELIHOODS))
def test_metric_stores_exactly_its_declared_columns(name: str, stored_columns: dict[str, set[str]]) -> None:
    assert name in stored_columns, f"{name} stored no value in the contract runs"
    assert stored_columns[name] == _declared(name)


@pytest.mark.slow
def test_roi_bits_stores_exactly_its_declared_columns(tmp_path: Path, specs: Path, monkeypatch) -> None:
    """roi-bits needs a codec that exposes likelihoods: the test's tiny learned codec."""
    from conftest import smooth_image
    from gcbench.codecs import registry
    from gcbench.execution.runner import RunConfig, run
    from metrics.test_region import TinyLearned

    adapters = registry.Registry("codec adapter", validate=registry._validate_adapter,
                                 populate=registry._populate_adapters)
    adapters.add("tiny-learned", TinyLearned)
    monkeypatch.setattr(registry, "adapters", adapters)
    (specs / "tiny.toml").write_text('adapter = "tiny-learned"\nrate_param = "gain"\nsettings = [1.0]\n'
                                     "rate_increases_with_setting = true\n")
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    Image.fromarray(smooth_image(64, 96, seed=0)).save(images / "a.png")
    Image.fromarray(np.full((64, 96), 255, np.uint8)).save(masks / "a.png")
    run(RunConfig(codecs=["tiny@1.0"], dataset=str(images), masks=str(masks), metrics=["roi-bits"], out=tmp_path / "out",
                  progress=False, write_outputs=False))
    assert _stored(tmp_path / "out")["roi-bits"] == _declared("roi-bits")
