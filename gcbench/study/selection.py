"""Choose comparable reconstructions from a results folder.

Either one setting per codec, or, per image, the setting whose real bpp is nearest a target
(ties go to the smaller file). Only images every chosen codec encoded successfully take part;
the others are reported. Each choice carries the task's real bpp, so the key records what
was actually compared.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gcbench.core.errors import ConfigError
from gcbench.core.settings import format_setting, parse_setting
from gcbench.results.records import StoredTask


@dataclass(frozen=True)
class Reconstruction:
    """One stored task chosen for the study."""

    key: str
    codec: str
    setting: str
    setting_value: float | None
    dataset: str
    image: str
    image_sha256: str
    height: int
    width: int
    bpp: float
    bpp_kind: str
    n_bytes: int
    codec_spec_hash: str


@dataclass
class Selection:
    dataset: str
    codecs: list[str]
    images: list[str]  # names, in the store's order
    chosen: dict[tuple[str, str], Reconstruction]  # (codec, image) → task
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (image, why)
    mode: str = "setting"
    target_bpp: float | None = None
    settings: dict[str, str] = field(default_factory=dict)

    def bpp_summary(self) -> list[dict[str, Any]]:
        rows = []
        for codec in self.codecs:
            bpps = [self.chosen[(codec, im)].bpp for im in self.images]
            row: dict[str, Any] = {"codec": codec, "images": len(bpps),
                                   "mean_bpp": sum(bpps) / len(bpps) if bpps else float("nan")}
            if self.target_bpp is not None and bpps:
                row["mean_abs_bpp_error"] = sum(abs(b - self.target_bpp) for b in bpps) / len(bpps)
            rows.append(row)
        return rows


def _latest_ok_tasks(store: Any) -> list[StoredTask]:
    # the latest row of each (dataset, codec, setting, image), as every view reads it
    return [t for t in store.tasks() if t.status == "ok" and t.bpp is not None]


def _as_reconstruction(t: StoredTask) -> Reconstruction:
    return Reconstruction(
        key=t.key, codec=t.codec, setting=t.setting, setting_value=t.setting_value, dataset=t.dataset,
        image=t.image, image_sha256=t.image_sha256, height=int(t.height), width=int(t.width),
        bpp=float(t.bpp or 0.0), bpp_kind=t.bpp_kind or "exact", n_bytes=int(t.n_bytes or 0),
        codec_spec_hash=t.codec_spec_hash,
    )


def _unknown(kind: str, name: str, valid: list[str]) -> ConfigError:
    close = difflib.get_close_matches(name, valid, n=3)
    hint = ("Did you mean " + " or ".join(repr(c) for c in close) + "?") if close else ("Present: " + ", ".join(map(repr, valid)))
    return ConfigError(f"{kind} {name!r} is not in the results folder. {hint}")


def _check_request(codecs: list[str], settings: Mapping[str, str] | None, target_bpp: float | None) -> None:
    if len(codecs) < 2:
        raise ConfigError("a pairwise study needs at least two codecs (repeat --codec)")
    if len(set(codecs)) != len(codecs):
        raise ConfigError(f"a codec is listed twice: {codecs}")
    if settings is not None and target_bpp is not None:
        raise ConfigError("give either a setting for every codec (--setting CODEC=VALUE) or a target bpp (--bpp), not both")
    if target_bpp is not None and not target_bpp > 0:
        raise ConfigError(f"--bpp must be positive, got {target_bpp}")


def _dataset_rows(store: Any, codecs: list[str], dataset: str | None) -> tuple[str, list[StoredTask]]:
    """The dataset studied and its successful tasks; every codec must be among them."""
    rows = _latest_ok_tasks(store)
    if not rows:
        raise ConfigError(f"{store.folder}: no successful tasks stored; run `gcbench run` first")
    datasets = sorted({r.dataset for r in rows})
    if dataset is None:
        if len(datasets) > 1:
            raise ConfigError(f"the results folder holds several datasets ({', '.join(datasets)}); choose one with --dataset")
        dataset = datasets[0]
    elif dataset not in datasets:
        raise _unknown("dataset", dataset, datasets)
    rows = [r for r in rows if r.dataset == dataset]
    present = sorted({r.codec for r in rows})
    for codec in codecs:
        if codec not in present:
            raise _unknown("codec", codec, present)
    return dataset, rows


def _wanted_settings(rows: list[StoredTask], codecs: list[str], settings: Mapping[str, str]) -> dict[str, str]:
    """codec → the setting text asked for (or the only one a codec was run at), checked against the store."""
    extra = set(settings) - set(codecs)
    if extra:
        raise ConfigError(f"--setting names codec(s) not in the study: {sorted(extra)}")
    wanted: dict[str, str] = {}
    missing: list[str] = []
    for codec in codecs:
        values = {r.setting: r.setting_value for r in rows if r.codec == codec}
        stored = sorted(values, key=lambda s: (values[s] is None, values[s] or 0.0, s))
        if codec not in settings:
            if len(stored) == 1:
                wanted[codec] = stored[0]
            else:
                missing.append(f"no setting given for codec {codec!r} (stored settings: {', '.join(stored)}); "
                               f"add --setting {codec}=VALUE")
            continue
        wanted[codec] = format_setting(parse_setting(str(settings[codec])))
        if wanted[codec] not in stored:
            raise ConfigError(f"codec {codec!r} has no successful results at setting {wanted[codec]!r}; "
                              f"stored settings: {', '.join(stored)}")
    if missing:
        raise ConfigError("give either a setting for every codec (--setting CODEC=VALUE) or a target bpp (--bpp): "
                          + "; ".join(missing))
    return wanted


def _pick(per_codec: dict[str, list[StoredTask]], codecs: list[str], wanted: dict[str, str],
          target_bpp: float | None) -> dict[str, StoredTask]:
    """One task per codec for one image (a codec with no candidate is left out)."""
    picks: dict[str, StoredTask] = {}
    for codec in codecs:
        candidates = per_codec.get(codec, [])
        if wanted:
            candidates = [r for r in candidates if r.setting == wanted[codec]]
        if not candidates:
            break
        if target_bpp is not None:
            picks[codec] = min(candidates, key=lambda r: (abs(float(r.bpp) - target_bpp), float(r.bpp)))
        else:
            picks[codec] = candidates[-1]
    return picks


def select(
    store: Any,
    codecs: list[str],
    *,
    settings: Mapping[str, str] | None = None,
    target_bpp: float | None = None,
    dataset: str | None = None,
    max_images: int | None = None,
) -> Selection:
    """Pick one reconstruction per (codec, image): at the given setting, or nearest ``target_bpp``."""
    _check_request(codecs, settings, target_bpp)
    dataset, rows = _dataset_rows(store, codecs, dataset)
    wanted = _wanted_settings(rows, codecs, settings or {}) if target_bpp is None else {}
    by_image: dict[str, dict[str, list[StoredTask]]] = {}
    for r in rows:
        if r.codec in codecs:
            by_image.setdefault(r.image, {}).setdefault(r.codec, []).append(r)

    chosen: dict[tuple[str, str], Reconstruction] = {}
    images: list[str] = []
    skipped: list[tuple[str, str]] = []
    for image in sorted(by_image):
        picks = _pick(by_image[image], codecs, wanted, target_bpp)
        missing = [c for c in codecs if c not in picks]
        if missing:
            skipped.append((image, f"no successful result for {', '.join(missing)}"))
            continue
        if len({p.image_sha256 for p in picks.values()}) > 1:
            skipped.append((image, "the codecs were run on different versions of this image"))
            continue
        images.append(image)
        for codec, r in picks.items():
            chosen[(codec, image)] = _as_reconstruction(r)
    if max_images is not None:
        if max_images < 1:
            raise ConfigError(f"--max-images must be at least 1, got {max_images}")
        images = images[:max_images]
        chosen = {k: v for k, v in chosen.items() if k[1] in images}
    if not images:
        why = "; ".join(f"{im}: {reason}" for im, reason in skipped[:5])
        raise ConfigError(f"no image has a result for every codec in the study ({why})")
    return Selection(dataset=dataset, codecs=list(codecs), images=images, chosen=chosen, skipped=skipped,
                     mode="bpp" if target_bpp is not None else "setting", target_bpp=target_bpp,
                     settings=dict(wanted))


def open_store(results: str | Path) -> Any:
    """The store of an existing results folder (GcbenchError when there is none)."""
    from gcbench.results.store import ResultStore

    return ResultStore(results, create=False)
