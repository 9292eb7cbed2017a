"""One video frame with its timestamp: what sources yield and the file pipeline carries (no PyAV here)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``image`` is RGB uint8 (H, W, 3); ``pts`` counts ``time_base`` units."""

    image: np.ndarray
    index: int
    pts: int
    time_base: Fraction

    @property
    def time(self) -> float:
        return float(self.pts * self.time_base)
