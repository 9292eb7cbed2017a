"""Gatys optimization on real photos and paintings (../shared/data) and multi-style blending."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from media_helpers import single_thread  # noqa: F401 - fixture
from optimize_helpers import checker, stripes, style_distance, synthetic_content

from realtime_style.losses import STYLE_LAYERS
from realtime_style.media.images import StillImage, read_image, write_image
from realtime_style.models.vgg import VGG19Features
from realtime_style.optimize import OptimizeOptions, fit_long_side, optimize_image, resize, to_image_tensor

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def vgg() -> VGG19Features:
    return VGG19Features(STYLE_LAYERS)


@pytest.fixture(autouse=True)
def one_thread(single_thread) -> None:  # noqa: F811 - the fixture from media_helpers
    """One torch thread: far faster than two on the shared, loaded CI machines."""


def test_candy_moves_the_photo_far_towards_the_style(shared_data: Path, vgg: VGG19Features) -> None:
    """Candy is the style on which scale-free losses used to stall L-BFGS at the initial image."""
    photo = read_image(shared_data / "content" / "nst_classics" / "tubingen.jpg").rgb
    style_path = shared_data / "styles" / "candy.jpg"
    config = OptimizeOptions(size=96, iterations=20, device="cpu")
    result = optimize_image(photo, style_path, config)
    style = read_image(style_path).rgb
    out = result.to_uint8()
    shape = fit_long_side(*photo.shape[:2], 96)
    photo_small = resize(to_image_tensor(photo), shape)
    style_small = resize(to_image_tensor(style), fit_long_side(*style.shape[:2], 96))
    before = style_distance(vgg, photo_small, style_small)
    after = style_distance(vgg, out, style_small)
    assert after < 0.3 * before, (before, after)
    assert result.losses.content < 2.0  # still the photo, not a texture
    assert len(result.history) >= 20  # it moved: no stall at the initial image


def test_blend_weights_move_the_result_between_two_styles(vgg: VGG19Features) -> None:
    content = synthetic_content()
    red = stripes(True, (230, 40, 40))
    blue = checker((30, 60, 220))
    distances = []
    for weights in ((1.0, 0.0), (0.5, 0.5), (0.0, 1.0)):
        config = OptimizeOptions(size=64, iterations=10, style_blend=weights, device="cpu")
        out = optimize_image(content, [red, blue], config).to_uint8()
        distances.append((style_distance(vgg, out, red), style_distance(vgg, out, blue)))
    to_red = [d[0] for d in distances]
    to_blue = [d[1] for d in distances]
    assert to_red[0] < to_red[1] < to_red[2], to_red
    assert to_blue[0] > to_blue[1] > to_blue[2], to_blue


def test_uint8_style_and_content_arrays_and_paths_agree(tmp_path: Path) -> None:
    content, style = synthetic_content(), checker((30, 60, 220))
    write_image(tmp_path / "c.png", StillImage(rgb=content))
    write_image(tmp_path / "s.png", StillImage(rgb=style))
    config = OptimizeOptions(size=64, iterations=2, device="cpu")
    from_arrays = optimize_image(content, style, config)
    from_paths = optimize_image(tmp_path / "c.png", [tmp_path / "s.png"], config)
    assert np.array_equal(from_arrays.to_uint8(), from_paths.to_uint8())
