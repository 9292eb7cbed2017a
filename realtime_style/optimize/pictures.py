"""The pictures an optimization reads: any image-like input as a tensor, and sizes by the long side."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from realtime_style.errors import InputError
from realtime_style.image_tensors import image_to_tensor
from realtime_style.optimize.options import ImageLike


def to_image_tensor(image: ImageLike, what: str = "image") -> torch.Tensor:
    """A path, uint8 (H, W, 3) array or float tensor -> float32 (1, 3, H, W) RGB [0, 1] on the CPU."""
    if isinstance(image, (str, Path)):
        from realtime_style.media.images import read_image

        image = read_image(image).rgb
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise InputError(f"{what}: expected an (H, W, 3) RGB array, got shape {image.shape}")
        return image_to_tensor(image)
    if isinstance(image, torch.Tensor):
        tensor = image[None] if image.dim() == 3 else image
        if tensor.dim() != 4 or tensor.shape[:2] != (1, 3):
            raise InputError(f"{what}: expected a (1, 3, H, W) or (3, H, W) tensor, got {tuple(image.shape)}")
        return tensor.detach().float().cpu()
    raise InputError(f"{what}: unsupported image type {type(image).__name__}")


def fit_long_side(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(h, w) with the longer side ``long_side`` and the aspect ratio kept."""
    factor = long_side / max(height, width)
    return max(1, round(height * factor)), max(1, round(width * factor))


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic with antialiasing (a proper downscale), clamped back to [0, 1]."""
    if tuple(image.shape[-2:]) == size:
        return image
    return F.interpolate(image, size=size, mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
