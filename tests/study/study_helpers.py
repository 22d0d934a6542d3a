"""Helpers shared by the study tests: small results folders made by real runs, answers files
signed the way the form signs them, PNG chunk lists, a scripted participant."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gcbench.study.integrity import canonical_text, sign

EVIL_CODEC = "<img src=x onerror=alert(1)>\"'</script><script>alert(2)</script>"
EVIL_IMAGES = ("<img src=x onerror=alert(3)>.png", "<", "script>\"q' &amp;.png")  # second: a folder

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def smooth(h: int, w: int, seed: int) -> np.ndarray:
    r = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([128 + 100 * np.sin(x / (w / 3.0) + seed), 128 + 100 * np.cos(y / (h / 2.5)),
                    128 + 80 * np.sin((x + y) / ((h + w) / 4.0))], axis=-1)
    img += r.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_results(root: Path, codecs: list[str], image_names: list[str], size: tuple[int, int] = (160, 224)) -> Path:
    """A results folder from a real `gcbench run` on small generated images."""
    from gcbench.execution.runner import RunConfig, run

    data = root / "images"
    for i, name in enumerate(image_names):
        path = data / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(smooth(*size, seed=i)).save(path, format="PNG")
    out = root / "results"
    report = run(RunConfig(codecs=codecs, dataset=str(data), out=out, metrics=["psnr"], progress=False,
                           write_outputs=False))
    assert report.n_failed == 0 and not report.image_errors, report.text()
    return out


def png_chunks(path: Path) -> list[str]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunks.append(kind.decode("ascii"))
        pos += 12 + length
    return chunks


def answers_doc(key: dict[str, Any], participant: dict[str, Any], choices: list[tuple[str, str, int, int]],
                *, study: str | None = None, code: str | None = None, token: str | None = None,
                hmac_key: str | None = None) -> dict[str, Any]:
    """An answers file as the form writes it; ``choices`` = (trial, choice, rt_ms, flips)."""
    study = study or key["study"]
    code = code or participant["code"]
    token = token or participant["token"]
    trials = [{"trial": t, "choice": c, "rt_ms": rt, "flips": f} for t, c, rt, f in choices]
    return {"format": "gcbench-study-answers", "version": 1, "study": study, "participant": code, "token": token,
            "complete": True, "trials": trials,
            "signature": sign(hmac_key or participant["hmac_key"], canonical_text(study, code, token, trials))}


def scripted_choices(key: dict[str, Any], participant: dict[str, Any], prefer: Callable[[str, str, str], str],
                     rt_ms: int = 1500) -> list[tuple[str, str, int, int]]:
    """Choices of a participant who picks the original in catch trials and ``prefer(left, right, image)`` otherwise."""
    out = []
    for t in participant["trials"]:
        if t["kind"] == "catch":
            out.append((t["trial"], t["original_side"], rt_ms, 0))
        else:
            image = key["files"][t["left"]]["image"]
            out.append((t["trial"], prefer(t["left_codec"], t["right_codec"], image), rt_ms, 0))
    return out


def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def side_for(key: dict[str, Any], left_src: str, right_src: str, prefer: Callable[[str, str, str], str]) -> str:
    """What a scripted participant answers for the images on screen (found through the key)."""
    left = key["files"][Path(left_src).stem]
    right = key["files"][Path(right_src).stem]
    if "original" in (left["role"], right["role"]) and "degraded" in (left["role"], right["role"]):
        return "left" if left["role"] == "original" else "right"
    return prefer(left["codec"], right["codec"], left["image"])
