"""Measuring a timing recipe: every generator, untrained, and the label preprocessing, on one device.

Each model of the recipe is a ``gan`` codec spec resolved as ``gcbench timing`` resolves codecs
(random weights, the device, the threads); its architecture is built with seed 0 and the recipe's
input channels, and only its generator runs. The generators see what pix2pixHD's
``encode_input`` makes of a label map (:func:`gcbench.codecs.gan.pix2pixhd.label_input`); the
label and instance maps are synthetic (piecewise-constant regions of the source's size), since a
convolution's cost does not depend on what the pixels hold.

The clock is gcbench.timing's (``perf_counter_ns`` around one call, garbage collector paused; on
CUDA synchronised at both ends, with CUDA events). Rounds interleave the stages — every round
times the preprocessing and each generator once, starting one stage later each round — so a
machine that slows down or speeds up during the run shifts every stage alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from gcbench.core.errors import ConfigError, GcbenchError

if TYPE_CHECKING:
    from torch import Tensor, nn

    from gcbench.recipes.timing_model import TimingRecipe
    from gcbench.timing.clocks import Clock, Timed

PREPROCESS = "one-hot label preprocessing"


@dataclass(frozen=True)
class TimingOverrides:
    """What a quick run may change in a timing recipe's protocol (None: the recipe's value)."""

    size: tuple[int, int] | None = None  # width, height
    warmup: int | None = None
    repeats: int | None = None
    threads: int | None = None

    def given(self) -> bool:
        """Whether anything is overridden."""
        return any(v is not None for v in (self.size, self.warmup, self.repeats, self.threads))


@dataclass
class Stage:
    """One timed stage: a generator (with its counts) or the preprocessing."""

    label: str
    codec: str
    call: Callable[[], Any]
    params: int = 0
    gflops: float = float("nan")
    versions: dict[str, str] = field(default_factory=dict)
    samples: list[Timed] = field(default_factory=list)


def parse_size(text: str) -> tuple[int, int]:
    """``1024x512`` → (1024, 512): width × height, as papers write it."""
    w, sep, h = str(text).lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit() or int(w) < 1 or int(h) < 1:
        raise ConfigError(f"--size must be WIDTHxHEIGHT in pixels (e.g. 1024x512), got {text!r}")
    return int(w), int(h)


def resolve_models(recipe: TimingRecipe, device: str, threads: int,
                   options: Mapping[str, Mapping[str, Any]] | None = None) -> list[Any]:
    """The recipe's codecs resolved as ``gcbench timing`` resolves them (random weights, device, threads)."""
    from gcbench.execution.resolve import resolve_codecs
    from gcbench.timing.measure import timing_spec

    adapt = partial(timing_spec, threads=threads, device=device, random_weights=True)
    return resolve_codecs([m.codec for m in recipe.models], {k: dict(v) for k, v in (options or {}).items()},
                          adapt=adapt)


def missing_timing_pieces(recipe: TimingRecipe, device: str = "cpu",
                          extra_options: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """One line per thing the timing recipe cannot find here (empty: it can run)."""
    from gcbench.timing.clocks import check_device

    problems = []
    for model in recipe.models:
        try:
            resolve_models(_only(recipe, model.codec), "cpu", 1, extra_options)
        except GcbenchError as exc:
            problems.append(f"codec {model.codec}: {exc}")
    if check_device(device).startswith("cuda"):
        try:
            import torch

            if not torch.cuda.is_available():
                problems.append(f"device {device}: torch {torch.__version__} sees no CUDA device")
        except ImportError:
            problems.append("device: torch is not installed (pip install -e '.[learned]')")
    return problems


def _only(recipe: TimingRecipe, codec: str) -> TimingRecipe:
    from dataclasses import replace

    return replace(recipe, models=tuple(m for m in recipe.models if m.codec == codec))


def synthetic_label_maps(width: int, height: int, label_nc: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """(label map, instance map), each 1×1×H×W on the CPU, as pix2pixHD's loader hands them over: labels
    constant over 32×32 cells, instances over 8×8 cells (so edges occur), drawn with ``seed``."""
    import torch

    g = torch.Generator().manual_seed(seed)

    def cells(step: int, high: int) -> Tensor:
        coarse = torch.randint(0, high, (1, 1, -(-height // step), -(-width // step)), generator=g)
        return coarse.repeat_interleave(step, 2).repeat_interleave(step, 3)[:, :, :height, :width]

    return cells(32, label_nc).float(), cells(8, 1000).int()


def count(generator: nn.Module, x: Tensor) -> tuple[int, float]:
    """(parameters, GFLOPs of one forward pass on ``x``) of a generator built on the meta device: FLOPs as
    ``torch.utils.flop_counter`` counts them (2 a multiply-add; convolutions and matrix products only)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(p.numel() for p in generator.parameters())
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        generator(x.to("meta"))
    return params, counter.get_total_flops() / 1e9


def _model(plan: Any, recipe: TimingRecipe) -> Any:
    """The plan's architecture with the recipe's input channels (built where ``torch.device`` says)."""
    from gcbench.codecs.gan import zoo

    options = plan.spec.options
    if "architecture" not in options:
        raise ConfigError(f"codec {plan.spec.name!r} is not a gan codec (no architecture option): "
                          "a timing recipe times generators of the GAN zoo")
    try:
        return zoo.build(str(options["architecture"]), **{**dict(options.get("kwargs", {})),
                                                         "input_nc": recipe.input_channels})
    except TypeError as exc:
        raise ConfigError(f"codec {plan.spec.name!r}: its architecture takes no label-map input ({exc})") from exc


def build_stage(plan: Any, recipe: TimingRecipe, x: Tensor, device: str) -> Stage:
    """The plan's architecture, untrained (seed 0), with the recipe's input channels: its generator as a stage."""
    import torch

    with torch.device("meta"):
        meta = _model(plan, recipe)
    m = meta.pad_multiple
    if any(side % m or side < 2 * m for side in x.shape[-2:]):
        raise ConfigError(f"{plan.spec.name}: width and height must be multiples of {m} (its down-samplings) "
                          f"and at least {2 * m} (reflection padding at the bottleneck), got {x.shape[-1]}×{x.shape[-2]}")
    params, gflops = count(meta.generator, x)
    torch.manual_seed(0)
    generator = _model(plan, recipe).generator.eval().to(device)
    label = next(m.label for m in recipe.models if m.codec == plan.spec.name)

    def call() -> Any:
        with torch.inference_mode():
            return generator(x)

    return Stage(label, plan.spec.name, call, params, gflops, dict(plan.versions))


def interleaved(stages: list[Stage], clock: Clock, *, warmup: int, repeats: int, progress: Any = None) -> None:
    """``warmup`` untimed rounds, then ``repeats`` timed ones; round r starts at stage r mod n."""
    from gcbench.timing.clocks import timed_call

    n = len(stages)
    for r in range(warmup + repeats):
        for i in range(n):
            stage = stages[(r + i) % n]
            _, timed, _ = timed_call(clock, stage.call, stages=False)
            if r >= warmup:
                stage.samples.append(timed)
        if progress is not None:
            progress.update(1)


def measure(recipe: TimingRecipe, *, device: str, size: tuple[int, int], warmup: int, repeats: int,
            threads: int, options: Mapping[str, Mapping[str, Any]] | None = None, progress: bool = True,
            cuda_backend: Any = None) -> tuple[list[Stage], dict[str, Any]]:
    """Every stage built and timed; returns the stages (preprocessing first) and the threads as fixed."""
    import sys

    from tqdm import tqdm

    from gcbench.codecs.gan.pix2pixhd import label_input
    from gcbench.timing.clocks import fixed_threads, make_clock

    clock = make_clock(device, backend=cuda_backend)
    with fixed_threads(threads) as thread_info:
        plans = resolve_models(recipe, device, threads, options)
        labels, instances = synthetic_label_maps(*size, recipe.label_nc)
        instance = instances if recipe.instance_edges else None
        x = label_input(labels, instance, recipe.label_nc, device)
        pre = Stage(PREPROCESS, "", lambda: label_input(labels, instance, recipe.label_nc, device))
        stages = [pre] + [build_stage(plan, recipe, x, device) for plan in plans]
        with tqdm(total=warmup + repeats, disable=not progress, unit="round", file=sys.stderr,
                  desc=recipe.name, dynamic_ncols=True) as bar:
            interleaved(stages, clock, warmup=warmup, repeats=repeats, progress=bar)
    return stages, {**thread_info, "clock": clock.name}
