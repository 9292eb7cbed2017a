"""Gatys et al.'s per-image style transfer: optimize the pixels of one picture against VGG19 losses.

No trained model is needed, so any painting can be the style. The objective, in the units that are
reported (and that the evaluation metric of ``rtstyle eval`` uses):

    total = content_weight · CD + style_weight · SD + tv_weight · TV

with CD the relative feature distance to the content at ``relu4_2``, SD the mean over the style
layers of the relative Gram distance to the (blended) style target and TV the mean squared
neighbour difference of the [0, 1] image. Those terms are scale-free, so their gradients with
respect to a single pixel shrink like 1 / (number of pixels): at 512 px they are ~1e-7, below the
absolute thresholds inside L-BFGS (its curvature pairs are dropped when yᵀs < 1e-10), and the
line search stalls at the initial image. The optimizer therefore sees ``total · 3·H·W`` (per-pixel
units, gradients of order one at every size) and no tolerance-based stopping; the reported figures
stay in the scale-free units.

Pixels are optimized unconstrained in float32 (L-BFGS) or projected to [0, 1] (Adam); clipping and
8-bit quantization happen only when the result is saved, and :class:`OptimizeResult` reports the
loss of both so that the cost of saving is measured, not assumed.

Large outputs are made affordable coarse to fine (``scales``): optimize small, upsample, refine.
:func:`estimate_memory` predicts the peak memory of a size before anything is allocated and
:func:`check_memory` refuses sizes that will not fit, saying which size does.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from realtime_style.errors import InputError
from realtime_style.image_tensors import image_to_tensor, tensor_to_image
from realtime_style.losses import (
    CONTENT_LAYER,
    STYLE_LAYERS,
    gram_matrix,
    relative_distance,
    style_distance,
    total_variation,
)
from realtime_style.models.vgg import LAYER_NAMES, VGG19Features
from realtime_style.runtime import color
from realtime_style.runtime.engine import select_device

ImageLike = str | Path | np.ndarray | torch.Tensor

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise")
PRESERVE_COLOR = ("luminance", "histogram")
#: Smallest long side of a multi-scale schedule: below this VGG's deep layers see only a few pixels.
MIN_SCALE = 64
#: Finest scale from which the automatic schedule adds coarser ones. At 512 px a 256 -> 512 schedule
#: reached a given loss no sooner than 512 alone (benchmarks/bench_optimize.py), so it starts above.
AUTO_SCHEDULE_FROM = 1024
#: The coarsest scale of the automatic schedule.
AUTO_COARSEST = 512


@dataclass
class OptimizeOptions:
    """Everything that shapes one optimization; the CLI fills it from its flags."""

    size: int = 512
    scales: tuple[int, ...] | None = None
    iterations: int | tuple[int, ...] = 300
    content_weight: float = 1.0
    style_weight: float = 5.0
    tv_weight: float = 10.0
    range_weight: float = 1000.0
    style_blend: tuple[float, ...] | None = None
    style_scale: float = 1.0
    content_layer: str = CONTENT_LAYER
    style_layers: tuple[str, ...] = STYLE_LAYERS
    optimizer: str = "lbfgs"
    learning_rate: float | None = None
    history_size: int = 20
    #: What the optimizer's objective is multiplied by; None = 3·H·W (per-pixel units, see the module doc).
    loss_scale: float | None = None
    init: ImageLike = "content"
    seed: int = 0
    preserve_color: str | None = None
    pooling: str = "max"
    device: str = "auto"
    check_memory: bool = True

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}")
        if self.preserve_color not in (None, *PRESERVE_COLOR):
            raise ValueError(f"preserve_color must be one of {', '.join(PRESERVE_COLOR)}; got {self.preserve_color!r}")
        if self.size < MIN_SCALE:
            raise ValueError(f"size must be at least {MIN_SCALE} px, got {self.size}")
        if not self.style_scale > 0:
            raise ValueError(f"style_scale must be positive, got {self.style_scale}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        unknown = [name for name in (self.content_layer, *self.style_layers) if name not in LAYER_NAMES]
        if unknown:
            raise ValueError(f"unknown VGG19 layers {unknown}")

    def schedule(self) -> list[tuple[int, int]]:
        """(long side, iterations) per scale, coarse to fine."""
        scales = self.scales or auto_scales(self.size)
        if list(scales) != sorted(scales) or len(set(scales)) != len(scales):
            raise ValueError(f"scales must increase strictly, coarse to fine; got {list(scales)}")
        if scales[0] < MIN_SCALE:
            raise ValueError(f"the coarsest scale must be at least {MIN_SCALE} px, got {scales[0]}")
        iterations = (self.iterations,) * len(scales) if isinstance(self.iterations, int) else self.iterations
        if len(iterations) != len(scales):
            raise ValueError(f"{len(iterations)} iteration counts for {len(scales)} scales")
        if any(n < 0 for n in iterations):
            raise ValueError("iterations must not be negative")
        return list(zip(scales, iterations))

    @property
    def lr(self) -> float:
        """Step size: L-BFGS scales its own steps (1 = full quasi-Newton step); Adam moves pixels in [0, 1]."""
        if self.learning_rate is not None:
            return self.learning_rate
        return 1.0 if self.optimizer == "lbfgs" else 0.02


def auto_scales(size: int) -> tuple[int, ...]:
    """Halve the long side down to 512 px for sizes of 1024 and more; smaller sizes run in one scale."""
    scales = [size]
    while size >= AUTO_SCHEDULE_FROM and scales[0] // 2 >= AUTO_COARSEST:
        scales.insert(0, scales[0] // 2)
    return tuple(scales)


@dataclass
class LossTerms:
    """One evaluation of the objective, in scale-free units."""

    content: float
    style: float
    tv: float
    total: float

    def describe(self) -> str:
        return f"total {self.total:.4g} (content {self.content:.3g}, style {self.style:.3g}, tv {self.tv:.3g})"


@dataclass
class StepRecord:
    """The state after one optimizer iteration, for progress, logs and benchmarks."""

    size: int
    iteration: int
    seconds: float
    losses: LossTerms


@dataclass
class OptimizeResult:
    """The optimized image and what it cost."""

    #: (1, 3, H, W) float32 on the CPU, *not* clipped: what the optimizer produced (colour-preserved).
    image: torch.Tensor
    #: Losses of the float image and of the clipped, 8-bit image that is saved.
    losses: LossTerms
    saved_losses: LossTerms
    history: list[StepRecord] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)

    def to_uint8(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB: the clipped and quantized image."""
        return tensor_to_image(self.image)


#: Called after every iteration with the record and the current float image (optimization space).
StepCallback = Callable[[StepRecord, torch.Tensor], None]


def to_image_tensor(image: ImageLike, what: str = "image") -> torch.Tensor:
    """A path, uint8 (H, W, 3) array or float tensor -> float32 (1, 3, H, W) RGB [0, 1] on the CPU."""
    if isinstance(image, (str, Path)):
        from realtime_style.media.images import read_image

        image = read_image(image).rgb
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise InputError(f"{what}: expected an (H, W, 3) RGB array, got shape {image.shape}")
        return image_to_tensor(image)
    if isinstance(image, torch.Tensor):
        tensor = image[None] if image.dim() == 3 else image
        if tensor.dim() != 4 or tensor.shape[:2] != (1, 3):
            raise InputError(f"{what}: expected a (1, 3, H, W) or (3, H, W) tensor, got {tuple(image.shape)}")
        return tensor.detach().float().cpu()
    raise InputError(f"{what}: unsupported image type {type(image).__name__}")


def fit_long_side(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(h, w) with the longer side ``long_side`` and the aspect ratio kept."""
    factor = long_side / max(height, width)
    return max(1, round(height * factor)), max(1, round(width * factor))


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic with antialiasing (a proper downscale), clamped back to [0, 1]."""
    if tuple(image.shape[-2:]) == size:
        return image
    return F.interpolate(image, size=size, mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)


# ----------------------------------------------------------------------------------------------
# Memory


def _activation_floats_per_pixel(layers: Sequence[str]) -> float:
    """Floats of every VGG activation kept for backward, per input pixel, up to the deepest layer.

    Conv and ReLU outputs are both kept (ReLU is not in-place so that the named maps survive);
    each pooling output also keeps int64 indices (counted as two floats).
    """
    deepest = max(LAYER_NAMES.index(name) for name in layers)
    channels, area, total = 3, 1.0, 0.0
    widths = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
    for name in LAYER_NAMES[: deepest + 1]:
        if name.startswith("conv"):
            channels = widths[int(name[4])]
            total += channels * area
        elif name.startswith("relu"):
            total += channels * area
        else:
            area /= 4
            total += 3 * channels * area
    return total


#: Peak resident memory / analytic activation bytes (backward temporaries, allocator slack). Measured
#: on the CPU (ru_maxrss of a fresh process, 2 iterations at 128, 256, 384 px: 510, 644, 802 MiB, i.e.
#: ~470 MiB + 3.1 KB per pixel): about 1.1; 1.25 leaves a margin for a full L-BFGS history.
MEMORY_OVERHEAD = 1.25
#: The torch runtime plus VGG19 up to relu5_1 (measured: ~400 MiB after loading, ~470 MiB intercept).
MEMORY_BASE = 512 * 2**20


def estimate_memory(height: int, width: int, options: OptimizeOptions, n_styles: int = 1) -> int:
    """Predicted peak bytes of optimizing an ``height`` x ``width`` image with ``options``."""
    pixels = height * width
    layers = (options.content_layer, *options.style_layers)
    activations = _activation_floats_per_pixel(layers) * pixels * 4 * MEMORY_OVERHEAD
    # Style targets are computed before, without gradients: the two largest maps of one style image.
    style_targets = 2 * 64 * pixels * options.style_scale**2 * 4
    # Optimizer state: L-BFGS keeps history pairs plus a handful of image-sized vectors; Adam two moments.
    vectors = 2 * options.history_size + 6 if options.optimizer == "lbfgs" else 6
    optimizer = vectors * 3 * pixels * 4
    grams = n_styles * sum(_gram_bytes(name) for name in options.style_layers)
    return int(MEMORY_BASE + max(activations, style_targets) + optimizer + grams)


def _gram_bytes(layer: str) -> int:
    channels = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}[int(layer[4])]
    return channels * channels * 4


def available_memory(device: torch.device) -> int:
    """Free bytes on ``device``: CUDA's free memory, else the host's available memory."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**63


def largest_fitting_size(height: int, width: int, options: OptimizeOptions, budget: int, n_styles: int = 1) -> int:
    """The largest long side (a multiple of 64) whose estimate stays within ``budget`` bytes."""
    best = 0
    for long_side in range(MIN_SCALE, 65536, 64):
        h, w = fit_long_side(height, width, long_side)
        if estimate_memory(h, w, options, n_styles) > budget:
            break
        best = long_side
    return best


def check_memory(
    height: int, width: int, options: OptimizeOptions, device: torch.device, n_styles: int = 1, available: int | None = None
) -> int:
    """Raise :class:`InputError` when the finest scale will not fit; returns the estimate in bytes."""
    size = options.schedule()[-1][0]
    h, w = fit_long_side(height, width, size)
    need = estimate_memory(h, w, options, n_styles)
    free = available_memory(device) if available is None else available
    budget = int(free * 0.9)
    if need > budget:
        fits = largest_fitting_size(height, width, options, budget, n_styles)
        advice = f"the largest size that fits is about {fits} px" if fits else "no size fits; free some memory"
        raise InputError(
            f"--long-side {size} ({w}x{h}) needs about {_gib(need)} on {device.type} but only {_gib(free)} is free; "
            f"{advice}"
        )
    return need


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


# ----------------------------------------------------------------------------------------------
# The objective


class Objective:
    """Content, blended-style and TV losses for one scale, against fixed targets."""

    def __init__(
        self,
        vgg: VGG19Features,
        options: OptimizeOptions,
        content: torch.Tensor,
        styles: Sequence[torch.Tensor],
        blend: Sequence[float],
    ):
        self.vgg, self.options = vgg, options
        with torch.no_grad():
            self.content_target = vgg(content)[options.content_layer].detach()
            grams: dict[str, torch.Tensor] = {}
            for style, weight in zip(styles, blend):
                features = vgg(style)
                for layer in options.style_layers:
                    grams[layer] = grams.get(layer, 0) + weight * gram_matrix(features[layer])
                del features
        self.style_targets = grams
        self.style_norms = {layer: gram.pow(2).sum() for layer, gram in grams.items()}

    def terms(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(total, content, style, tv) as tensors, differentiable in ``image``."""
        opts = self.options
        features = self.vgg(image)
        content = relative_distance(features[opts.content_layer], self.content_target).mean()
        grams = {layer: gram_matrix(features[layer]) for layer in opts.style_layers}
        style = style_distance(grams, self.style_targets, opts.style_layers, self.style_norms).mean()
        tv = total_variation(image)
        total = opts.content_weight * content + opts.style_weight * style + opts.tv_weight * tv
        if opts.range_weight:
            total = total + opts.range_weight * out_of_range(image)
        return total, content, style, tv

    @torch.no_grad()
    def evaluate(self, image: torch.Tensor) -> LossTerms:
        return _as_terms(*self.terms(image))


def out_of_range(image: torch.Tensor) -> torch.Tensor:
    """Mean squared excursion of the pixels outside [0, 1]: keeps L-BFGS's unconstrained pixels savable."""
    return (F.relu(image - 1) ** 2 + F.relu(-image) ** 2).mean()


def _as_terms(total: torch.Tensor, content: torch.Tensor, style: torch.Tensor, tv: torch.Tensor) -> LossTerms:
    values = [float(t.detach()) for t in (total, content, style, tv)]
    return LossTerms(total=values[0], content=values[1], style=values[2], tv=values[3])


# ----------------------------------------------------------------------------------------------
# Colour handling


def _luminance_image(image: torch.Tensor) -> torch.Tensor:
    return color.luminance(image).expand(-1, 3, -1, -1).contiguous()


def _match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Style luminance with the content's luminance mean and deviation (Gatys et al. 2016, §3)."""
    ys, yc = color.luminance(style), color.luminance(content)
    matched = (ys - ys.mean()) * (yc.std() / ys.std().clamp_min(1e-6)) + yc.mean()
    return matched.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def prepare_colors(
    content: torch.Tensor, styles: list[torch.Tensor], mode: str | None
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The content and styles the optimizer works on: as given, luminance-only, or style colours matched."""
    if mode == "luminance":
        return _luminance_image(content), [_match_luminance(style, content) for style in styles]
    if mode == "histogram":
        return content, [color.match_histogram(style, content).clamp(0, 1) for style in styles]
    return content, styles


def finish_colors(image: torch.Tensor, content: torch.Tensor, mode: str | None) -> torch.Tensor:
    """Luminance mode: put the content's colours back around the optimized luminance."""
    if mode == "luminance":
        return color.preserve_color(image, resize(content, tuple(image.shape[-2:])))
    return image


# ----------------------------------------------------------------------------------------------
# The optimization


def normalize_blend(n_styles: int, weights: Sequence[float] | None) -> list[float]:
    """Blend weights summing to one (equal when none are given)."""
    if weights is None:
        return [1.0 / n_styles] * n_styles
    if len(weights) != n_styles:
        raise InputError(f"{len(weights)} style weights given for {n_styles} style images")
    if any(w < 0 for w in weights) or not sum(weights) > 0:
        raise InputError(f"style weights must be non-negative and not all zero, got {list(weights)}")
    total = float(sum(weights))
    return [w / total for w in weights]


def initial_image(options: OptimizeOptions, content: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The starting pixels at the first scale: the content, seeded uniform noise, or a given image."""
    if isinstance(options.init, str) and options.init == "content":
        return content.clone()
    if isinstance(options.init, str) and options.init == "noise":
        generator = torch.Generator().manual_seed(options.seed)
        return torch.rand((1, 3, *size), generator=generator)
    start = to_image_tensor(options.init, "--init image")
    if options.preserve_color == "luminance":
        start = _luminance_image(start)
    return resize(start, size)


def _make_optimizer(options: OptimizeOptions, image: torch.Tensor, iterations: int) -> torch.optim.Optimizer:
    if options.optimizer == "adam":
        return torch.optim.Adam([image], lr=options.lr)
    # Tolerances are off: the objective's absolute scale says nothing about convergence, and the
    # iteration budget bounds the run. Line searches may spend up to one extra evaluation per iteration.
    return torch.optim.LBFGS(
        [image],
        lr=options.lr,
        max_iter=iterations,
        max_eval=2 * iterations,
        history_size=options.history_size,
        tolerance_grad=0.0,
        tolerance_change=0.0,
        line_search_fn="strong_wolfe",
    )


class _NonFinite(Exception):
    """The loss became NaN or infinite; the best image so far is kept."""


class _Tracker:
    """Records every evaluation, keeps the best image seen, drives the progress bar and callback."""

    def __init__(self, size: int, started: float, history: list[StepRecord], callback, progress, image):
        self.size, self.started, self.history = size, started, history
        self.callback, self.progress = callback, progress
        self.best, self.best_total, self.iteration = image.detach().clone(), math.inf, 0

    def record(self, iteration: int, terms: LossTerms, image: torch.Tensor) -> None:
        if terms.total < self.best_total:
            self.best.copy_(image.detach())
            self.best_total = terms.total
        record = StepRecord(self.size, iteration, time.perf_counter() - self.started, terms)
        self.history.append(record)
        if self.progress is not None and iteration > self.iteration:
            self.progress.update(iteration - self.iteration)
            self.progress.set_postfix_str(f"{self.size}px {terms.describe()}", refresh=True)
        self.iteration = max(self.iteration, iteration)
        if self.callback is not None:
            self.callback(record, self.best)


def _run_scale(
    objective: Objective, image: torch.Tensor, options: OptimizeOptions, iterations: int, tracker: _Tracker
) -> tuple[torch.Tensor, str | None]:
    """Optimize ``image`` at one scale; returns the best image seen and a note when it stopped early.

    L-BFGS runs all its iterations inside one ``step`` (a step per iteration would re-evaluate the
    accepted point every time); its iteration counter is read from the optimizer's state.
    """
    image.requires_grad_(True)
    optimizer = _make_optimizer(options, image, iterations)
    pixel_scale = float(image.numel()) if options.loss_scale is None else options.loss_scale
    adam_steps = [0]

    def current_iteration() -> int:
        if options.optimizer == "adam":
            return adam_steps[0]
        return int(optimizer.state[image].get("n_iter", 0))

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        total, content, style, tv = objective.terms(image)
        terms = _as_terms(total, content, style, tv)
        if not math.isfinite(terms.total):
            raise _NonFinite
        (total * pixel_scale).backward()
        tracker.record(current_iteration(), terms, image)
        return total.detach() * pixel_scale

    try:
        if options.optimizer == "lbfgs":
            if iterations:
                optimizer.step(closure)
        else:
            for step in range(1, iterations + 1):
                adam_steps[0] = step
                optimizer.step(closure)
                with torch.no_grad():
                    image.clamp_(0, 1)
    except _NonFinite:
        return tracker.best, f"stopped at {tracker.size} px, iteration {current_iteration()}: the loss became non-finite"
    if options.optimizer == "lbfgs" and 0 < current_iteration() < iterations:
        return tracker.best, f"L-BFGS converged at {tracker.size} px after {current_iteration()} of {iterations} iterations"
    return tracker.best, None


def optimize_image(
    content: ImageLike,
    style_images: ImageLike | Sequence[ImageLike],
    options: OptimizeOptions | None = None,
    *,
    callback: StepCallback | None = None,
    progress: bool = False,
) -> OptimizeResult:
    """Stylize ``content`` with ``style_images`` by Gatys optimization; see :class:`OptimizeOptions`.

    ``content`` and each style image are a path, a uint8 (H, W, 3) RGB array or a float
    (1, 3, H, W) RGB [0, 1] tensor. Several style images are blended by ``options.style_blend``.
    """
    options = options or OptimizeOptions()
    if isinstance(style_images, (str, Path, np.ndarray, torch.Tensor)):
        style_images = [style_images]
    if not style_images:
        raise InputError("no style image given")
    blend = normalize_blend(len(style_images), options.style_blend)
    schedule = options.schedule()
    device = select_device(options.device)
    source = to_image_tensor(content, "content image")
    styles_full = [to_image_tensor(style, "style image") for style in style_images]
    height, width = source.shape[-2:]
    if options.check_memory:
        check_memory(height, width, options, device, len(styles_full))

    vgg = VGG19Features((options.content_layer, *options.style_layers), pooling=options.pooling).to(device)
    history: list[StepRecord] = []
    notes: list[str] = []
    started = time.perf_counter()
    image: torch.Tensor | None = None
    bar = _progress_bar(sum(n for _, n in schedule)) if progress else None
    try:
        for size, iterations in schedule:
            shape = fit_long_side(height, width, size)
            content_s = resize(source, shape)
            style_shapes = [fit_long_side(*s.shape[-2:], round(size * options.style_scale)) for s in styles_full]
            styles_s = [resize(s, sh) for s, sh in zip(styles_full, style_shapes)]
            content_s, styles_s = prepare_colors(content_s, styles_s, options.preserve_color)
            objective = Objective(vgg, options, content_s.to(device), [s.to(device) for s in styles_s], blend)
            if image is None:
                image = initial_image(options, content_s, shape)
            else:
                image = F.interpolate(image, size=shape, mode="bicubic", align_corners=False)
            image = image.to(device).detach().contiguous()
            tracker = _Tracker(size, started, history, callback, bar, image)
            image, note = _run_scale(objective, image, options, iterations, tracker)
            if note:
                notes.append(note)
    finally:
        if bar is not None:
            bar.close()

    assert image is not None
    final = image.detach()
    losses = objective.evaluate(final)
    output = finish_colors(final.cpu(), source, options.preserve_color)
    saved = to_image_tensor(tensor_to_image(output))
    if options.preserve_color == "luminance":
        saved = _luminance_image(saved)
    saved_losses = objective.evaluate(saved.to(device))
    return OptimizeResult(
        image=output,
        losses=losses,
        saved_losses=saved_losses,
        history=history,
        seconds=time.perf_counter() - started,
        device=str(device),
        notes=notes,
    )


def _progress_bar(total: int):
    """A bar on a terminal, a line every few seconds when stderr is a file or a pipe."""
    from realtime_style.progress import Progress

    return Progress("optimize", total, unit="iteration")
