"""RGB images <-> float tensors: the one conversion shared by ``--optimize``, the style metric and training.

An image is RGB (H, W, 3): a PIL image or a NumPy array (uint8 0..255, or float already in [0, 1]).
A tensor is float32 (1, 3, H, W) in [0, 1] on the CPU: a batch of one. (Frames on their way through
the runtime are converted by :meth:`~realtime_style.runtime.engine.Engine.to_tensor` instead, on the
device and in the engine's precision.)
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def image_to_tensor(image: Image.Image | np.ndarray) -> torch.Tensor:
    """RGB (H, W, 3) image -> float32 (1, 3, H, W) in [0, 1]; uint8 is divided by 255, float taken as is."""
    array = np.asarray(image)
    scale = 255.0 if array.dtype == np.uint8 else 1.0
    return torch.from_numpy(np.array(array, copy=True)).permute(2, 0, 1)[None].float() / scale


def tensor_to_image(image: torch.Tensor) -> np.ndarray:
    """Float (1, 3, H, W) in [0, 1] -> uint8 (H, W, 3): the only place where pixels are clipped and rounded."""
    out = image.detach()[0].mul(255.0).clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0)
    return np.ascontiguousarray(out.cpu().numpy())
