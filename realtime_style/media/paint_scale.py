"""Painting a large photo at the style's own scale, then scaling the result back up.

A transform net paints brush strokes of a fixed size in pixels, learnt on photos of about 512 px.
On a 4000 px photo those strokes are an eighth of the picture's scale: the style becomes a faint
texture (and the run takes a minute on a CPU). Painting at a long side of :data:`DEFAULT_PAINT_SIZE`
and resizing the painting back to the photo's size keeps the look of a 1000 px photo at any size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from realtime_style.media.geometry import Resize

#: Long side, in pixels, a still is painted at by default: about twice the training photos' (341 px
#: short side, 256-320 px crops, 512 px style image), so strokes stay visible on a screen-sized view.
DEFAULT_PAINT_SIZE = 1024


def paint_size(width: int, height: int, long_side: int | None) -> tuple[int, int]:
    """The size a ``width`` x ``height`` image is painted at: its own, or reduced to ``long_side`` (0/None: own)."""
    if not long_side:
        return width, height
    return Resize(max_size=max(long_side, 2)).apply(width, height)


@dataclass
class PaintAtScale:
    """Wraps an RGB image transform: paint at most ``long_side`` px, resize the painting back up.

    ``rescaled`` counts the images that were painted smaller than they are (for the run's summary).
    """

    transform: Callable[[np.ndarray], np.ndarray]
    long_side: int | None = DEFAULT_PAINT_SIZE
    rescaled: int = 0

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        small = paint_size(width, height, self.long_side)
        if small == (width, height):
            return self.transform(rgb)
        self.rescaled += 1
        painted = self.transform(np.ascontiguousarray(cv2.resize(rgb, small, interpolation=cv2.INTER_AREA)))
        return cv2.resize(painted, (width, height), interpolation=cv2.INTER_CUBIC)
