"""Gatys optimization (realtime_style.optimize): small images on the CPU, few iterations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from media_helpers import single_thread  # noqa: F401 - fixture
from optimize_helpers import checker, stripes, synthetic_content

from realtime_style.runtime import color
from realtime_style.errors import InputError
from realtime_style.optimize import (
    MEMORY_BASE,
    OptimizeOptions,
    auto_scales,
    check_memory,
    estimate_memory,
    largest_fitting_size,
    optimize_image,
    to_image_tensor,
)

SIZE = 64


@pytest.fixture(autouse=True)
def one_thread(single_thread) -> None:  # noqa: F811 - the fixture from media_helpers
    """One torch thread: far faster than two on the shared, loaded CI machines."""


def small(**overrides) -> OptimizeOptions:
    return OptimizeOptions(**{"size": SIZE, "iterations": 10, "device": "cpu", **overrides})


def test_lbfgs_total_loss_falls() -> None:
    result = optimize_image(synthetic_content(), stripes(True, (230, 40, 40)), small(iterations=8))
    totals = [r.losses.total for r in result.history]
    assert totals[-1] < 0.85 * totals[0]
    assert result.losses.total <= min(totals) * (1 + 1e-5)
    assert result.image.shape == (1, 3, 48, 64)


def test_adam_total_loss_falls_and_stays_in_range() -> None:
    result = optimize_image(synthetic_content(), stripes(True, (230, 40, 40)), small(optimizer="adam", iterations=15))
    totals = [r.losses.total for r in result.history]
    assert totals[-1] < 0.8 * totals[0]
    assert 0.0 <= float(result.image.min()) and float(result.image.max()) <= 1.0


def test_saving_costs_little_and_is_reported() -> None:
    """Pixels are kept near [0, 1] during L-BFGS, so clipping + 8-bit quantization barely moves the loss."""
    result = optimize_image(synthetic_content(), checker((30, 60, 220)), small(iterations=8))
    assert result.saved_losses.total == pytest.approx(result.losses.total, rel=0.05)
    saved = result.to_uint8()
    assert saved.dtype == np.uint8 and saved.shape == (48, 64, 3)


def test_noise_init_is_repeatable_with_a_seed() -> None:
    config = small(init="noise", iterations=2, seed=7)
    first = optimize_image(synthetic_content(), checker((30, 60, 220)), config)
    second = optimize_image(synthetic_content(), checker((30, 60, 220)), config)
    other = optimize_image(synthetic_content(), checker((30, 60, 220)), small(init="noise", iterations=2, seed=8))
    assert torch.equal(first.image, second.image)
    assert not torch.equal(first.image, other.image)


def test_luminance_preservation_keeps_the_content_chroma() -> None:
    content = synthetic_content()
    result = optimize_image(content, stripes(False, (40, 220, 60)), small(iterations=6, preserve_color="luminance"))
    original = to_image_tensor(content)
    out = result.image.clamp(0, 1)
    chroma = lambda x: x - color.luminance(x)  # noqa: E731 - R-Y, G-Y, B-Y
    inside = ((result.image >= 0) & (result.image <= 1)).all(1, keepdim=True).expand(-1, 3, -1, -1)
    assert inside.float().mean() > 0.9
    assert torch.allclose(chroma(out)[inside], chroma(original)[inside], atol=1e-4)
    # ... while the style acted on the luminance.
    assert result.history[-1].losses.style < 0.95 * result.history[0].losses.style
    assert float((color.luminance(out) - color.luminance(original)).abs().max()) > 0.05


def test_histogram_preservation_keeps_the_content_palette() -> None:
    content = synthetic_content()
    style = stripes(False, (40, 220, 60))
    plain = optimize_image(content, style, small(iterations=6))
    matched = optimize_image(content, style, small(iterations=6, preserve_color="histogram"))
    target = to_image_tensor(content).mean((0, 2, 3))

    def colour_error(result) -> float:
        return float((result.image.clamp(0, 1).mean((0, 2, 3)) - target).abs().sum())

    assert colour_error(matched) < 0.5 * colour_error(plain)


def test_multi_scale_schedule_runs_coarse_to_fine() -> None:
    config = small(size=128, scales=(64, 128), iterations=(4, 2))
    result = optimize_image(synthetic_content(), checker((30, 60, 220)), config)
    sizes = [r.size for r in result.history]
    assert sizes[0] == 64 and sizes[-1] == 128 and sizes == sorted(sizes)
    assert result.image.shape[-1] == 128
    assert auto_scales(2048) == (512, 1024, 2048) and auto_scales(1024) == (512, 1024) and auto_scales(512) == (512,)


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(ValueError, match="increase"):
        small(scales=(96, 48)).schedule()
    with pytest.raises(ValueError, match="iteration counts"):
        small(scales=(64, 128), iterations=(1, 2, 3)).schedule()
    with pytest.raises(ValueError, match="optimizer"):
        small(optimizer="sgd")
    with pytest.raises(InputError, match="style weights"):
        optimize_image(synthetic_content(), [checker((1, 2, 3))], small(style_blend=(0.5, 0.5)))


def test_memory_estimate_scales_with_pixels_and_refuses_what_cannot_fit() -> None:
    config = OptimizeOptions(size=4096)
    small_bytes = estimate_memory(512, 512, config)
    large_bytes = estimate_memory(1024, 1024, config)
    assert 3.5 < (large_bytes - MEMORY_BASE) / (small_bytes - MEMORY_BASE) < 4.5
    budget = 4 * 2**30
    fits = largest_fitting_size(3000, 4000, config, budget)
    assert 512 < fits < 4096
    with pytest.raises(InputError, match=r"needs about .* GiB .* largest size that fits is about \d+ px"):
        check_memory(3000, 4000, config, torch.device("cpu"), available=budget)
    assert check_memory(3000, 4000, OptimizeOptions(size=256), torch.device("cpu"), available=budget) < budget
