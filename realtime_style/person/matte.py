"""From the segmenter's small probability map to a soft, steady mask at frame size.

Three steps, all at the model's small size until the last:

* over time, an exponential average: each frame keeps ``smoothing`` of the previous probability map.
  On the clip with people (``benchmarks/bench_person_mask.py``) 0.5 halves the mask's warping error
  and 0.7 cuts it to a third, at a lag of about ``smoothing / (1 - smoothing)`` frames behind a moving
  person. MediaPipe's uncertainty-weighted variant (sure pixels take the new value at once) was
  measured too: only -5 % there, because most of the flicker is pixels flipping between two fairly
  sure values;
* a ramp that maps probability ``low..high`` to 0..1, so the inside of the person is exactly 1
  (the input shows through unchanged) and the background exactly 0;
* a Gaussian feather of ``feather`` model pixels, then a bilinear resize to the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MatteOptions:
    """How the probability map becomes a mask."""

    #: Share of the previous frame's probability map kept in each new one (0: no temporal smoothing, < 1).
    smoothing: float = 0.5
    #: Gaussian sigma of the edge, in model pixels (0: no feather; the resize still softens by a few pixels).
    feather: float = 1.5
    #: Probabilities at or below ``low`` are background, at or above ``high`` person.
    low: float = 0.2
    high: float = 0.8

    def __post_init__(self) -> None:
        if not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f"mask smoothing must be in [0, 1), got {self.smoothing}")
        if self.feather < 0:
            raise ValueError(f"mask feather must be >= 0, got {self.feather}")
        if not 0.0 <= self.low < self.high <= 1.0:
            raise ValueError(f"need 0 <= low < high <= 1, got {self.low}, {self.high}")


class Matte:
    """Turns a sequence of probability maps into masks; :meth:`reset` forgets the previous frame."""

    def __init__(self, options: MatteOptions | None = None):
        self.options = options or MatteOptions()
        self._previous: np.ndarray | None = None

    def reset(self) -> None:
        self._previous = None

    def steady(self, probability: np.ndarray) -> np.ndarray:
        """The probability map averaged with the ones before it (``smoothing`` of the previous kept)."""
        previous, self._previous = self._previous, probability
        if previous is None or previous.shape != probability.shape or self.options.smoothing == 0:
            return probability
        self._previous = probability + (previous - probability) * self.options.smoothing
        return self._previous

    def mask(self, probability: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """The float32 mask (1 = person) at ``size`` (width, height) for the next frame's probability map."""
        import cv2

        o = self.options
        ramp = np.clip((self.steady(probability) - o.low) * (1.0 / (o.high - o.low)), 0.0, 1.0).astype(np.float32)
        if o.feather > 0:
            ramp = cv2.GaussianBlur(ramp, (0, 0), o.feather)
        if ramp.shape[::-1] != size:
            ramp = cv2.resize(ramp, size, interpolation=cv2.INTER_LINEAR)
        return ramp
