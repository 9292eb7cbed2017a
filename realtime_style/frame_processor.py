"""The per-frame stage after the network: a temporal smoother, the person compositor, a size fix.

A :class:`FrameProcessor` is what the file pipeline runs on the encode side (in order) and what
a live session runs on each frame; it depends on nothing else in the package.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class FrameProcessor(Protocol):
    """A per-frame stage after the network, with memory of the previous frames if it needs one.

    ``process`` gets the original frame and the frame so far (stylized, or the output of the
    previous processor), both RGB uint8 (H, W, 3), and returns the new frame. ``reset`` forgets
    any history: it is called before each run, and on a seek, loop or style switch.

    A processor may also have ``process_batch(originals, frames) -> list`` for consecutive frames at once
    (to spread them over threads); :func:`process_frames` uses it where it exists.
    """

    def process(self, original: np.ndarray, stylized: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None: ...


def process_frames(
    processor: FrameProcessor, originals: Sequence[np.ndarray], frames: Sequence[np.ndarray]
) -> list[np.ndarray]:
    """``processor`` over consecutive frames, in order: by its ``process_batch`` where it has one."""
    batch = getattr(processor, "process_batch", None)
    if batch is not None:
        return list(batch(originals, frames))
    return [processor.process(original, frame) for original, frame in zip(originals, frames)]


class Timed:
    """A :class:`FrameProcessor` that adds up the seconds ``inner`` spends on frames (to tell what bounded a run)."""

    def __init__(self, inner: FrameProcessor):
        self.inner = inner
        #: Seconds spent in ``inner.process`` since this wrapper was made.
        self.seconds = 0.0

    def process(self, original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.process(original, stylized)
        finally:
            self.seconds += time.perf_counter() - started

    def process_batch(self, originals: Sequence[np.ndarray], frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        started = time.perf_counter()
        try:
            return process_frames(self.inner, originals, frames)
        finally:
            self.seconds += time.perf_counter() - started

    def reset(self) -> None:
        self.inner.reset()
