"""Stability loss: the network's output should change little when its input changes little.

In the spirit of Ruder et al. (2016) and ReCoNet (Gao et al. 2018), without video data: each
training photo is moved by a small random shift and zoom (a known motion, standing in for the
optical flow between two video frames) and given a little Gaussian noise (sensor noise, codec
noise). The stylization of the moved photo must then equal the stylization of the photo moved
the same way: ``‖net(T(x) + n) − T(net(x))‖²`` over the pixels that ``T`` keeps inside the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class StabilityOptions:
    """Size of the random perturbations (noise in RGB [0, 1] units, shift in pixels, zoom as a fraction)."""

    noise_std: float = 0.02
    max_shift: float = 2.0
    max_zoom: float = 0.02


def random_affine(batch: int, height: int, width: int, config: StabilityOptions, generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, 2, 3) affine matrices for :func:`torch.nn.functional.affine_grid`: a zoom about the centre and a shift."""
    uniform = lambda *shape: torch.rand(*shape, generator=generator) * 2 - 1  # noqa: E731  U(-1, 1)
    scale = 1.0 + config.max_zoom * uniform(batch)
    # affine_grid works in [-1, 1] coordinates: a shift of s pixels is 2·s / size.
    shift_x = uniform(batch) * config.max_shift * 2 / width
    shift_y = uniform(batch) * config.max_shift * 2 / height
    theta = torch.zeros(batch, 2, 3)
    theta[:, 0, 0] = scale
    theta[:, 1, 1] = scale
    theta[:, 0, 2] = shift_x
    theta[:, 1, 2] = shift_y
    return theta


def transform(images: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Resample images (N, C, H, W) by ``theta``; also returns the (N, 1, H, W) mask of pixels taken from inside."""
    grid = F.affine_grid(theta.to(images.device, torch.float32), list(images.shape), align_corners=False)
    moved = F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    inside = (grid.abs() <= 1.0).all(dim=-1, keepdim=True).permute(0, 3, 1, 2).to(moved.dtype)
    return moved.to(images.dtype), inside


def stability_loss(
    net: nn.Module,
    photos: torch.Tensor,
    outputs: torch.Tensor,
    config: StabilityOptions = StabilityOptions(),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean squared difference between ``net(T(photos) + noise)`` and ``T(outputs)``, inside the frame.

    ``photos`` are the training batch (RGB [0, 1]); ``outputs`` are ``net(photos)`` from the main
    loss (reused, with its graph, so gradients flow through both branches as in Ruder et al.). One
    extra forward pass of ``net``. ``generator`` makes the perturbations reproducible.
    """
    n, _, h, w = photos.shape
    theta = random_affine(n, h, w, config, generator)
    moved_photos, inside = transform(photos, theta)
    noise = torch.randn(moved_photos.shape, generator=generator).to(photos.device, photos.dtype) * config.noise_std
    perturbed = (moved_photos + noise).clamp(0.0, 1.0)
    moved_outputs, _ = transform(outputs, theta)
    diff = (net(perturbed).float() - moved_outputs.float()).pow(2) * inside
    return diff.sum() / (inside.sum() * outputs.shape[1]).clamp_min(1.0)
