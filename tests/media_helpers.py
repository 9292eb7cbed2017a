"""Helpers for the video tests: make small clips, and probe files with plain PyAV."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from realtime_style.media.sinks import VideoFileSink


def clip_frames(count: int, width: int, height: int) -> np.ndarray:
    """``count`` RGB frames with a moving bar: every frame differs, so frame order is checkable."""
    frames = np.zeros((count, height, width, 3), np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    for t in range(count):
        frames[t, ..., 0] = (xx * 255 // max(1, width - 1)).astype(np.uint8)
        frames[t, ..., 1] = (yy * 255 // max(1, height - 1)).astype(np.uint8)
        frames[t, ..., 2] = 40
        column = (t * 3) % width
        frames[t, :, column : column + 2] = 255
    return frames


def make_clip(
    path: Path,
    count: int = 8,
    size: tuple[int, int] = (64, 48),
    fps: Fraction = Fraction(25),
    rotation: int | None = None,
    preset: str = "ultrafast",
    audio_seconds: float | None = None,
    keyframe_every: int | None = None,
) -> Path:
    """Write a short H.264 clip (optionally with a display-rotation matrix, an AAC tone of ``audio_seconds``,
    which may outlast the video as a phone's track does, and a keyframe every ``keyframe_every`` frames) with plain PyAV."""
    width, height = size
    gop = {"g": str(keyframe_every), "keyint_min": str(keyframe_every)} if keyframe_every else {}
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": preset, **gop})
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        audio = container.add_stream("aac", rate=TONE_RATE) if audio_seconds is not None else None
        for index, image in enumerate(clip_frames(count, width, height)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio is not None:
            mux_tone(container, audio, audio_seconds)
    return path


TONE_RATE = 44100


def mux_tone(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream, seconds: float) -> None:
    """Write ``seconds`` of a quiet tone into ``stream``, a mono AAC stream of ``container`` at TONE_RATE."""
    samples = (np.sin(np.arange(int(TONE_RATE * seconds)) / 20) * 0.3).astype(np.float32)[None]
    for start in range(0, samples.shape[1], 1024):
        frame = av.AudioFrame.from_ndarray(samples[:, start : start + 1024], format="fltp", layout="mono")
        frame.sample_rate, frame.pts = TONE_RATE, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


@dataclass
class Probe:
    frames: int
    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    rotation: float
    audio_codec: str | None
    audio_seconds: float
    video_seconds: float
    pts: list[int]


def probe(path: Path) -> Probe:
    """Decode every video frame of ``path`` (which proves it is playable) and report its facts."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        decoded = list(container.decode(video))
        audio_seconds = float(audio.duration * audio.time_base) if audio is not None and audio.duration else 0.0
        return Probe(
            frames=len(decoded),
            width=decoded[0].width,
            height=decoded[0].height,
            fps=video.average_rate,
            time_base=video.time_base,
            rotation=decoded[0].rotation,
            audio_codec=audio.codec_context.name if audio is not None else None,
            audio_seconds=audio_seconds,
            video_seconds=float(video.duration * video.time_base) if video.duration else 0.0,
            pts=[f.pts for f in decoded],
        )


def write_clip_with_sink(path: Path, frames: np.ndarray, fps: Fraction = Fraction(25), **kwargs) -> Path:
    """Write ``frames`` through :class:`VideoFileSink` (used to test the sink itself)."""
    height, width = frames.shape[1:3]
    with VideoFileSink(path, width, height, fps=fps, **kwargs) as sink:
        for image in frames:
            sink.write(image)
    return path


@pytest.fixture
def single_thread() -> Iterator[None]:
    """One torch thread: on a shared, loaded 2-core machine two spinning OpenMP threads run tiny
    test frames ~20x slower than one (measured: 2.3 s vs 0.13 s for a 3x61x97 batch)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
