"""``rtstyle demo``: stylize a short generated clip with a shipped style, with nothing but the package.

The clip is a slow pan and zoom over a landscape drawn with numpy and OpenCV (:mod:`realtime_style.scenery`):
no photo ships with rtstyle and nothing is downloaded. The clip goes through the file pipeline
(:class:`~realtime_style.file_pipeline.FilePipeline` into a :class:`~realtime_style.media.sinks.VideoFileSink`)
like any video, and a side-by-side still (original | stylized) of its middle frame is saved beside it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from realtime_style.api import Stylizer
from realtime_style.errors import OutputError, StyleNotFoundError
from realtime_style.media.sinks import VideoFileSink
from realtime_style.media.frame import Frame
from realtime_style.models.store import list_styles, resolve_style
from realtime_style.file_pipeline import FilePipeline, PipelineOptions
from realtime_style.frame_processor import FrameProcessor
from realtime_style.media.images import StillImage, write_image
from realtime_style.runtime.pending import eager
from realtime_style.runtime.engine import EngineOptions
from realtime_style.scenery import scene_clip

VIDEO_NAME = "rtstyle-demo.mp4"
STILL_NAME = "rtstyle-demo.png"
DEFAULT_STYLE = "mosaic"


@dataclass
class DemoOptions:
    """The clip: size, length and frame rate, and the seed of the generated scene."""

    width: int = 640
    height: int = 360
    seconds: float = 4.0
    fps: int = 25
    seed: int = 7

    @property
    def frames(self) -> int:
        return max(2, round(self.seconds * self.fps))


@dataclass
class DemoResult:
    """What the demo wrote, with which model, and how fast."""

    video: Path
    still: Path
    style: str
    frames: int
    seconds: float
    device: str

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


# --- the clip ----------------------------------------------------------------------------------------


def demo_clip(options: DemoOptions) -> Iterator[Frame]:
    """The demo's frames as :class:`Frame` objects (pts in 1/fps units) for the file pipeline."""
    time_base = Fraction(1, options.fps)
    for index, image in enumerate(scene_clip(options.width, options.height, options.frames, options.seed)):
        yield Frame(image=image, index=index, pts=index, time_base=time_base)


# --- the still ---------------------------------------------------------------------------------------


def draw_label(image: np.ndarray, text: str, scale: float | None = None) -> np.ndarray:
    """A copy of ``image`` with ``text`` in white on a dark band at its top-left corner."""
    out = image.copy()
    scale = scale or max(0.4, image.shape[0] / 500)
    thickness = max(1, round(scale * 1.6))
    (tw, th), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(3, int(th * 0.4))
    band = out[: th + baseline + 2 * pad, : tw + 2 * pad]
    band[:] = (band * 0.35).astype(np.uint8)
    cv2.putText(out, text, (pad, pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out


def side_by_side(original: np.ndarray, stylized: np.ndarray, style: str, gap: int = 8) -> np.ndarray:
    """original | stylized, labelled, on a white background."""
    h, w = original.shape[:2]
    sheet = np.full((h, 2 * w + gap, 3), 255, np.uint8)
    sheet[:, :w] = draw_label(original, "original")
    sheet[:, w + gap :] = draw_label(stylized, style)
    return sheet


class KeepFrame:
    """A pass-through pipeline post-processor that keeps one frame's original and stylized images."""

    def __init__(self, index: int):
        self.index = index
        self.seen = 0
        self.original: np.ndarray | None = None
        self.stylized: np.ndarray | None = None

    def reset(self) -> None:
        self.seen = 0

    def process(self, original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        if self.seen == self.index:
            self.original, self.stylized = original, stylized
        self.seen += 1
        return stylized


# --- the command -------------------------------------------------------------------------------------


def demo_model(style: str) -> Path:
    """The model file ``--style`` names; for a bare shipped name, its light variant when one ships (quick on CPUs)."""
    bare_name = re.fullmatch(r"[\w-]+", style) is not None and not Path(style).exists()
    if bare_name and not list_styles():
        raise StyleNotFoundError(
            "no style ships with this install yet (trained_models/ is empty); pass --style PATH to a model file"
        )
    if bare_name:
        try:
            return resolve_style(style, arch="light")
        except StyleNotFoundError:
            pass
    return resolve_style(style)  # a missing style raises the store's error, which lists the shipped styles


def run_demo(
    out_dir: str | Path = "rtstyle-demo",
    style: str = DEFAULT_STYLE,
    options: DemoOptions | None = None,
    device: str = "auto",
    backend: str = "auto",
    progress: bool = False,
    postprocess: Sequence[FrameProcessor] = (),
) -> DemoResult:
    """Write ``rtstyle-demo.mp4`` and ``rtstyle-demo.png`` into ``out_dir``; returns their paths.

    ``postprocess`` runs on each stylized frame before it is encoded (e.g. a temporal smoother).
    """
    options = options or DemoOptions()
    out_dir = Path(out_dir).expanduser()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create folder ({exc.strerror or exc})") from None
    stylizer = Stylizer(demo_model(style), engine=EngineOptions(device=device, backend=backend))
    name = stylizer.engine.name
    video, still = out_dir / VIDEO_NAME, out_dir / STILL_NAME
    keep = KeepFrame(options.frames // 2)
    pipeline = FilePipeline(
        eager(stylizer.stylize_frames),
        PipelineOptions(
            batch_size=stylizer.engine.batch_size,
            postprocess=[*postprocess, keep],
            progress=progress,
            progress_label="demo",
        ),
    )
    sink = VideoFileSink(video, options.width, options.height, fps=options.fps)
    started = time.perf_counter()
    try:
        stats = pipeline.run(demo_clip(options), sink, total=options.frames)
    finally:
        sink.close()
    seconds = time.perf_counter() - started
    if keep.original is None or keep.stylized is None:
        raise OutputError(f"{video}: the demo stopped before its middle frame")
    write_image(still, StillImage(side_by_side(keep.original, keep.stylized, name)))
    return DemoResult(video, still, name, stats.frames, seconds, str(stylizer.engine.device))
