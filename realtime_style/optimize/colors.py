"""Colour modes of an optimization: luminance only (colours put back at the end) or style colours matched."""

from __future__ import annotations

import torch

from realtime_style.optimize.pictures import resize
from realtime_style.runtime import color


def luminance_image(image: torch.Tensor) -> torch.Tensor:
    return color.luminance(image).expand(-1, 3, -1, -1).contiguous()


def _match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Style luminance with the content's luminance mean and deviation (Gatys et al. 2016, §3)."""
    ys, yc = color.luminance(style), color.luminance(content)
    matched = (ys - ys.mean()) * (yc.std() / ys.std().clamp_min(1e-6)) + yc.mean()
    return matched.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def prepare_colors(
    content: torch.Tensor, styles: list[torch.Tensor], mode: str | None
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The content and styles the optimizer works on: as given, luminance-only, or style colours matched."""
    if mode == "luminance":
        return luminance_image(content), [_match_luminance(style, content) for style in styles]
    if mode == "histogram":
        return content, [color.match_histogram(style, content).clamp(0, 1) for style in styles]
    return content, styles


def finish_colors(image: torch.Tensor, content: torch.Tensor, mode: str | None) -> torch.Tensor:
    """Luminance mode: put the content's colours back around the optimized luminance."""
    if mode == "luminance":
        return color.preserve_color(image, resize(content, tuple(image.shape[-2:])))
    return image
