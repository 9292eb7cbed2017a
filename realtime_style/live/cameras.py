"""Live capture sources: a camera through OpenCV, or a video file played as if it were a camera.

A :class:`CaptureSource` is opened, read one frame at a time (``read`` blocks until the next frame
is due and returns ``None`` when the device stops delivering), and closed. It may be reopened after
a failure: that is how :class:`~realtime_style.live.capture.LatestFrameGrabber` reconnects.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from realtime_style.errors import DeviceError, InputError

#: Frame rate assumed when a camera reports none.
DEFAULT_CAMERA_FPS = 30.0


class CaptureSource(Protocol):
    """What the capture thread needs from a camera-like source."""

    #: Human-readable name for messages, e.g. ``camera 0`` or ``clip.mp4``.
    description: str

    def open(self) -> None:
        """Open (or reopen) the device; raises :class:`DeviceError`/:class:`InputError` when it cannot."""

    def read(self) -> np.ndarray | None:
        """Block until the next frame; RGB uint8 (H, W, 3), or ``None`` when the device stopped."""

    def close(self) -> None: ...

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames ``read`` returns; valid after ``open``."""

    @property
    def fps(self) -> float:
        """Nominal frame rate; valid after ``open``."""


@dataclass(frozen=True)
class CaptureRequest:
    """What to ask of a source: frame size (resampled if the device ignores it) and frame rate."""

    width: int | None = None
    height: int | None = None
    fps: float | None = None


def parse_camera(text: str) -> int | str:
    """``0`` -> device index 0; anything else (``/dev/video2``, a URL) is passed to OpenCV as is."""
    return int(text) if text.isdigit() else text


def _device_node(device: int | str) -> Path | None:
    """The device file a camera names on Linux (index 2 -> /dev/video2, or a /dev/ path itself); None for a URL."""
    if not sys.platform.startswith("linux"):
        return None
    if isinstance(device, int):
        return Path(f"/dev/video{device}")
    return Path(device) if device.startswith("/dev/") else None


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own warnings (it logs several lines when a camera index does not exist)."""
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        yield
        return
    previous = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(previous)


class CameraSource:
    """A camera (or any OpenCV capture URL) with a requested size and rate."""

    def __init__(self, device: int | str, request: CaptureRequest = CaptureRequest()):
        self.device = device
        self.request = request
        self.description = f"camera {device}"
        self._capture = None
        self._size = (0, 0)
        self._fps = request.fps or DEFAULT_CAMERA_FPS

    def open(self) -> None:
        import cv2

        node = _device_node(self.device)
        if node is not None and not node.exists():
            where = f"{node} does not exist" if isinstance(self.device, int) else "no such device file"
            raise DeviceError(f"no camera {self.device}: {where}")
        with _quiet_opencv():
            capture = cv2.VideoCapture(self.device)
            if not capture.isOpened():
                capture.release()
                raise DeviceError(f"cannot open {self.description} (absent, busy, or no permission)")
            # The newest frame is what we want: a driver queue of one frame keeps latency down.
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if self.request.width:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.request.width)
            if self.request.height:
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.request.height)
            if self.request.fps:
                capture.set(cv2.CAP_PROP_FPS, self.request.fps)
            ok, first = capture.read()
        if not ok or first is None:
            capture.release()
            raise DeviceError(f"{self.description} opened but delivers no frames")
        self._capture = capture
        self._pending: np.ndarray | None = first
        self._size = self.request.width or first.shape[1], self.request.height or first.shape[0]
        self._fps = capture.get(cv2.CAP_PROP_FPS) or self.request.fps or DEFAULT_CAMERA_FPS

    def read(self) -> np.ndarray | None:
        import cv2

        if self._capture is None:
            return None
        if self._pending is not None:
            bgr, self._pending = self._pending, None
        else:
            ok, bgr = self._capture.read()
            if not ok or bgr is None:
                return None
        if (bgr.shape[1], bgr.shape[0]) != self._size:
            bgr = cv2.resize(bgr, self._size, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    @property
    def fps(self) -> float:
        return float(self._fps)


class LoopingFileSource:
    """A video file played like a camera: looped forever, each frame released at its own time.

    Frames are paced at the file's frame rate (or ``request.fps``); a reader that falls behind gets
    no burst of catch-up frames, exactly like a camera, which only ever has the current frame.
    ``start`` (seconds) skips the file's beginning, on every loop.
    """

    def __init__(
        self, path: str | Path, request: CaptureRequest = CaptureRequest(), clock=time.monotonic, start: float = 0.0
    ):
        self.path = Path(path)
        self.request = request
        self.start = start
        self.description = str(path)
        self.loops = 0
        self._clock = clock
        self._video = None
        self._frames: Iterator | None = None
        self._size = (0, 0)
        self._fps = 0.0
        self._start = 0.0
        self._count = 0

    def _open_video(self):
        from realtime_style.media.sources import VideoFileSource

        size = None
        if self.request.width or self.request.height:
            size = (self.request.width or 0, self.request.height or 0)
        video = VideoFileSource(self.path, start=self.start)
        if size is not None:
            width, height = video.info.width, video.info.height
            # One side given: keep the aspect ratio, with an even result.
            size = (
                size[0] or max(2, round(width * size[1] / height / 2) * 2),
                size[1] or max(2, round(height * size[0] / width / 2) * 2),
            )
            video.size = size
        return video

    def open(self) -> None:
        self.close()
        try:
            self._video = self._open_video()
        except InputError as exc:
            raise InputError(f"--source {exc}") from None
        self._frames = iter(self._video)
        self._size = tuple(self._video.size)  # type: ignore[assignment]
        self._fps = float(self.request.fps or self._video.info.fps)
        self._start = self._clock()
        self._count = 0

    def _next_image(self) -> np.ndarray:
        assert self._frames is not None
        for _attempt in range(2):
            try:
                return next(self._frames).image
            except StopIteration:
                self.loops += 1
                self._video.close()
                self._video = self._open_video()
                self._video.size = self._size
                self._frames = iter(self._video)
        raise InputError(f"{self.path}: no frames")

    def read(self) -> np.ndarray | None:
        if self._frames is None:
            return None
        image = self._next_image()
        if self._count == 0:
            # The schedule starts when the first frame is out, not at open: a slow first decode must
            # not make the second frame follow the first sooner than one frame interval.
            self._start = self._clock()
        due = self._start + self._count / self._fps
        now = self._clock()
        if now < due:
            time.sleep(due - now)
        elif now - due > 1.0 / self._fps:
            # Behind schedule (slow decode, paused process): restart the schedule, never burst.
            self._start = now - self._count / self._fps
        self._count += 1
        return image

    def close(self) -> None:
        if self._video is not None:
            self._video.close()
        self._video = None
        self._frames = None

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    @property
    def fps(self) -> float:
        return self._fps
