"""The capture thread: reads a source as fast as it delivers and keeps only the newest frame.

A frame that is replaced before the session took it is *dropped* and counted: the live path
trades completeness for latency and never queues. When the source stops delivering, the thread
reconnects with exponential back-off; if the device does not come back it records a
:class:`DeviceError` that :meth:`LatestFrameGrabber.latest` raises on the session's thread.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from realtime_style.errors import DeviceError, RtStyleError
from realtime_style.live.cameras import CaptureSource


@dataclass(frozen=True)
class CapturedFrame:
    """A frame with the monotonic time it was captured and its sequence number (from 0)."""

    image: np.ndarray
    time: float
    seq: int


@dataclass(frozen=True)
class ReconnectPolicy:
    """How hard to try to get a lost device back: ``attempts`` opens, waiting ``delay`` doubling to ``max_delay``."""

    attempts: int = 5
    delay: float = 0.5
    max_delay: float = 4.0


def stderr_log(message: str) -> None:
    """The default status-line logger of the live path."""
    print(f"rtstyle: {message}", file=sys.stderr, flush=True)


class LatestFrameGrabber:
    """Runs ``source.read()`` on a daemon thread; the consumer takes the newest frame only."""

    def __init__(
        self,
        source: CaptureSource,
        reconnect: ReconnectPolicy = ReconnectPolicy(),
        log: Callable[[str], None] = stderr_log,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.source = source
        self.reconnect = reconnect
        self.log = log
        self.clock = clock
        #: Frames the source delivered, frames replaced before they were taken, reconnections made.
        self.captured = 0
        self.dropped = 0
        self.reconnects = 0
        self._latest: CapturedFrame | None = None
        self._taken_seq = -1
        self._error: RtStyleError | None = None
        self._reconnecting = False
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self, open_source: bool = True) -> None:
        """Open the source here (so a missing device fails at once, in the caller) and start reading."""
        if open_source:
            self.source.open()
        self._thread = threading.Thread(target=self._run, name="rtstyle-capture", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop reading and close the source. A read stuck in a driver is abandoned (daemon thread)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return
        self.source.close()

    @property
    def reconnecting(self) -> bool:
        return self._reconnecting

    def latest(self, timeout: float) -> CapturedFrame | None:
        """The newest frame not yet taken, waiting up to ``timeout`` s; ``None`` if none came.

        Raises the capture thread's :class:`DeviceError` once the device is gone for good.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._error is not None:
                    raise self._error
                frame = self._latest
                if frame is not None and frame.seq > self._taken_seq:
                    self._taken_seq = frame.seq
                    return frame
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    return None
                self._cond.wait(remaining)

    def discard_pending(self) -> None:
        """Mark the current frame as taken without using it (pause), so it is not counted as dropped."""
        with self._cond:
            if self._latest is not None:
                self._taken_seq = self._latest.seq

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                image = self.source.read()
            except RtStyleError as exc:
                image, reason = None, str(exc)
            except Exception as exc:  # a driver or decoder failure: treat as a lost device
                image, reason = None, f"{type(exc).__name__}: {exc}"
            else:
                reason = "stopped delivering frames"
            if self._stop.is_set():
                return
            if image is None:
                if not self._reconnect(reason):
                    return
                continue
            self._publish(image)

    def _publish(self, image: np.ndarray) -> None:
        now = self.clock()
        with self._cond:
            if self._latest is not None and self._latest.seq > self._taken_seq:
                self.dropped += 1
            self._latest = CapturedFrame(image=image, time=now, seq=self.captured)
            self.captured += 1
            self._cond.notify_all()

    def _reconnect(self, reason: str) -> bool:
        """Reopen the source with back-off; on failure record the error and return False."""
        name = self.source.description
        self._reconnecting = True
        self.source.close()
        delay = self.reconnect.delay
        waited = 0.0
        last = reason
        try:
            for attempt in range(1, self.reconnect.attempts + 1):
                self.log(f"{name} lost ({last}); reconnecting, attempt {attempt}/{self.reconnect.attempts} in {delay:g} s")
                if self._stop.wait(delay):
                    return False
                waited += delay
                try:
                    self.source.open()
                except RtStyleError as exc:
                    last = str(exc)
                except Exception as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    self.reconnects += 1
                    self.log(f"{name} is back")
                    return True
                delay = min(delay * 2, self.reconnect.max_delay)
            error = DeviceError(
                f"{name} lost and not back after {self.reconnect.attempts} attempts in {waited:.1f} s ({last})"
            )
            with self._cond:
                self._error = error
                self._cond.notify_all()
            return False
        finally:
            self._reconnecting = False
