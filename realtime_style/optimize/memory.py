"""Memory before anything is allocated: the peak an optimization size needs, and a refusal naming the size that fits."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from realtime_style.errors import InputError
from realtime_style.models.vgg import LAYER_NAMES
from realtime_style.optimize.options import MIN_SCALE, OptimizeOptions
from realtime_style.optimize.pictures import fit_long_side


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
