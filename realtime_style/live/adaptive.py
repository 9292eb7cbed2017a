"""Processing resolution: fixed by ``--size``, or adapted step by step to hold ``--target-fps``.

The engine's cost grows with the pixel count, so when the measured work per frame exceeds the
frame budget the governor shrinks the processing scale by one step, and when even the next step
up would fit with room to spare it grows it again. Only when frames cost several budgets does it
jump straight to the size predicted to fit. Output keeps the capture size either way
(sinks such as a stream or a virtual camera need one fixed size).
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass

from realtime_style.models.transformer import SIZE_MULTIPLE


@dataclass(frozen=True)
class GovernorOptions:
    """Tuning of :class:`ResolutionGovernor`."""

    target_fps: float
    #: Each step multiplies the scale by this (so the pixel count by its square).
    step: float = 0.85
    min_scale: float = 0.2
    max_scale: float = 1.0
    #: Frames measured before deciding, and again after each change.
    window: int = 6
    #: Step up only when the larger size's predicted cost stays under this share of the budget.
    headroom: float = 0.8
    #: Step down when the measured cost exceeds the budget by this factor.
    tolerance: float = 1.05
    #: Two frames in a row over this many budgets: jump straight to the size predicted to fit.
    emergency: float = 3.0


class ResolutionGovernor:
    """Tracks per-frame work time and moves the processing scale one step at a time."""

    def __init__(self, options: GovernorOptions, scale: float = 1.0):
        self.options = options
        self.scale = min(max(scale, options.min_scale), options.max_scale)
        self.changes = 0
        self._times: deque[float] = deque(maxlen=options.window)
        self._last_two: deque[float] = deque(maxlen=2)

    @property
    def budget(self) -> float:
        return 1.0 / self.options.target_fps

    def update(self, work_seconds: float, typical: bool = True) -> bool:
        """Record one frame's work time; True when the scale changed.

        A frame that is not ``typical`` of its size (it ran while the size was still being compiled) can only
        trigger the emergency jump; it does not count towards the window's steps.
        """
        self._last_two.append(work_seconds)
        c = self.options
        if len(self._last_two) == 2 and min(self._last_two) > self.budget * c.emergency and self.scale > c.min_scale:
            # Far over budget (a slow machine, a huge camera): jump to the predicted size at once
            # rather than spending a window of very slow frames on each step.
            return self._set(max(self.scale * (self.budget / min(self._last_two)) ** 0.5, c.min_scale))
        if not typical:
            return False
        self._times.append(work_seconds)
        if len(self._times) < c.window:
            return False
        cost = statistics.median(self._times)
        if cost > self.budget * c.tolerance and self.scale > c.min_scale:
            new = max(self.scale * c.step, c.min_scale)
        elif self.scale < c.max_scale and cost / c.step**2 < self.budget * c.headroom:
            new = min(self.scale / c.step, c.max_scale)
        else:
            return False
        return self._set(new)

    def _set(self, scale: float) -> bool:
        self.scale = scale
        self.changes += 1
        self._times.clear()
        self._last_two.clear()
        return True


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """(width, height) times ``scale``, rounded to the network's size multiple (at least one multiple)."""
    m = SIZE_MULTIPLE
    return max(m, round(width * scale / m) * m), max(m, round(height * scale / m) * m)


def fixed_size(size: tuple[int, int] | int, width: int, height: int) -> tuple[int, int]:
    """The processing size ``--size`` asks for, given a capture of ``width`` x ``height``."""
    if isinstance(size, int):
        return scaled_size(width, height, size / height)
    m = SIZE_MULTIPLE
    return max(m, round(size[0] / m) * m), max(m, round(size[1] / m) * m)
