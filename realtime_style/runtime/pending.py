"""Batches in flight: a handle per submitted batch, and an in-order window over them.

:meth:`Engine.submit <realtime_style.runtime.engine.Engine.submit>` returns a :class:`Pending` handle.
On a GPU the work behind it is queued and runs while the caller prepares the next batch; on a
CPU it is already done (:class:`Ready`). :func:`in_order` keeps a few batches in flight and
hands back results in submission order, so callers never need to know which kind they hold.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

import numpy as np

T = TypeVar("T")


class Pending(Protocol):
    """A batch being stylized."""

    def done(self) -> bool:
        """True once :meth:`result` would return without waiting."""
        ...

    def result(self) -> np.ndarray:
        """Wait for the batch and return its uint8 (N, H, W, 3) frames."""
        ...


class Ready:
    """A batch computed already (the CPU path, or any plain function of a batch)."""

    def __init__(self, frames: np.ndarray):
        self._frames = frames

    def done(self) -> bool:
        return True

    def result(self) -> np.ndarray:
        return self._frames


#: uint8 (N, H, W, 3) frames in, a handle on their stylized frames out (e.g. ``Engine.submit``).
BatchSubmitter = Callable[[np.ndarray], Pending]


def eager(stylize: Callable[[np.ndarray], np.ndarray]) -> BatchSubmitter:
    """A submitter that runs ``stylize`` at once: for stylizers that have no ``submit``."""
    return lambda frames: Ready(stylize(frames))


def in_order(
    submit: Callable[[T], Pending],
    items: Iterable[T],
    depth: int = 2,
    busy: Callable[[float], None] | None = None,
) -> Iterator[tuple[T, np.ndarray]]:
    """Submit each item and yield ``(item, result)`` in submission order.

    At most ``depth`` batches are in flight: once that many are, the oldest is waited for before
    the next is submitted. A result that is done already is yielded at once (so ``depth`` costs
    a CPU caller no latency). If ``submit`` raises, the results of the items before it are yielded
    first, then the error propagates. ``busy`` receives the seconds spent inside ``submit`` and
    ``result`` calls.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    window: deque[tuple[T, Pending]] = deque()

    def timed(call: Callable[[], object]) -> object:
        started = time.perf_counter()
        try:
            return call()
        finally:
            if busy is not None:
                busy(time.perf_counter() - started)

    def oldest() -> tuple[T, np.ndarray]:
        item, handle = window.popleft()
        return item, timed(handle.result)

    for item in items:
        try:
            handle = timed(lambda: submit(item))
        except Exception:
            while window:
                yield oldest()
            raise
        window.append((item, handle))
        while window and (len(window) >= depth or window[0][1].done()):
            yield oldest()
    while window:
        yield oldest()
