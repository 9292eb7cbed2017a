"""Helpers for the live tests (no tests here): synthetic sources, a recording sink, a slow engine, a clip."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from realtime_style.runtime.color import FULL_STYLE, Look
from realtime_style.runtime.engine import Engine
from realtime_style.errors import DeviceError
from realtime_style.live.outputs import OutputMeta
from realtime_style.models.store import ModelInfo, save_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet

HEIGHT, WIDTH = 96, 160


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a shared 2-core machine, OpenMP spinning on two threads is far slower.

    Autouse in every test module that imports it.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pattern(index: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """A textured frame that moves with ``index`` (so H.264 and the network have something to do)."""
    yy, xx = np.mgrid[0:height, 0:width]
    frame = np.empty((height, width, 3), np.uint8)
    frame[..., 0] = (xx * 3 + index * 7) % 256
    frame[..., 1] = (yy * 5 + index * 3) % 256
    frame[..., 2] = ((xx + yy) * 2) % 256
    return frame


def write_clip(path: Path, frames: int = 25, fps: int = 25) -> Path:
    """A short H.264 clip of :func:`pattern` frames."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "12"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(pattern(i), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def save_random_model(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    config = ARCHITECTURES["light"]
    return save_model(path, TransformerNet(config), ModelInfo(style=path.stem, arch="light", config=config))


class SyntheticSource:
    """A camera that shows :func:`pattern` frames (or one still frame) at ``fps``.

    After ``fail_after`` frames it stops delivering once; the next ``reopen_failures`` opens fail.
    """

    def __init__(self, fps: float = 25.0, still: bool = False, fail_after: int | None = None, reopen_failures: int = 0):
        self.description = "synthetic camera"
        self.fps = fps
        self.size = (WIDTH, HEIGHT)
        self.still = still
        self.fail_after = fail_after
        self.reopen_failures = reopen_failures
        self.opens = 0
        self.reads = 0
        self._open = False
        self._next = 0.0

    def open(self) -> None:
        self.opens += 1
        if self.opens > 1 and self.reopen_failures > 0:
            self.reopen_failures -= 1
            raise DeviceError("synthetic camera is unplugged")
        self._open = True
        self._next = time.monotonic()

    def read(self) -> np.ndarray | None:
        if not self._open:
            return None
        if self.fail_after is not None and self.reads >= self.fail_after:
            self.fail_after = None  # lost once; after a reconnection it keeps working
            return None
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next = max(self._next + 1 / self.fps, time.monotonic())
        self.reads += 1
        return pattern(0 if self.still else self.reads)

    def close(self) -> None:
        self._open = False


class RecordingSink:
    """Keeps every frame and its metadata; ``on_frame(index, pipeline)`` runs after each write."""

    def __init__(self, on_frame=None):
        self.name = "recorder"
        self.frames: list[np.ndarray] = []
        self.metas: list[OutputMeta] = []
        self.opened: tuple[int, int, float] | None = None
        self.closed = False
        self.on_frame = on_frame

    def open(self, width: int, height: int, fps: float) -> None:
        self.opened = (width, height, fps)

    def write(self, frame: np.ndarray, meta: OutputMeta) -> None:
        self.frames.append(frame.copy())
        self.metas.append(meta)
        if self.on_frame is not None:
            self.on_frame(len(self.frames) - 1)

    def close(self) -> None:
        self.closed = True


class SlowEngine(Engine):
    """An engine that takes ``delay`` seconds (times the pixel share of ``per_pixels``) per frame."""

    delay = 0.15
    per_pixels: int | None = None

    def run_tensor(self, images: torch.Tensor, look: Look = FULL_STYLE) -> torch.Tensor:
        share = 1.0 if self.per_pixels is None else images.shape[-1] * images.shape[-2] / self.per_pixels
        time.sleep(self.delay * share)
        return super().run_tensor(images, look)
