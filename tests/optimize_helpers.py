"""Synthetic images and the style metric shared by the optimize tests."""

from __future__ import annotations

import numpy as np
import torch

from realtime_style.losses import STYLE_LAYERS, gram_matrix
from realtime_style.models.vgg import VGG19Features
from realtime_style.optimize import to_image_tensor


def synthetic_content(h: int = 48, w: int = 64) -> np.ndarray:
    """A colourful smooth scene with a few hard edges."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / w, yy / h, 0.5 + 0.3 * np.sin(xx / 6)], axis=-1)
    img[10:30, 20:40] = (0.9, 0.2, 0.1)
    return (img * 255).round().astype(np.uint8)


def stripes(horizontal: bool, rgb: tuple[int, int, int], period: int = 8, size: int = 64) -> np.ndarray:
    """A two-colour stripe pattern: a strong, easily told-apart style."""
    index = np.arange(size)
    on = (index // (period // 2)) % 2 == 0
    mask = on[:, None] if horizontal else on[None, :]
    mask = np.broadcast_to(mask, (size, size))
    out = np.zeros((size, size, 3), np.uint8)
    out[mask] = rgb
    out[~mask] = (20, 20, 20)
    return out


def checker(rgb: tuple[int, int, int], cell: int = 4, size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    mask = ((yy // cell + xx // cell) % 2) == 0
    out = np.full((size, size, 3), 235, np.uint8)
    out[mask] = rgb
    return out


def style_distance(vgg: VGG19Features, image: np.ndarray | torch.Tensor, style: np.ndarray) -> float:
    """The evaluation metric's SD: mean relative Gram distance over the style layers."""
    with torch.no_grad():
        fx, fs = vgg(to_image_tensor(image)), vgg(to_image_tensor(style))
        total = 0.0
        for layer in STYLE_LAYERS:
            gx, gs = gram_matrix(fx[layer]), gram_matrix(fs[layer])
            total += float((gx - gs).pow(2).sum() / gs.pow(2).sum())
    return total / len(STYLE_LAYERS)
