"""Perceptual losses on VGG19 features: Gram matrices, content, style and total-variation terms.

Used by Gatys optimization (optimize.py), by training (training/) and by the evaluation metrics.
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


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of feature maps."""
    return torch.mean((features.float() - target.float()) ** 2)


def style_loss(
    features: Mapping[str, torch.Tensor], target_grams: Mapping[str, torch.Tensor], layers: Sequence[str]
) -> torch.Tensor:
    """Sum over layers of the squared Frobenius distance between Gram matrices (mean over batch).

    ``target_grams[layer]`` may have batch size 1; it broadcasts over the batch.
    """
    total = torch.zeros((), device=next(iter(features.values())).device)
    for layer in layers:
        gram = gram_matrix(features[layer])
        total = total + torch.sum((gram - target_grams[layer]) ** 2) / gram.shape[0]
    return total


def relative_gram_distance(features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """‖G(x) − G(target)‖² / ‖G(target)‖² per batch item: a scale-free style distance."""
    gram = gram_matrix(features)
    return torch.sum((gram - target_gram) ** 2, dim=(1, 2)) / torch.sum(target_gram**2, dim=(1, 2))


def relative_feature_distance(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """‖F(x) − F(target)‖² / ‖F(target)‖² per batch item: a scale-free content distance."""
    diff = (features.float() - target.float()).flatten(1)
    return diff.pow(2).sum(1) / target.float().flatten(1).pow(2).sum(1)


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels (smoothness prior)."""
    dx = images[..., :, 1:] - images[..., :, :-1]
    dy = images[..., 1:, :] - images[..., :-1, :]
    return dx.float().pow(2).mean() + dy.float().pow(2).mean()
