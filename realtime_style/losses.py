"""Perceptual losses on VGG19 features: Gram matrices, the relative content and style distances, total variation.

The one definition used by training (training/loss.py), Gatys optimization (optimize/) and the style
metric (metrics/style.py): what the metric scores is what training and ``--optimize`` minimize.
Every term is a plain function of tensors so that the three users compose them as they need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

#: Style layers of Gatys et al. and of the evaluation metric.
STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: Content layer of Gatys et al. and of the evaluation metric.
CONTENT_LAYER = "relu4_2"


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """G = F Fᵀ / (C·H·W) for features (N, C, H, W) -> (N, C, C), computed in float32.

    Under CPU autocast the product runs in the autocast dtype whatever its inputs (bmm is on autocast's
    lower-precision list), so the features go in as they are: a float32 copy would be cast straight back.
    Channels-last features are read through a view (N, H·W, C) instead of being copied to (N, C, H·W).
    """
    n, c, h, w = features.shape
    if not torch.is_autocast_enabled(features.device.type):
        features = features.float()
    if c > 1 and features.is_contiguous(memory_format=torch.channels_last):
        flat = features.permute(0, 2, 3, 1).reshape(n, h * w, c)  # a view of channels-last memory
        return torch.bmm(flat.transpose(1, 2), flat) / (c * h * w)
    flat = features.reshape(n, c, h * w)
    return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)


def relative_distance(x: torch.Tensor, target: torch.Tensor, target_norm: torch.Tensor | None = None) -> torch.Tensor:
    """‖x − target‖² / ‖target‖² per batch item, in float32: a scale-free distance of features or Gram matrices.

    ``target`` may have batch size 1 (it broadcasts); ``target_norm`` is ‖target‖² when already known.
    """
    diff = (x.float() - target.float()).flatten(1)
    if target_norm is None:
        target_norm = target.float().flatten(1).pow(2).sum(1)
    return diff.pow(2).sum(1) / target_norm


def style_distances(
    grams: Mapping[str, torch.Tensor],
    target_grams: Mapping[str, torch.Tensor],
    layers: Sequence[str],
    target_norms: Mapping[str, torch.Tensor] | None = None,
) -> list[torch.Tensor]:
    """Per layer, the relative Gram distance per batch item (the style distance is their mean over layers)."""
    return [
        relative_distance(grams[layer], target_grams[layer], target_norms[layer] if target_norms else None)
        for layer in layers
    ]


def style_distance(
    grams: Mapping[str, torch.Tensor],
    target_grams: Mapping[str, torch.Tensor],
    layers: Sequence[str],
    target_norms: Mapping[str, torch.Tensor] | None = None,
    layer_weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """Mean over ``layers`` of ‖G(x) − G(target)‖² / ‖G(target)‖², per batch item; with ``layer_weights``
    (one per layer), their weighted mean."""
    distances = torch.stack(style_distances(grams, target_grams, layers, target_norms))
    if not layer_weights:
        return distances.mean(0)
    weights = distances.new_tensor(layer_weights).view(-1, *([1] * (distances.dim() - 1)))
    return (distances * weights).sum(0) / weights.sum()


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels (smoothness prior)."""
    dx = images[..., :, 1:] - images[..., :, :-1]
    dy = images[..., 1:, :] - images[..., :-1, :]
    return dx.float().pow(2).mean() + dy.float().pow(2).mean()
