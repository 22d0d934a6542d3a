"""Fixtures of the study tests: results folders made once per session by real runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from study.study_helpers import EVIL_CODEC, EVIL_IMAGES, make_results


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """JPEG and WebP at three settings, JPEG 4:4:4 at one, on three 160×224 images."""
    return make_results(tmp_path_factory.mktemp("study-results"), ["jpeg@10,30,60", "webp@10,30,60", "jpeg444@30"],
                        ["img00.png", "img01.png", "img02.png"])


@pytest.fixture(scope="session")
def evil_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Codec and image names that are HTML and script: a JPEG variant named EVIL_CODEC, and images
    named '<img src=x onerror=alert(3)>.png' and '</script>"q' &amp;.png' (a folder named '<')."""
    from gcbench.codecs.spec import spec_from_dict
    from gcbench.codecs.registry import codecs

    spec = spec_from_dict({"name": EVIL_CODEC, "adapter": "pillow", "rate_param": "quality", "settings": [20],
                           "rate_increases_with_setting": True, "options": {"format": "JPEG"}},
                          default_name="evil", source="test")
    codecs.add("evil-test-codec", spec, origin="test", replace=True)
    try:
        names = [EVIL_IMAGES[0], f"{EVIL_IMAGES[1]}/{EVIL_IMAGES[2]}"]
        return make_results(tmp_path_factory.mktemp("study-evil"), ["evil-test-codec@20", "webp@30"], names)
    finally:
        codecs.remove("evil-test-codec")
