"""One definition of the perceptual distances: training's loss and the style metric agree on the same images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from realtime_style.losses import CONTENT_LAYER, STYLE_LAYERS, gram_matrix
from realtime_style.metrics.style import StyleMetric
from realtime_style.training.loss import LossWeights, PerceptualLoss


@pytest.fixture(scope="module")
def images() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {"style": torch.rand(1, 3, 40, 56), "photo": torch.rand(1, 3, 48, 48), "output": torch.rand(1, 3, 48, 48)}


def test_trainings_loss_terms_are_the_metrics_distances(images):
    torch.set_num_threads(1)
    metric = StyleMetric()
    style, photo, output = (metric.stats(images[k]) for k in ("style", "photo", "output"))
    loss = PerceptualLoss(images["style"][0], LossWeights(content_layer=CONTENT_LAYER, style_weight=1.0), torch.device("cpu"))
    with torch.no_grad():
        terms = loss(images["output"], loss.content_targets(images["photo"]))
    assert float(terms["style"]) == pytest.approx(metric.style_distance(output, style), rel=1e-5)
    assert float(terms["content"]) == pytest.approx(metric.content_distance(output, photo), rel=1e-5)


def test_the_metrics_figures_are_the_formula_they_always_were(images):
    """‖G(x) − G(s)‖² / ‖G(s)‖² per layer, averaged in float64; ‖F(x) − F(p)‖² / ‖F(p)‖²: bit for bit."""
    torch.set_num_threads(1)
    metric = StyleMetric()
    features = {k: metric.extractor(v) for k, v in images.items()}
    per_layer = []
    for layer in STYLE_LAYERS:
        g, s = gram_matrix(features["output"][layer]), gram_matrix(features["style"][layer])
        per_layer.append(float(((g - s).flatten(1).pow(2).sum(1) / s.flatten(1).pow(2).sum(1)).item()))
    f, p = features["output"][CONTENT_LAYER], features["photo"][CONTENT_LAYER]
    content = float(((f - p).flatten(1).pow(2).sum(1) / p.flatten(1).pow(2).sum(1)).item())
    style, photo, output = (metric.stats(images[k]) for k in ("style", "photo", "output"))
    assert metric.style_distance(output, style) == float(np.mean(per_layer))
    assert metric.content_distance(output, photo) == content
