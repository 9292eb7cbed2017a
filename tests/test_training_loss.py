"""With --clamp-output the perceptual loss scores what users see: the output clamped to [0, 1], gradients straight through."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from realtime_style.training.config import Phase, TrainOptions
from realtime_style.training.loss import LossWeights, PerceptualLoss, as_displayed


def test_as_displayed_clamps_forward_and_passes_gradients_straight_through():
    images = torch.tensor([-0.5, 0.25, 1.5], requires_grad=True)
    shown = as_displayed(images)
    assert shown.tolist() == [0.0, 0.25, 1.0]
    (shown * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert images.grad.tolist() == [1.0, 2.0, 3.0]  # a plain clamp would give the overshooting pixels 0


@pytest.fixture(scope="module")
def overshooting_output() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(1, 3, 48, 48) * 1.6 - 0.3  # about a third of the values outside [0, 1]


def test_the_clamped_loss_scores_the_clamped_output(overshooting_output):
    torch.set_num_threads(1)
    style, photo = torch.rand(3, 48, 48), torch.rand(1, 3, 48, 48)
    clamped_loss = PerceptualLoss(style, LossWeights(content_layer="relu4_2", clamp_output=True), torch.device("cpu"))
    raw_loss = PerceptualLoss(style, LossWeights(content_layer="relu4_2"), torch.device("cpu"))
    target = clamped_loss.content_targets(photo)
    with torch.no_grad():
        clamped = clamped_loss(overshooting_output, target)
        reference = raw_loss(overshooting_output.clamp(0, 1), target)
        unclamped = raw_loss(overshooting_output, target)
    for term in ("content", "style"):
        torch.testing.assert_close(clamped[term], reference[term])
        assert abs(clamped[term] - unclamped[term]) > 1e-3 * unclamped[term], term


def test_recipes_record_the_clamp_only_when_on():
    config = TrainOptions(style_image="s.jpg", dataset="d", out="o", run_dir="r", schedule=(Phase(64, 10),))
    assert "clamp_output" not in config.recipe()  # recipes of runs without it read as before the option
    clamped = replace(config, weights=LossWeights(clamp_output=True))
    assert clamped.recipe()["clamp_output"] is True
    assert TrainOptions.from_json(clamped.to_json()).weights.clamp_output is True
