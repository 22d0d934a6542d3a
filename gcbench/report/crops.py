"""Example crops: the same region of one image from every codec at (nearly) the same bpp.

The reconstructions are decoded from the stored bitstreams with the codec spec each run
recorded (:func:`gcbench.results.stored_codecs.stored_codec`), so a crop shows exactly what
the metrics saw. The bpp to compare at is an
equal-bitrate target of the folder when it has one (``gcbench run --target-bpp``), else the
middle (in log-bpp) of the range every codec covers on that image; each codec contributes
its setting whose bpp on that image is nearest. The region is the window of the original
with the most detail (largest mean gradient), where codecs differ most.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from gcbench.results.records import StoredTask


@dataclass
class CropPanel:
    series: str
    setting: str
    bpp: float
    values: dict[str, float]
    png: bytes | None  # None when the bitstream could not be decoded here
    note: str = ""


@dataclass
class CropSet:
    folder: str
    dataset: str
    image: str
    target_bpp: float
    how: str
    box: tuple[int, int, int, int]  # top, left, height, width
    original_png: bytes | None
    panels: list[CropPanel] = field(default_factory=list)


def png_bytes(array: np.ndarray) -> bytes:
    """The PNG file of an image array (what the report embeds)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def detail_window(image: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the size×size window with the largest mean gradient."""
    h, w = image.shape[:2]
    ch, cw = min(size, h), min(size, w)
    grey = image.astype(np.float64).mean(axis=2)
    grad = np.zeros_like(grey)
    grad[:, 1:] += np.abs(np.diff(grey, axis=1))
    grad[1:, :] += np.abs(np.diff(grey, axis=0))
    integral = np.pad(grad.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    step = max(8, size // 8)
    best, box = -1.0, (0, 0, ch, cw)
    for top in range(0, h - ch + 1, step):
        for left in range(0, w - cw + 1, step):
            total = (integral[top + ch, left + cw] - integral[top, left + cw]
                     - integral[top + ch, left] + integral[top, left])
            if total > best:
                best, box = total, (top, left, ch, cw)
    return box


@dataclass
class _Decoder:
    """Decodes the stored bitstreams of one folder, each codec rebuilt once from its recorded spec."""

    store: Any
    specs: dict[tuple[str, str], Any]
    tasks: dict[str, StoredTask]
    codecs: dict[tuple[str, str], Any] = field(default_factory=dict)

    def decode(self, key: str) -> tuple[np.ndarray | None, str]:
        from gcbench.codecs.spec import build_codec
        from gcbench.results.stored_codecs import stored_codec

        task = self.tasks.get(key)
        if task is None:
            return None, "task not in the store"
        slot = (task.codec, task.codec_spec_hash)
        try:
            codec = self.codecs.get(slot)
            if codec is None:
                codec = self.codecs[slot] = build_codec(stored_codec(self.specs, *slot))
                codec.prepare()
            data = self.store.read_bitstream(key)
            return np.asarray(codec.decode(data, (task.height, task.width))), ""
        except Exception as exc:  # noqa: BLE001 - a codec missing here must not stop the report
            return None, f"could not decode here: {exc}"


def _choose(per_image: pd.DataFrame, stored: list[dict[str, Any]], dataset: str
            ) -> tuple[str, float, str, dict[str, Any]] | None:
    """(image, target bpp, how it was chosen, series → per-image row); ``stored``: the folder's selections."""
    rows = per_image[(per_image["dataset"] == dataset) & (per_image["status"] == "ok")]
    if rows.empty:
        return None
    series = list(dict.fromkeys(rows["series"]))
    complete = [img for img, g in rows.groupby("image", sort=True) if set(g["series"]) == set(series)]
    if not complete:
        return None
    selections = [s for s in stored if s["dataset"] == dataset and s["image"] in complete]
    if selections:
        # prefer an (image, target) every codec reached; then the lowest target (where codecs differ most)
        def score(s: dict[str, Any]) -> tuple[int, str, float]:
            same = [o for o in selections if o["image"] == s["image"] and o["target_bpp"] == s["target_bpp"]]
            return (sum(o["status"] != "ok" for o in same), s["image"], s["target_bpp"])

        first = min(selections, key=score)
        image, target = first["image"], float(first["target_bpp"])
        how = f"equal-bitrate selection for {target:g} bpp ({first['mode']})"
    else:
        image = complete[0]
        g = rows[rows["image"] == image]
        lo = max(part["bpp"].min() for _, part in g.groupby("series"))
        hi = min(part["bpp"].max() for _, part in g.groupby("series"))
        target = math.sqrt(lo * hi) if hi > lo else float(g["bpp"].median())
        how = f"each codec's setting nearest {target:.3g} bpp on this image"
    g = rows[rows["image"] == image]
    chosen: dict[str, Any] = {}
    for name, part in g.groupby("series", sort=False):
        if selections:
            sel = [s for s in selections if s["image"] == image and s["target_bpp"] == target and
                   s["codec"] == part["codec"].iloc[0]]
            from gcbench.core.settings import format_setting

            hit = part[part["setting"] == format_setting(sel[0]["setting"])] if sel else part.iloc[0:0]
            if not hit.empty:
                chosen[name] = hit.iloc[0]
                continue
        chosen[name] = part.iloc[(part["bpp"] - target).abs().to_numpy().argmin()]
    return image, target, how, chosen


def example_crops(folder: str | Path, per_image: pd.DataFrame, columns: list[str], *, size: int = 192
                  ) -> list[CropSet]:
    """One crop set per dataset of a folder (``per_image`` carries a ``series`` column)."""
    from gcbench.results.store import ResultStore
    from gcbench.results.stored_codecs import recorded_specs

    folder = Path(folder)
    with ResultStore(folder, create=False) as store:
        decoder = _Decoder(store, recorded_specs(store.runs()),
                           {t.key: t for t in store.tasks(latest_only=False) if t.status == "ok"})
        image_paths = {(i.dataset, i.name): i.path for i in store.images() if i.status == "ok"}
        selections = store.selections()
        out = []
        for dataset in sorted(set(per_image["dataset"])):
            choice = _choose(per_image, selections, dataset)
            if choice is not None:
                out.append(_crop_set(folder, dataset, choice, image_paths, decoder, columns, size))
    return out


def _crop_set(folder: Path, dataset: str, choice: tuple[str, float, str, dict[str, Any]],
              image_paths: dict[tuple[str, str], str], decoder: _Decoder, columns: list[str], size: int) -> CropSet:
    from gcbench.data.images import load_image

    image, target, how, chosen = choice
    try:
        original = load_image(image_paths[(dataset, image)]).array
    except Exception:  # noqa: BLE001 - a moved dataset still gets its reconstructions shown
        original = None
    panels = []
    box = None
    for name, row in chosen.items():
        recon, note = decoder.decode(row["key"])
        if box is None:
            ref = original if original is not None else recon
            box = detail_window(ref, size) if ref is not None else (0, 0, 0, 0)
        t, left, h, w = box
        png = png_bytes(recon[t:t + h, left:left + w]) if recon is not None else None
        values = {c: float(row[c]) for c in columns if c in row.index and row[c] == row[c]}
        panels.append(CropPanel(str(name), str(row["setting"]), float(row["bpp"]), values, png, note))
    t, left, h, w = box or (0, 0, 0, 0)
    orig_png = png_bytes(original[t:t + h, left:left + w]) if original is not None and h else None
    return CropSet(str(folder), dataset, image, target, how, box or (0, 0, 0, 0), orig_png, panels)
