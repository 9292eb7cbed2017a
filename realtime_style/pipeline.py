"""The threaded file pipeline: decode -> stylize (in batches) -> post-process -> encode.

Each stage runs on its own thread; bounded queues between them give backpressure, so memory
stays flat and decoding and encoding overlap with the network. A file run never drops a frame
and keeps their order (single-producer, single-consumer FIFO queues). A stop request (Ctrl-C,
SIGTERM, or :class:`threading.Event` set by the caller) ends decoding, discards frames not yet
stylized, writes the ones already stylized, and returns normally so the caller can finalize
the output. An error while decoding or stylizing ends the run the same way (the frames done
before it are written) and is then re-raised on the calling thread; an error while encoding
stops every stage at once.

Optional per-frame post-processors (e.g. temporal smoothing) run on the encode side, in order,
each getting the original and the current frame: see :class:`FrameProcessor`.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from realtime_style.errors import OutputError
from realtime_style.media.geometry import Resize, even_size
from realtime_style.media.sinks import DEFAULT_CRF, DEFAULT_PRESET, VideoFileSink
from realtime_style.media.sources import Frame, VideoFileSource, VideoInfo
from realtime_style.progress import Progress
from realtime_style.runtime.pending import BatchSubmitter, Pending, eager, in_order

#: uint8 (N, H, W, 3) RGB frames in, stylized frames of the same shape out (e.g. ``Engine.stylize``).
BatchStylizer = Callable[[np.ndarray], np.ndarray]
_END = object()
_POLL_S = 0.1


@runtime_checkable
class FrameProcessor(Protocol):
    """A per-frame stage after the network, e.g. a temporal smoother.

    ``process`` gets the original frame and the frame so far (stylized, or the output of the
    previous processor), both RGB uint8 (H, W, 3), and returns the new frame. ``reset`` is called
    before each run (and is where a smoother forgets its history).
    """

    def process(self, original: np.ndarray, stylized: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None: ...


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


class FrameWriter(Protocol):
    """Where frames go: :class:`VideoFileSink` or anything with the same ``write``."""

    def write(self, image: np.ndarray, pts: int | None = None) -> None: ...


@dataclass
class PipelineOptions:
    """How the file pipeline runs."""

    batch_size: int = 1
    #: Bound of each queue, in batches: memory stays at a few batches of frames.
    queue_batches: int = 2
    #: Batches submitted and not yet collected (with ``submit``: batch i downloads while i+1 computes).
    in_flight: int = 2
    postprocess: Sequence[FrameProcessor] = ()
    #: Show progress (frames, fps, ETA) on stderr: a bar on a terminal, a line every few seconds otherwise.
    progress: bool = False
    progress_label: str = "stylize"


@dataclass
class PipelineStats:
    """What a run did: frames written, wall time, seconds each stage spent busy, and the most
    frames each queue held at once (``queue_bound`` is the most it can hold)."""

    frames: int
    seconds: float
    interrupted: bool
    busy: dict[str, float] = field(default_factory=dict)
    peak_queued: dict[str, int] = field(default_factory=dict)
    queue_bound: int = 0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class _Aborted(Exception):
    """Raised inside a stage when another stage failed."""


class _Channel:
    """A bounded FIFO queue whose blocking calls give up when the run is aborted."""

    def __init__(self, size: int, abort: threading.Event):
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, size))
        self._abort = abort
        #: The most items the queue held at once.
        self.peak = 0

    def put(self, item: Any) -> None:
        while True:
            if self._abort.is_set():
                raise _Aborted
            try:
                self._queue.put(item, timeout=_POLL_S)
                self.peak = max(self.peak, self._queue.qsize())
                return
            except queue.Full:
                continue

    def get(self) -> Any:
        while True:
            if self._abort.is_set():
                raise _Aborted
            try:
                return self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue


class FilePipeline:
    """Runs frames through a batch stylizer into a writer on three threads.

    ``submit`` (e.g. ``Engine.submit``), when given, is used instead of ``stylize``: it returns
    a handle per batch, so a GPU can compute one batch while the previous one downloads.
    """

    def __init__(
        self, stylize: BatchStylizer, options: PipelineOptions | None = None, submit: BatchSubmitter | None = None
    ):
        self.stylize = stylize
        self.submit = submit or eager(stylize)
        self.options = options or PipelineOptions()

    def run(
        self,
        frames: Iterable[Frame],
        writer: FrameWriter,
        total: int | None = None,
        stop: threading.Event | None = None,
    ) -> PipelineStats:
        """Process every frame (or until ``stop`` is set); returns when all stages have finished."""
        stop = stop or threading.Event()
        abort = threading.Event()
        size = self.options.batch_size * self.options.queue_batches
        decoded, stylized = _Channel(size, abort), _Channel(size, abort)
        busy = {"decode": 0.0, "stylize": 0.0, "encode": 0.0}
        written = [0]
        errors: list[BaseException] = []
        for processor in self.options.postprocess:
            processor.reset()
        bar = Progress(self.options.progress_label, total, unit="frame", enabled=self.options.progress)

        failed = threading.Event()  # a decode or stylize error: finish like a stop, then raise

        def halted() -> bool:
            return stop.is_set() or failed.is_set()

        def fail(exc: BaseException) -> None:
            errors.append(exc)
            failed.set()

        def guarded(stage: Callable[[], None]) -> Callable[[], None]:
            def body() -> None:
                try:
                    stage()
                except _Aborted:
                    pass
                except BaseException as exc:  # re-raised on the caller's thread
                    errors.append(exc)
                    abort.set()

            return body

        def decode() -> None:
            iterator = iter(frames)
            try:
                while not halted():
                    started = time.perf_counter()
                    frame = next(iterator, _END)
                    busy["decode"] += time.perf_counter() - started
                    if frame is _END:
                        break
                    decoded.put(frame)
            except _Aborted:
                raise
            except Exception as exc:  # e.g. corrupt data mid-file: write what came before it
                fail(exc)
            decoded.put(_END)

        def stylize() -> None:
            batches = _batches(decoded, self.options.batch_size)
            wanted = (batch for batch in batches if not halted())  # the rest are dropped on a stop request

            def submit(batch: list[Frame]) -> Pending:
                return self.submit(np.stack([frame.image for frame in batch]))

            def count(seconds: float) -> None:
                busy["stylize"] += seconds

            try:
                for batch, outputs in in_order(submit, wanted, self.options.in_flight, busy=count):
                    for frame, output in zip(batch, outputs):
                        stylized.put((frame, output))
            except _Aborted:
                raise
            except Exception as exc:  # the frames stylized before it are still written
                fail(exc)
            for _ in batches:  # decoding stops once halted; take what it queued until its end marker
                pass
            stylized.put(_END)

        def encode() -> None:
            while (item := stylized.get()) is not _END:
                frame, image = item
                started = time.perf_counter()
                for processor in self.options.postprocess:
                    image = processor.process(frame.image, image)
                writer.write(image, frame.pts)
                busy["encode"] += time.perf_counter() - started
                written[0] += 1
                bar.update(1)

        threads = [
            threading.Thread(target=guarded(stage), name=f"rtstyle-{stage.__name__}", daemon=True)
            for stage in (decode, stylize, encode)
        ]
        started = time.perf_counter()
        try:
            for thread in threads:
                thread.start()
            _wait(threads, stop, abort)
        finally:
            bar.close()
        if errors:
            raise errors[0]
        return PipelineStats(
            frames=written[0],
            seconds=time.perf_counter() - started,
            interrupted=stop.is_set(),
            busy=busy,
            peak_queued={"decoded": decoded.peak, "stylized": stylized.peak},
            queue_bound=max(1, size),
        )


def _batches(channel: _Channel, size: int) -> Iterator[list[Frame]]:
    """Group the channel's frames into lists of ``size`` (the last may be shorter)."""
    batch: list[Frame] = []
    while (item := channel.get()) is not _END:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _wait(threads: list[threading.Thread], stop: threading.Event, abort: threading.Event) -> None:
    """Join the stages. A first KeyboardInterrupt asks for a graceful stop, a second aborts."""
    interrupted = False
    while any(thread.is_alive() for thread in threads):
        try:
            for thread in threads:
                thread.join(_POLL_S)
        except KeyboardInterrupt:
            if stop.is_set():
                abort.set()
                interrupted = True
            stop.set()
    if interrupted:
        raise KeyboardInterrupt


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """While active, SIGINT and SIGTERM set ``stop``; a second signal raises KeyboardInterrupt.

    Only the main thread can own signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    signals = [signal.SIGINT, signal.SIGTERM]
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


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

    @property
    def interrupted(self) -> bool:
        return self.stats.interrupted


def process_video(
    stylize: BatchStylizer,
    batch_size: int,
    src: str | Path,
    dst: str | Path,
    options: VideoOptions | None = None,
    stop: threading.Event | None = None,
    on_start: Callable[[VideoFileSource, tuple[int, int]], None] | None = None,
    submit: BatchSubmitter | None = None,
    batch_limit: Callable[[int, int], int | None] | None = None,
) -> VideoResult:
    """Stylize the video ``src`` into ``dst``: the threaded pipeline between a source and a sink.

    ``submit`` (e.g. ``Engine.submit``) is used instead of ``stylize`` where given (see :class:`FilePipeline`).
    ``batch_limit`` (e.g. ``Engine.largest_batch``) caps ``batch_size`` for the frame size (None: no cap).

    ``dst`` is written in place and always finalized (also on a stop request or an error), so
    what was done is playable; a run that wrote no frame removes ``dst``.
    """
    options = options or VideoOptions()
    src, dst = Path(src), Path(dst)
    refuse_same_file(src, dst)
    with VideoFileSource(
        src, max_frames=options.max_frames, duration=options.duration, threads=options.codec_threads
    ) as source:
        info = source.info
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
            threads=options.codec_threads,
        )
        if on_start is not None:
            on_start(source, size)
        pipeline = FilePipeline(
            stylize,
            PipelineOptions(
                batch_size=batch_size,
                queue_batches=options.queue_batches,
                postprocess=[*options.postprocess, *fit],
                progress=options.progress,
                progress_label=src.name,
            ),
            submit=submit,
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
    )


def refuse_same_file(src: Path, dst: Path) -> None:
    """Refuse to write over the input (also through links or different spellings of one path)."""
    same = dst.exists() and src.exists() and os.path.samefile(src, dst)
    if same or src.resolve() == dst.resolve():
        raise OutputError(f"{dst}: output is the same file as the input")
