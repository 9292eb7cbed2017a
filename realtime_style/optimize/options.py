"""What shapes one optimization: :class:`OptimizeOptions`, its choices and its coarse-to-fine schedule."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from realtime_style.losses import CONTENT_LAYER, STYLE_LAYERS
from realtime_style.models.vgg import LAYER_NAMES

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

