"""The preview window (OpenCV highgui): shows the output with an overlay and reads the keys."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import numpy as np

from realtime_style.errors import DeviceError
from realtime_style.live.outputs import OutputMeta

WINDOW_TITLE = "rtstyle"


def display_available() -> bool:
    """Whether a window can appear: always on Windows/macOS, elsewhere only with a reachable X11/Wayland.

    Checked before OpenCV is asked, because its Qt backend aborts the process without a display.
    """
    if sys.platform in ("win32", "darwin"):
        return True
    wayland = os.environ.get("WAYLAND_DISPLAY")
    if wayland and (Path(os.environ.get("XDG_RUNTIME_DIR", "/")) / wayland).exists():
        return True
    return x11_reachable(os.environ.get("DISPLAY", ""))


def x11_reachable(display: str, timeout: float = 0.5) -> bool:
    """``:0`` -> its local socket exists; ``host:10.0`` (e.g. ssh -X) -> TCP port 6010 accepts."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return False
    if host in ("", "unix"):
        return Path(f"/tmp/.X11-unix/X{number}").exists()
    try:
        with socket.create_connection((host, 6000 + int(number)), timeout=timeout):
            return True
    except OSError:
        return False


def av_loaded_before_opencv() -> bool:
    """True on Linux when PyAV was imported before OpenCV: its bundled libxcb then makes OpenCV's
    Qt window livelock at creation (PyAV issue #978), so a window must not be attempted."""
    if not sys.platform.startswith("linux"):
        return False
    order = list(sys.modules)
    return "av" in sys.modules and "cv2" in sys.modules and order.index("av") < order.index("cv2")


def overlay_lines(meta: OutputMeta) -> list[str]:
    """The overlay's text: style and strength, rate and latency, then any status lines."""
    width, height = meta.processing_size
    return [
        f"{meta.style}  strength {meta.strength:.1f}",
        f"{meta.fps:4.1f} fps  {meta.latency_ms:4.0f} ms  {width}x{height}",
        *meta.status,
    ]


def draw_overlay(bgr: np.ndarray, lines: list[str]) -> np.ndarray:
    """Draw ``lines`` top-left on a copy of ``bgr``, white on a dark outline so any picture reads."""
    import cv2

    out = bgr.copy()
    scale = max(0.5, min(1.0, out.shape[0] / 600))
    step = int(26 * scale) + 4
    for i, text in enumerate(lines):
        origin = (8, 8 + step * (i + 1) - 6)
        cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


class PreviewWindow:
    """A resizable OpenCV window; :meth:`poll_key` returns the last key pressed (or None)."""

    def __init__(self, title: str = WINDOW_TITLE, overlay: bool = True):
        self.title = title
        self.name = "window"
        self.overlay = overlay
        self.closed = False
        self._key: str | None = None
        self._opened = False

    def open(self, width: int, height: int, fps: float) -> None:
        import cv2

        if not display_available():
            # Checked first: OpenCV's Qt backend aborts the whole process when it finds no display.
            raise DeviceError(
                "--window needs a display (DISPLAY/WAYLAND_DISPLAY unset or unreachable); "
                "use --no-window with --stream, --virtual-cam or --record"
            )
        if av_loaded_before_opencv():
            raise DeviceError(
                "cannot open a preview window: PyAV was loaded before OpenCV, which makes OpenCV's window "
                "hang on Linux; import cv2 before av (the rtstyle command does)"
            )
        try:
            # Resizable, keeps the aspect ratio, no Qt toolbar (keys are the controls).
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
            cv2.resizeWindow(self.title, width, height)
        except cv2.error as exc:
            raise DeviceError(
                "cannot open a preview window (no display, or OpenCV built without GUI support: "
                f"{str(exc).strip().splitlines()[-1]}); use --no-window with --stream/--virtual-cam/--record"
            ) from None
        self._opened = True

    def show(self, frame_rgb: np.ndarray, lines: list[str]) -> None:
        """Display a frame and pump the window's events (which is when keys arrive)."""
        import cv2

        bgr = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR)
        cv2.imshow(self.title, draw_overlay(bgr, lines) if self.overlay else bgr)
        self._pump()

    def write(self, frame: np.ndarray, meta: OutputMeta) -> None:
        self.show(frame, overlay_lines(meta))

    def _pump(self) -> None:
        import cv2

        code = cv2.waitKey(1)
        if code >= 0:
            code &= 0xFF
            self._key = chr(code)
        if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            self.closed = True

    def poll_key(self) -> str | None:
        """The key pressed since the last call, if any (events are pumped here too)."""
        if self._opened and self._key is None:
            self._pump()
        key, self._key = self._key, None
        return key

    def close(self) -> None:
        import cv2

        if self._opened:
            self._opened = False
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:
                pass
