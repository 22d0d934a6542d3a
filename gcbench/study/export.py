"""Export a blind pairwise study from a results folder.

    from gcbench.study import ExportConfig, export_study
    report = export_study(ExportConfig(results="results/kodak", codecs=["jpeg", "webp"],
                                       target_bpp=0.4, participants=10, out="study/"))

Writes::

    STUDY/study-key.json          the key (secret): ids → codec, setting, bpp; tokens
    STUDY/handout/<code>.html     one page per participant (hand out this folder, or one
    STUDY/handout/img/<id>.png    page each with the img folder)
    STUDY/crowd/trials.csv        the trials as rows for a crowdsourcing platform

Image files carry random names and no metadata (PNG with only IHDR, IDAT and IEND chunks).
Trial order and sides come from generators seeded by the recorded study seed and the
participant's number, so the same seed reproduces the same design; ids, tokens and checksum
keys come from the operating system's random source, so they cannot be derived from it.
"""

from __future__ import annotations

import csv
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from gcbench.core.errors import ConfigError
from gcbench.study.crops import RULES, Box, choose_boxes, cut, degrade
from gcbench.study.design import (
    CatchSource,
    Item,
    TrialIds,
    catch_rng,
    crowd_rng,
    draw_trials,
    participant_rng,
)
from gcbench.study.form import check_post_url, render_form
from gcbench.study.integrity import new_hmac_key, new_token, opaque_id
from gcbench.study.keyfile import KEY_FORMAT, KEY_NAME, KEY_VERSION, write_key
from gcbench.study.recon import Decoders, load_original
from gcbench.study.selection import Selection, open_store, select

HANDOUT = "handout"
IMG = "img"
DEFAULT_TITLE = "Image quality study"
DEFAULT_INSTRUCTIONS = (
    "You will see pairs of images. For each pair, choose the one you prefer. "
    "Take your time and look closely; you may flip between the two images in place."
)
QUESTION_PLAIN = "Which image looks better?"
QUESTION_REFERENCE = "Which image is closer to the original?"


@dataclass
class ExportConfig:
    results: str | Path
    codecs: list[str]
    out: str | Path
    settings: dict[str, str] | None = None  # codec → setting (text), or
    target_bpp: float | None = None  # per image, the setting nearest this bpp
    crops: int = 1
    crop_size: int = 512
    crop_rule: str = "random"
    participants: int = 10
    reference: bool = False
    catch_rate: float = 0.1
    min_view_s: float = 1.0
    seed: int | None = None
    dataset: str | None = None
    max_images: int | None = None
    originals: str | Path | None = None
    post_url: str | None = None
    title: str = DEFAULT_TITLE
    instructions: str = DEFAULT_INSTRUCTIONS
    question: str | None = None
    image_url_prefix: str = "img/"
    argv: list[str] | None = None


@dataclass
class ExportReport:
    out: Path
    key: Path
    forms: list[Path]
    crowd_csv: Path
    n_items: int
    trials_per_participant: int
    catch_per_participant: int
    n_files: int
    seed: int
    selection: Selection
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def text(self) -> str:
        lines = [(
            f"{len(self.forms)} participant forms in {self.out / HANDOUT} "
            f"({self.trials_per_participant} trials each: {self.n_items} comparisons + "
            f"{self.catch_per_participant} catch), {self.n_files} images, seed {self.seed}"
        )]
        for row in self.selection.bpp_summary():
            extra = f", mean |bpp - target| {row['mean_abs_bpp_error']:.4f}" if "mean_abs_bpp_error" in row else ""
            lines.append(f"  {row['codec']}: {row['images']} images, mean bpp {row['mean_bpp']:.4f}{extra}")
        for image, why in self.skipped:
            lines.append(f"  skipped {image}: {why}")
        lines.append(f"key (keep it; do not hand it out): {self.key}")
        lines.append(f"crowdsourcing trials: {self.crowd_csv}")
        return "\n".join(lines)


def _check(config: ExportConfig) -> None:
    if config.participants < 1:
        raise ConfigError(f"--participants must be at least 1, got {config.participants}")
    if config.crop_rule not in RULES:
        raise ConfigError(f"unknown crop rule {config.crop_rule!r}; choose one of {', '.join(RULES)}")
    if config.crops < 1:
        raise ConfigError(f"--crops must be at least 1, got {config.crops}")
    if not 0.0 <= config.min_view_s <= 60.0:
        raise ConfigError(f"--min-view must lie between 0 and 60 seconds, got {config.min_view_s}")
    if config.seed is not None and not 0 <= config.seed < 2**63:
        raise ConfigError(f"--seed must be a non-negative integer below 2**63, got {config.seed}")
    check_post_url(config.post_url)
    out = Path(config.out)
    if (out / KEY_NAME).exists() or (out / HANDOUT).exists():
        raise ConfigError(f"{out} already holds a study; export into a new folder (a study's key must match its forms)")


def write_png(path: Path, array: np.ndarray) -> None:
    """PNG with no ancillary chunks: no text, time, gamma or profile that could identify a source."""
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(array), "RGB").save(path, format="PNG", compress_level=6)


class _Files:
    """Opaque file ids and what each one is (for the key)."""

    def __init__(self) -> None:
        self.meta: dict[str, dict[str, Any]] = {}
        self.by_slot: dict[tuple[Any, ...], str] = {}

    def id_for(self, slot: tuple[Any, ...], meta: dict[str, Any]) -> str:
        fid = self.by_slot.get(slot)
        if fid is None:
            fid = opaque_id(8)
            while fid in self.meta:
                fid = opaque_id(8)
            self.by_slot[slot] = fid
            self.meta[fid] = meta
        return fid


def export_study(config: ExportConfig) -> ExportReport:
    """Write the blind forms, the crowd CSV and the key of a pairwise study (``gcbench study export``)."""
    _check(config)
    seed = int(config.seed) if config.seed is not None else secrets.randbelow(2**63)
    out = Path(config.out)
    store = open_store(config.results)
    try:
        selection = select(store, list(config.codecs), settings=config.settings, target_bpp=config.target_bpp,
                           dataset=config.dataset, max_images=config.max_images)
        return _export(config, selection, store, seed, out)
    finally:
        store.close()


class _Layout:
    """The study's crops and the opaque file id of every image shown (original, degraded, reconstruction)."""

    def __init__(self, config: ExportConfig, sel: Selection, store: Any, seed: int) -> None:
        self.config, self.sel, self.files = config, sel, _Files()
        self.boxes: dict[str, list[Box]] = {}
        first = sel.codecs[0]
        for index, image in enumerate(sel.images):  # the variance rule looks at the original
            original = load_original(store, sel.chosen[(first, image)], config.originals)
            rng = np.random.default_rng([seed, 0, index])
            self.boxes[image] = choose_boxes(original, config.crops, config.crop_size, config.crop_rule, rng)
        self.pool = [CatchSource(image, k, self.boxes[image][k]) for image in sel.images for k in range(config.crops)]

    def recon_id(self, codec: str, image: str, k: int) -> str:
        """Id of the crop ``k`` of ``codec``'s reconstruction of ``image``."""
        rec = self.sel.chosen[(codec, image)]
        return self.files.id_for(("recon", codec, image, k), {
            "role": "reconstruction", "codec": codec, "setting": rec.setting, "setting_value": rec.setting_value,
            "bpp": rec.bpp, "bpp_kind": rec.bpp_kind, "n_bytes": rec.n_bytes, "task": rec.key,
            "image": image, "crop": k, "box": list(self.boxes[image][k]),
        })

    def original_id(self, image: str, k: int) -> str:
        """Id of the crop ``k`` of the original ``image``."""
        return self.files.id_for(("original", image, k), {"role": "original", "image": image, "crop": k,
                                                          "box": list(self.boxes[image][k])})

    def items(self) -> list[Item]:
        """Every pair of codecs on every crop."""
        items: list[Item] = []
        ids = TrialIds()
        for image in self.sel.images:
            for k in range(self.config.crops):
                for a, b in combinations(self.sel.codecs, 2):
                    items.append(Item(item=ids.new(), image=image, crop=k, box=self.boxes[image][k], codec_a=a,
                                      codec_b=b, file_a=self.recon_id(a, image, k), file_b=self.recon_id(b, image, k),
                                      reference=self.original_id(image, k) if self.config.reference else None))
        return items

    def resolve_catch(self, trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Give each catch trial its original and degraded crop, on the sides the design chose."""
        for t in trials:
            if t["kind"] != "catch":
                continue
            src = self.pool[t["source"]]
            orig = self.original_id(src.image, src.crop)
            bad = self.files.id_for(("degraded", src.image, src.crop), {
                "role": "degraded", "image": src.image, "crop": src.crop, "box": list(src.box),
                "degradation": "8x box downsample, bilinear upsample, Gaussian noise sigma 12"})
            t.update({"image": src.image, "crop": src.crop,
                      "left": orig if t["original_side"] == "left" else bad,
                      "right": bad if t["original_side"] == "left" else orig,
                      "reference": orig if self.config.reference else None})
        return trials


def _participants(config: ExportConfig, layout: _Layout, items: list[Item], seed: int,
                  trial_ids: TrialIds) -> list[dict[str, Any]]:
    """Each participant's code, token, checksum key and trials (order and sides from the seed)."""
    participants = []
    codes: set[str] = set()
    for p in range(config.participants):
        trials = layout.resolve_catch(draw_trials(items, len(layout.pool), config.catch_rate, participant_rng(seed, p),
                                                  trial_ids))
        code = opaque_id(4)
        while code in codes:
            code = opaque_id(4)
        codes.add(code)
        participants.append({"id": f"P{p + 1:0{max(2, len(str(config.participants)))}d}", "index": p, "code": code,
                             "token": new_token(), "hmac_key": new_hmac_key(),
                             "form": f"{HANDOUT}/{code}.html", "trials": trials})
    return participants


def _write_images(out: Path, layout: _Layout, store: Any, seed: int) -> None:
    """Every image, each decoded once per (codec, image).

    They are made in a telling order (image by image, codec by codec), so they are staged
    outside the handout and then copied in a random order with one common timestamp: neither
    inode numbers, directory order nor modification times say which files belong together.
    """
    sel, wanted = layout.sel, layout.files.by_slot
    img_dir = out / HANDOUT / IMG
    img_dir.mkdir(parents=True, exist_ok=False)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        decoders = Decoders(store)
        for image in sel.images:
            original = load_original(store, sel.chosen[(sel.codecs[0], image)], layout.config.originals)
            for k, box in enumerate(layout.boxes[image]):
                crop = cut(original, box)
                if ("original", image, k) in wanted:
                    write_png(staging / f"{wanted[('original', image, k)]}.png", crop)
                if ("degraded", image, k) in wanted:
                    source_index = layout.pool.index(CatchSource(image, k, box))
                    write_png(staging / f"{wanted[('degraded', image, k)]}.png",
                              degrade(crop, catch_rng(seed, source_index)))
            for codec in sel.codecs:
                recon = decoders.decode(sel.chosen[(codec, image)])
                for k, box in enumerate(layout.boxes[image]):
                    write_png(staging / f"{wanted[('recon', codec, image, k)]}.png", cut(recon, box))
        names = sorted(p.name for p in staging.iterdir())
        secrets.SystemRandom().shuffle(names)
        stamp = int(time.time())
        for name in names:
            shutil.copyfile(staging / name, img_dir / name)
            os.utime(img_dir / name, (stamp, stamp))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_forms(out: Path, config: ExportConfig, participants: list[dict[str, Any]], study_id: str,
                 question: str) -> list[Path]:
    """One offline page per participant."""
    forms = []
    for part in participants:
        page = render_form({
            "study": study_id, "participant": part["code"], "token": part["token"], "key": part["hmac_key"],
            "title": config.title, "instructions": config.instructions, "question": question,
            "min_view_ms": round(config.min_view_s * 1000), "post_url": config.post_url,
            "trials": [{"id": t["trial"], "left": f"{IMG}/{t['left']}.png", "right": f"{IMG}/{t['right']}.png",
                        "reference": f"{IMG}/{t['reference']}.png" if t.get("reference") else None}
                       for t in part["trials"]],
        })
        path = out / part["form"]
        path.write_text(page, encoding="utf-8")
        forms.append(path)
    return forms


def _key_document(config: ExportConfig, sel: Selection, layout: _Layout, items: list[Item], seed: int,
                  study_id: str, question: str, participants: list[dict[str, Any]],
                  crowd: dict[str, Any]) -> dict[str, Any]:
    """The study key: what every file is, the design, the participants' secrets."""
    from gcbench import __version__

    return {
        "format": KEY_FORMAT, "version": KEY_VERSION, "study": study_id, "created": time.time(),
        "gcbench_version": __version__, "argv": config.argv, "seed": seed,
        "results": str(Path(config.results).resolve()), "dataset": sel.dataset,
        "codecs": sel.codecs,
        "selection": {"mode": sel.mode, "target_bpp": sel.target_bpp, "settings": sel.settings,
                      "images": sel.images, "skipped": [list(s) for s in sel.skipped],
                      "bpp": sel.bpp_summary()},
        "options": {"crops": config.crops, "crop_size": config.crop_size, "crop_rule": config.crop_rule,
                    "participants": config.participants, "reference": config.reference,
                    "catch_rate": config.catch_rate, "min_view_s": config.min_view_s,
                    "post_url": config.post_url, "title": config.title, "instructions": config.instructions,
                    "question": question, "image_url_prefix": config.image_url_prefix},
        "files": layout.files.meta,
        "items": [{"item": it.item, "image": it.image, "crop": it.crop, "box": list(it.box), "codec_a": it.codec_a,
                   "codec_b": it.codec_b, "file_a": it.file_a, "file_b": it.file_b, "reference": it.reference}
                  for it in items],
        "participants": participants,
        "crowd": crowd,
    }


def _export(config: ExportConfig, sel: Selection, store: Any, seed: int, out: Path) -> ExportReport:
    layout = _Layout(config, sel, store, seed)  # 1. crop boxes
    items = layout.items()  # 2. every pair of codecs on every crop
    trial_ids = TrialIds()  # 3. each participant's trials, then the crowdsourcing rows
    participants = _participants(config, layout, items, seed, trial_ids)
    crowd_trials = layout.resolve_catch(draw_trials(items, len(layout.pool), config.catch_rate, crowd_rng(seed),
                                                    trial_ids))
    _write_images(out, layout, store, seed)  # 4. the images
    study_id = opaque_id(8)  # 5. pages, crowd CSV, key
    question = config.question or (QUESTION_REFERENCE if config.reference else QUESTION_PLAIN)
    forms = _write_forms(out, config, participants, study_id, question)
    crowd_csv = _write_crowd_csv(out / "crowd" / "trials.csv", crowd_trials, config.image_url_prefix)
    crowd = {"csv": str(crowd_csv.relative_to(out)), "trials": crowd_trials}
    key_path = write_key(out / KEY_NAME, _key_document(config, sel, layout, items, seed, study_id, question,
                                                       participants, crowd))
    n_catch = sum(1 for t in participants[0]["trials"] if t["kind"] == "catch")
    return ExportReport(out=out, key=key_path, forms=forms, crowd_csv=crowd_csv, n_items=len(items),
                        trials_per_participant=len(participants[0]["trials"]), catch_per_participant=n_catch,
                        n_files=len(layout.files.meta), seed=seed, selection=sel, skipped=sel.skipped)


def _write_crowd_csv(path: Path, trials: list[dict[str, Any]], prefix: str) -> Path:
    """One row per trial, image URLs only: the platform shows left, right (and the original)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["trial_id", "left_url", "right_url", "reference_url"])
        for t in trials:
            ref = f"{prefix}{t['reference']}.png" if t.get("reference") else ""
            writer.writerow([t["trial"], f"{prefix}{t['left']}.png", f"{prefix}{t['right']}.png", ref])
    return path
