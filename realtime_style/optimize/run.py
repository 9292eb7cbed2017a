"""The optimization itself: each scale of the schedule, coarse to fine, with L-BFGS or Adam."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from realtime_style.errors import InputError
from realtime_style.image_tensors import tensor_to_image
from realtime_style.models.vgg import VGG19Features
from realtime_style.optimize.colors import finish_colors, luminance_image, prepare_colors
from realtime_style.optimize.memory import check_memory
from realtime_style.optimize.objective import LossTerms, Objective, as_terms
from realtime_style.optimize.options import ImageLike, OptimizeOptions
from realtime_style.optimize.pictures import fit_long_side, resize, to_image_tensor
from realtime_style.runtime.engine import select_device


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
        start = luminance_image(start)
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
        terms = as_terms(total, content, style, tv)
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
        saved = luminance_image(saved)
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
