"""--style-layers relu2_1,relu4_1:8: per-layer weights in the style mean, recorded with the recipe and resumed."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from realtime_style.errors import InputError
from realtime_style.losses import gram_matrix, relative_distance, style_distance
from realtime_style.training.cli import parse_layers
from realtime_style.training.config import Phase, TrainOptions
from realtime_style.training.loss import LossWeights, PerceptualLoss


def test_weighted_style_distance_is_the_weighted_mean_per_item():
    torch.manual_seed(0)
    grams = {name: gram_matrix(torch.rand(2, 4, 6, 6)) for name in ("a", "b")}
    targets = {name: gram_matrix(torch.rand(1, 4, 6, 6)) for name in ("a", "b")}
    a, b = (relative_distance(grams[n], targets[n]) for n in ("a", "b"))
    torch.testing.assert_close(style_distance(grams, targets, ["a", "b"], layer_weights=[1.0, 3.0]), (a + 3 * b) / 4)
    torch.testing.assert_close(style_distance(grams, targets, ["a", "b"]), (a + b) / 2)


def test_the_loss_uses_the_weights():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    style, photo, output = torch.rand(3, 48, 48), torch.rand(1, 3, 48, 48), torch.rand(1, 3, 48, 48)
    layers = ("relu1_1", "relu3_1")
    plain = PerceptualLoss(style, LossWeights(content_layer="relu2_2", style_layers=layers), torch.device("cpu"))
    only_deep = PerceptualLoss(
        style, LossWeights(content_layer="relu2_2", style_layers=layers, style_layer_weights=(0.0, 1.0)), torch.device("cpu")
    )
    deep = PerceptualLoss(style, LossWeights(content_layer="relu2_2", style_layers=("relu3_1",)), torch.device("cpu"))
    target = plain.content_targets(photo)
    with torch.no_grad():
        torch.testing.assert_close(only_deep(output, target)["style"], deep(output, target)["style"])
        assert abs(plain(output, target)["style"] - deep(output, target)["style"]) > 1e-3


def test_parse_layers():
    assert parse_layers("relu1_1, relu2_1", "--style-layers") == (("relu1_1", "relu2_1"), ())
    assert parse_layers("relu2_1,relu4_1:8", "--style-layers") == (("relu2_1", "relu4_1"), (1.0, 8.0))
    for bad, message in [("relu4_1:x", "not a number"), ("relu4_1:-1", "0 or more"), ("relu4_1:0", "every weight is 0"), (",", "no layer"), ("relu4_1,relu4_1:2", "named twice")]:
        with pytest.raises(InputError, match=message):
            parse_layers(bad, "--style-layers")


def test_weights_must_match_the_layers():
    with pytest.raises(ValueError, match="2 style layer weights for 5"):
        LossWeights(style_layer_weights=(1.0, 2.0))


def test_the_weights_are_recorded_and_resumed_and_absent_when_unused():
    config = TrainOptions(style_image="s.jpg", dataset="d", out="o", run_dir="r", schedule=(Phase(64, 10),))
    assert "style_layer_weights" not in config.to_json()  # runs without weights read as before the option
    weighted = replace(config, weights=LossWeights(style_layers=("relu2_1", "relu4_1"), style_layer_weights=(1.0, 8.0)))
    assert TrainOptions.from_json(weighted.to_json()).weights == weighted.weights
