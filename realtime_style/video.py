"""Stylize one video file into another: open the source and the sink, run the file pipeline between them.

The threads and queues are :mod:`realtime_style.file_pipeline`'s; this module picks the frame
size, the encoder and the batch size, and finalizes the output whatever happens.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from realtime_style.errors import InputError, OutputError
from realtime_style.file_pipeline import FilePipeline, PipelineOptions, PipelineStats
from realtime_style.frame_processor import FrameProcessor
from realtime_style.media.geometry import Resize, even_size
from realtime_style.media.sinks import DEFAULT_CRF, DEFAULT_PRESET, VideoFileSink
from realtime_style.media.sources import VideoFileSource, VideoInfo
from realtime_style.runtime.pending import BatchSubmitter

@dataclass(frozen=True)
class FitFrames:
    """The last processor when the output size differs by a pixel: crop (or repeat the edge) to ``width`` x ``height``."""

    width: int
    height: int

    def process(self, original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        image = stylized[: self.height, : self.width]
        short_h, short_w = self.height - image.shape[0], self.width - image.shape[1]
        if short_h or short_w:
            image = np.pad(image, ((0, short_h), (0, short_w), (0, 0)), mode="edge")
        return image

    def reset(self) -> None:
        pass



@dataclass
class VideoOptions:
    """What ``rtstyle video`` does besides stylizing: size, encoder, audio, limits, progress."""

    resize: Resize = field(default_factory=Resize)
    #: None: H.264 (libx264), or VP9 for .webm.
    codec: str | None = None
    crf: int | None = DEFAULT_CRF
    preset: str | None = DEFAULT_PRESET
    audio: bool = True
    max_frames: int | None = None
    #: Seconds of the input to skip before the first frame (the output starts there, at time 0).
    start: float = 0.0
    duration: float | None = None
    progress: bool = False
    postprocess: Sequence[FrameProcessor] = ()
    queue_batches: int = 2
    #: Decoder and encoder threads (0: FFmpeg's choice, about one per core).
    codec_threads: int = 0
    #: Keep an odd width or height exactly (4:4:4 H.264, which browsers, phones and QuickTime do not play);
    #: by default an odd side loses one pixel (a side of 1 gains one) so the video is 4:2:0.
    exact_size: bool = False


@dataclass
class VideoResult:
    """The outcome of a video run. ``output`` is None when nothing was written (and no file left)."""

    input: VideoInfo
    output: Path | None
    size: tuple[int, int]
    frames: int
    expected_frames: int | None
    stats: PipelineStats
    #: Damaged input packets skipped (their frames are missing from the output).
    skipped_packets: int = 0
    #: Why reading stopped before the end of a damaged input, else None.
    stopped_early: str | None = None
    #: Frames per batch, after any cap for the memory free.
    batch_size: int = 1
    #: The input had audio that the output's format cannot hold (e.g. GIF), so it was not copied.
    audio_dropped: bool = False

    @property
    def interrupted(self) -> bool:
        return self.stats.interrupted


def process_video(
    submit: BatchSubmitter,
    batch_size: int,
    src: str | Path,
    dst: str | Path,
    options: VideoOptions | None = None,
    stop: threading.Event | None = None,
    on_start: Callable[[VideoFileSource, tuple[int, int]], None] | None = None,
    batch_limit: Callable[[int, int], int | None] | None = None,
) -> VideoResult:
    """Stylize the video ``src`` into ``dst``: the threaded pipeline between a source and a sink.

    ``submit`` hands a batch over and returns a handle (``Engine.submit``; a plain batch function
    goes in as ``runtime.pending.eager(fn)``): see :class:`FilePipeline`.
    ``batch_limit`` (e.g. ``Engine.largest_batch``) caps ``batch_size`` for the frame size (None: no cap).

    ``dst`` is written in place and always finalized (also on a stop request or an error), so
    what was done is playable; a run that wrote no frame removes ``dst``.
    """
    options = options or VideoOptions()
    src, dst = Path(src), Path(dst)
    refuse_same_file(src, dst)
    with VideoFileSource(
        src,
        max_frames=options.max_frames,
        duration=options.duration,
        threads=options.codec_threads,
        start=options.start,
    ) as source:
        info = source.info
        if info.still_image:
            raise InputError(f"{src}: is a still image ({info.codec}), not a video; stylize photos with `rtstyle still`")
        stylized_size = options.resize.apply(info.width, info.height, even=True)
        source.size = stylized_size
        size = stylized_size if options.exact_size else even_size(*stylized_size)
        fit = [FitFrames(*size)] if size != stylized_size else []
        batch_size = min(batch_size, (batch_limit and batch_limit(*stylized_size)) or batch_size)
        sink = VideoFileSink(
            dst,
            *size,
            fps=info.fps,
            time_base=info.time_base,
            codec=options.codec,
            crf=options.crf,
            preset=options.preset,
            display_matrix=info.display_matrix,
            audio_from=src if options.audio and info.has_audio else None,
            audio_cut=source.cut_time,
            threads=options.codec_threads,
        )
        if on_start is not None:
            on_start(source, size)
        pipeline = FilePipeline(
            submit,
            PipelineOptions(
                batch_size=batch_size,
                queue_batches=options.queue_batches,
                postprocess=[*options.postprocess, *fit],
                progress=options.progress,
                progress_label=src.name,
            ),
        )
        try:
            stats = pipeline.run(source, sink, total=source.expected_frames, stop=stop)
        finally:
            try:
                sink.close()
            finally:
                if sink.frames_written == 0:
                    dst.unlink(missing_ok=True)
    return VideoResult(
        input=info,
        output=dst if sink.frames_written else None,
        size=size,
        frames=sink.frames_written,
        expected_frames=source.expected_frames,
        stats=stats,
        skipped_packets=source.skipped_packets,
        stopped_early=source.stopped_early,
        batch_size=batch_size,
        audio_dropped=sink.audio_dropped,
    )


def refuse_same_file(src: Path, dst: Path) -> None:
    """Refuse to write over the input (also through links or different spellings of one path)."""
    same = dst.exists() and src.exists() and os.path.samefile(src, dst)
    if same or src.resolve() == dst.resolve():
        raise OutputError(f"{dst}: output is the same file as the input")
