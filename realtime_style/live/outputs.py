"""Live outputs: a network stream (MPEG-TS/H.264), a virtual camera, a recording, PNG snapshots.

Every sink is opened with the output size and nominal rate before the first frame and then takes
RGB uint8 (H, W, 3) frames with their capture time, which becomes the presentation time, so a
receiver plays frames at the pace they were captured even when the live rate varies. The preview
window is a sink too (:mod:`realtime_style.live.window`).
"""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np

from realtime_style.errors import DeviceError, OutputError, first_line

#: Presentation times of streams and recordings count 1/90000 s (MPEG's clock).
TIME_BASE = Fraction(1, 90_000)
#: Seconds between keyframes of a stream: how long a receiver that joins late waits for a picture.
STREAM_GOP_SECONDS = 1.0
#: Seconds to wait for a stream's network peer to accept a connection or a write.
STREAM_TIMEOUT = 5.0
#: Network protocols an MPEG-TS stream can be sent over (FFmpeg's names); anything else is not a stream.
STREAM_PROTOCOLS = ("udp", "tcp", "rtp", "srt", "rist", "http", "https")


@dataclass
class OutputMeta:
    """What a sink may want to know about a frame besides its pixels."""

    capture_time: float
    index: int
    style: str = ""
    strength: float = 1.0
    fps: float = 0.0
    latency_ms: float = 0.0
    processing_size: tuple[int, int] = (0, 0)
    status: list[str] = field(default_factory=list)


class LiveSink(Protocol):
    """An output of a live session."""

    name: str

    def open(self, width: int, height: int, fps: float) -> None: ...

    def write(self, frame: np.ndarray, meta: OutputMeta) -> None: ...

    def close(self) -> None: ...


def _with_query(url: str, option: str) -> str:
    return url + ("&" if "?" in url else "?") + option


def _stream_failure(url: str, exc: BaseException) -> str:
    """What went wrong with a stream, in the user's terms."""
    code = getattr(exc, "errno", None)
    if code in (errno.EPIPE, errno.ECONNRESET):
        return f"stream {url}: the receiver went away ({first_line(exc)}); stopping"
    if code == errno.ETIMEDOUT:
        return f"stream {url}: the receiver stopped reading for {STREAM_TIMEOUT:g} s; stopping"
    return f"stream {url} failed: {first_line(exc)}"


def even(value: int) -> int:
    """H.264 in 4:2:0 needs even frame sides."""
    return max(2, value - value % 2)


class TimestampClock:
    """Capture times -> strictly increasing pts in :data:`TIME_BASE`, counted from the first frame."""

    def __init__(self) -> None:
        self._start: float | None = None
        self._last = -1

    def pts(self, capture_time: float) -> int:
        self._start = capture_time if self._start is None else self._start
        pts = max(int(round((capture_time - self._start) / TIME_BASE)), self._last + 1)
        self._last = pts
        return pts


def check_stream_url(url: str) -> None:
    """Refuse a stream target that is not ``PROTOCOL://...`` with a known network protocol (e.g. a file name)."""
    protocol, separator, rest = url.partition("://")
    if separator and rest and protocol.lower() in STREAM_PROTOCOLS:
        return
    raise OutputError(
        f"cannot open stream {url}: protocol not found; a stream is a URL such as udp://127.0.0.1:5000 "
        f"({', '.join(STREAM_PROTOCOLS)}); to write a file use --record"
    )


class StreamSink:
    """Sends H.264 in MPEG-TS to a URL (``udp://host:port``, ``tcp://host:port``, ``srt://...``).

    x264 runs with ``tune=zerolatency`` (no frame reordering or look-ahead) and ``preset=ultrafast``
    so encoding adds milliseconds, not frames; a keyframe every second lets receivers join late.
    """

    def __init__(self, url: str, bitrate: int | None = None, container_format: str = "mpegts"):
        check_stream_url(url)
        self.url = url
        self.name = f"stream {url}"
        self.bitrate = bitrate
        self.container_format = container_format
        self._container = None
        self._stream = None
        self._clock = TimestampClock()
        self._size = (0, 0)

    def _target(self) -> str:
        """The URL handed to FFmpeg, with the options a live sender needs."""
        if self.url.startswith("udp://") and "pkt_size" not in self.url:
            # 7 TS packets per datagram: the size receivers expect, and below any loopback/LAN MTU.
            return _with_query(self.url, "pkt_size=1316")
        if self.url.startswith("tcp://") and "timeout=" not in self.url:
            # A receiver that stops reading fails the write after STREAM_TIMEOUT instead of blocking it
            # forever (FFmpeg's tcp option, in microseconds; it bounds the connection attempt too).
            return _with_query(self.url, f"timeout={round(STREAM_TIMEOUT * 1e6)}")
        return self.url

    def open(self, width: int, height: int, fps: float) -> None:
        import av

        self._size = (even(width), even(height))
        rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(30)
        options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(max(1, round(float(rate) * STREAM_GOP_SECONDS)))}
        if self.bitrate:
            options["b"] = str(self.bitrate)
        try:
            container = av.open(self._target(), mode="w", format=self.container_format, timeout=STREAM_TIMEOUT)
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise OutputError(f"cannot open stream {self.url}: {first_line(exc)}") from None
        try:
            stream = container.add_stream("libx264", rate=rate, options=options)
            stream.width, stream.height = self._size
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = TIME_BASE
            container.start_encoding()
        except (av.FFmpegError, OSError, ValueError) as exc:
            container.close()
            raise OutputError(f"cannot open stream {self.url}: {first_line(exc)}") from None
        self._container, self._stream = container, stream

    def write(self, frame: np.ndarray, meta: OutputMeta) -> None:
        import av

        video = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        if (video.width, video.height) != self._size:
            video = video.reformat(width=self._size[0], height=self._size[1])
        video.pts = self._clock.pts(meta.capture_time)
        video.time_base = TIME_BASE
        try:
            for packet in self._stream.encode(video):
                self._container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(_stream_failure(self.url, exc)) from None

    def close(self) -> None:
        if self._container is None:
            return
        import av

        container, self._container = self._container, None
        try:
            for packet in self._stream.encode(None):
                container.mux(packet)
        except (av.FFmpegError, OSError):
            pass  # the peer is gone; nothing left to deliver
        try:
            container.close()  # flushes the last bytes: fails again when the receiver went away
        except (av.FFmpegError, OSError):
            pass


VIRTUAL_CAMERA_HELP = (
    "on Linux load v4l2loopback (sudo modprobe v4l2loopback exclusive_caps=1), "
    "on Windows/macOS install OBS Studio and start its virtual camera once"
)


class VirtualCameraSink:
    """Feeds a virtual camera (OBS on Windows/macOS, v4l2loopback on Linux) through pyvirtualcam."""

    def __init__(self, device: str | None = None):
        self.device = device
        self.name = "virtual camera"
        self._camera = None

    def open(self, width: int, height: int, fps: float) -> None:
        try:
            import pyvirtualcam
        except ImportError:
            raise DeviceError(
                "--virtual-cam needs pyvirtualcam (GPL, optional): pip install 'rtstyle[virtualcam]'"
            ) from None
        try:
            self._camera = pyvirtualcam.Camera(
                width=width, height=height, fps=fps or 30, fmt=pyvirtualcam.PixelFormat.RGB, device=self.device
            )
        except (RuntimeError, ValueError, OSError) as exc:
            reason = first_line(exc)
            if any(word in reason.lower() for word in ("in use", "busy")):
                which = f"virtual camera {self.device}" if self.device else "the virtual camera"
                raise DeviceError(
                    f"{which} is in use by another program ({reason}); close that program, "
                    "or choose another device with --virtual-cam-device"
                ) from None
            raise DeviceError(f"no virtual camera device available ({reason}); {VIRTUAL_CAMERA_HELP}") from None
        self.name = f"virtual camera {self._camera.device}"

    def write(self, frame: np.ndarray, meta: OutputMeta) -> None:
        try:
            self._camera.send(np.ascontiguousarray(frame))
        except (RuntimeError, ValueError, OSError) as exc:
            raise DeviceError(f"{self.name} failed: {first_line(exc)}") from None

    def close(self) -> None:
        if self._camera is not None:
            self._camera.close()
            self._camera = None


class RecordSink:
    """Records the stylized output to a video file (the file pipeline's encoder, fast settings)."""

    def __init__(self, path: str | Path, preset: str = "veryfast"):
        self.path = Path(path)
        self.name = f"recording {path}"
        self.preset = preset
        self._sink = None
        self._clock = TimestampClock()

    def open(self, width: int, height: int, fps: float) -> None:
        from realtime_style.media.sinks import VideoFileSink

        self._sink = VideoFileSink(
            self.path, even(width), even(height), fps or 30, time_base=TIME_BASE, preset=self.preset
        )

    def write(self, frame: np.ndarray, meta: OutputMeta) -> None:
        if frame.shape[1] % 2 or frame.shape[0] % 2:
            frame = frame[: even(frame.shape[0]), : even(frame.shape[1])]
        self._sink.write(frame, pts=self._clock.pts(meta.capture_time))

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
            self._sink = None


def save_snapshot(frame: np.ndarray, folder: str | Path, style: str) -> Path:
    """Write ``frame`` as ``rtstyle-<style>-<time>.png`` in ``folder``; returns the path."""
    from realtime_style.media.images import StillImage, write_image

    folder = Path(folder)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in style) or "style"
    path = folder / f"rtstyle-{safe}-{stamp}.png"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"rtstyle-{safe}-{stamp}-{n}.png"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot save snapshot to {folder}: {exc.strerror or exc}") from None
    write_image(path, StillImage(frame))
    return path
