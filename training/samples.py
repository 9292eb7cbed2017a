"""Sample stylizations of fixed photos, saved at each checkpoint so a person can watch the style emerge."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from realtime_style.errors import InputError
from realtime_style.image_files import load_rgb
from realtime_style.image_tensors import tensor_to_image
from .data import resize_long_side, to_tensor


def load_sample_photos(
    paths: Sequence[str | Path], size: int, on_unreadable: Callable[[str], None] = lambda message: None
) -> list[torch.Tensor]:
    """The readable photos (long side ``size``) as RGB [0, 1] tensors (3, H, W).

    An unreadable photo is left out and reported to ``on_unreadable``: samples are a courtesy, they must not
    end a run (a dataset photo the loader skips and counts would otherwise abort it as a sample).
    """
    photos = []
    for path in paths:
        try:
            photos.append(to_tensor(resize_long_side(load_rgb(path), size)))
        except InputError as exc:
            on_unreadable(f"sample photo left out: {exc}")
    return photos


@torch.no_grad()
def save_samples(net: torch.nn.Module, photos: Sequence[torch.Tensor], path: Path, device: torch.device) -> Path:
    """Top row: the photos; bottom row: ``net``'s stylizations; one PNG."""
    was_training = net.training
    net.eval()
    try:
        outputs = [net(p[None].to(device)).float().clamp(0, 1)[0].cpu() for p in photos]
    finally:
        net.train(was_training)
    height = max(p.shape[1] for p in photos)
    width = sum(p.shape[2] for p in photos)
    sheet = np.full((2 * height, width, 3), 255, np.uint8)
    x = 0
    for photo, out in zip(photos, outputs):
        h, w = photo.shape[1:]
        sheet[:h, x : x + w] = tensor_to_image(photo[None])
        sheet[height : height + h, x : x + w] = tensor_to_image(out[None])
        x += w
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(path)
    return path
