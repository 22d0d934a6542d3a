"""The trials each participant sees: every comparison once, catch trials mixed in at a set
rate, order and left/right sides drawn from a generator seeded by (study seed, participant).

A comparison ("item") is the same crop of one image from two codecs. A catch trial shows the
original crop against a strongly degraded one; its right answer is the original.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gcbench.core.errors import ConfigError
from gcbench.study.crops import Box
from gcbench.study.integrity import opaque_id


@dataclass(frozen=True)
class Item:
    item: str
    image: str
    crop: int
    box: Box
    codec_a: str
    codec_b: str
    file_a: str
    file_b: str
    reference: str | None  # the original crop, when shown


@dataclass(frozen=True)
class CatchSource:
    image: str
    crop: int
    box: Box


def catch_count(n_items: int, rate: float) -> int:
    """Catch trials so that they make up ``rate`` of all trials (at least one when rate > 0)."""
    if not 0.0 <= rate <= 0.5:
        raise ConfigError(f"--catch-rate must lie between 0 and 0.5, got {rate}")
    if rate == 0.0 or n_items == 0:
        return 0
    return max(1, math.floor(rate * n_items / (1.0 - rate) + 0.5))


def participant_rng(seed: int, participant_index: int) -> np.random.Generator:
    """The random generator of one participant's order and sides, from the study seed."""
    return np.random.default_rng([seed, 1, participant_index])


def crowd_rng(seed: int) -> np.random.Generator:
    """The random generator of the crowdsourcing CSV's order, from the study seed."""
    return np.random.default_rng([seed, 2])


def catch_rng(seed: int, source_index: int) -> np.random.Generator:
    """The random generator of the catch trials made from one source image, from the study seed."""
    return np.random.default_rng([seed, 3, source_index])


class TrialIds:
    """Opaque trial ids, unique across the whole study."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def new(self) -> str:
        while True:
            tid = opaque_id(6)
            if tid not in self.used:
                self.used.add(tid)
                return tid


def draw_trials(items: list[Item], n_sources: int, catch_rate: float, rng: np.random.Generator,
                ids: TrialIds) -> list[dict[str, Any]]:
    """One participant's trials in presentation order.

    Pair trials name the codec on each side; catch trials name their source (an index into
    the pool of crops) and which side holds the original. File ids of catch images are
    filled in by the caller, which makes the degraded images.
    """
    n_catch = catch_count(len(items), catch_rate)
    trials: list[dict[str, Any]] = []
    for item in items:
        swap = bool(rng.random() < 0.5)
        left, right = (("b", "a") if swap else ("a", "b"))
        trials.append({
            "trial": ids.new(), "kind": "pair", "item": item.item,
            "left": getattr(item, f"file_{left}"), "right": getattr(item, f"file_{right}"),
            "left_codec": getattr(item, f"codec_{left}"), "right_codec": getattr(item, f"codec_{right}"),
            "reference": item.reference,
        })
    if n_catch and n_sources:
        sources = rng.choice(n_sources, size=n_catch, replace=n_catch > n_sources)
        for s in sources:
            trials.append({"trial": ids.new(), "kind": "catch", "source": int(s),
                           "original_side": "left" if rng.random() < 0.5 else "right"})
    order = rng.permutation(len(trials))
    return [trials[i] for i in order]
