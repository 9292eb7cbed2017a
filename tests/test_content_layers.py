"""--content-layer relu4_2,relu2_2:0.2: a deep content term plus weighted others, recorded with the recipe and resumed."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from PIL import Image

from realtime_style.errors import InputError
from realtime_style.training.cli import add_train_arguments, config_from_args, parse_content_layers
from realtime_style.training.config import Phase, TrainOptions
from realtime_style.training.loss import LossWeights, PerceptualLoss


def test_the_content_term_adds_each_layer_at_its_weight():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    style, photo, output = torch.rand(3, 48, 48), torch.rand(1, 3, 48, 48), torch.rand(1, 3, 48, 48)
    cpu = torch.device("cpu")
    deep = PerceptualLoss(style, LossWeights(content_layer="relu4_2", content_weight=2.0), cpu)
    shallow = PerceptualLoss(style, LossWeights(content_layer="relu2_2", content_weight=2.0), cpu)
    both = PerceptualLoss(
        style, LossWeights(content_layer="relu4_2", extra_content_layers=(("relu2_2", 0.25),), content_weight=2.0), cpu
    )
    with torch.no_grad():
        terms = both(output, both.content_targets(photo))
        expected = deep(output, deep.content_targets(photo))["content"] + 0.25 * shallow(
            output, shallow.content_targets(photo)
        )["content"]
        torch.testing.assert_close(terms["content"], expected)
        torch.testing.assert_close(terms["style"], deep(output, deep.content_targets(photo))["style"])


def test_parse_content_layers():
    assert parse_content_layers("relu4_2") == ("relu4_2", ())
    assert parse_content_layers("relu4_2, relu2_2:0.2") == ("relu4_2", (("relu2_2", 0.2),))
    assert parse_content_layers("relu4_2,relu2_2") == ("relu4_2", (("relu2_2", 1.0),))
    for bad, message in [
        ("relu4_2:2,relu2_2:0.2", "first layer weighs 1"),
        ("relu4_2,relu4_2:0.5", "named twice"),
        ("relu4_2,relu2_2:-1", "0 or more"),
        ("", "no layer"),
    ]:
        with pytest.raises(InputError, match=message):
            parse_content_layers(bad)


def test_a_content_layer_named_twice_is_refused_by_the_weights_too():
    with pytest.raises(ValueError, match="named twice"):
        LossWeights(content_layer="relu2_2", extra_content_layers=(("relu2_2", 0.5),))


def test_extra_content_layers_are_recorded_and_resumed_and_absent_when_unused():
    config = TrainOptions(style_image="s.jpg", dataset="d", out="o", run_dir="r", schedule=(Phase(64, 10),))
    assert "extra_content_layers" not in config.to_json()  # runs without them read as before the option
    mixed = replace(config, weights=LossWeights(content_layer="relu4_2", extra_content_layers=(("relu2_2", 0.2),)))
    assert TrainOptions.from_json(mixed.to_json()).weights == mixed.weights
    assert mixed.recipe()["extra_content_layers"] == [["relu2_2", 0.2]]


def test_the_command_line_reaches_the_weights_and_refuses_unknown_layers(tmp_path: Path):
    style = tmp_path / "style.png"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(style)
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    argv = ["--style-image", str(style), "--dataset", str(tmp_path), "--out", str(tmp_path / "m.safetensors")]
    config, _ = config_from_args(parser.parse_args([*argv, "--content-layer", "relu4_2,relu2_2:0.2"]))
    assert config.weights.content_layers == ("relu4_2", "relu2_2")
    with pytest.raises(InputError, match="unknown VGG19 layer"):
        config_from_args(parser.parse_args([*argv, "--content-layer", "relu4_2,relu9_9:0.2"]))
