"""The threaded file pipeline: decode -> stylize (in batches) -> post-process -> encode.

Each stage runs on its own thread; bounded queues between them give backpressure, so memory
stays flat and decoding and encoding overlap with the network. A file run never drops a frame
and keeps their order (single-producer, single-consumer FIFO queues). A stop request (Ctrl-C,
SIGTERM, or a :class:`threading.Event` set by the caller) ends decoding, discards frames not yet
stylized, writes the ones already stylized, and returns normally so the caller can finalize
the output. An error while decoding or stylizing ends the run the same way (the frames done
before it are written) and is then re-raised on the calling thread; an error while encoding
stops every stage at once.

Optional per-frame post-processors (e.g. temporal smoothing) run on the encode side, in order,
each getting the original and the current frame, a stylized batch at a time (a processor may spread a batch
over threads): see :class:`~realtime_style.frame_processor.FrameProcessor`.
Which file to read and write, and how, is :mod:`realtime_style.video`'s job.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from realtime_style.frame_processor import FrameProcessor, process_frames
from realtime_style.media.frame import Frame
from realtime_style.progress import Progress
from realtime_style.runtime.pending import BatchSubmitter, Pending, in_order

_END = object()
_POLL_S = 0.1


class FrameWriter(Protocol):
    """Where frames go: :class:`VideoFileSink` or anything with the same ``write``."""

    def write(self, image: np.ndarray, pts: int | None = None) -> None: ...


@dataclass
class PipelineOptions:
    """How the file pipeline runs."""

    batch_size: int = 1
    #: Bound of each queue, in batches: memory stays at a few batches of frames.
    queue_batches: int = 2
    #: Batches submitted and not yet collected (on a GPU, batch i downloads while i+1 computes).
    in_flight: int = 2
    postprocess: Sequence[FrameProcessor] = ()
    #: Show progress (frames, fps, ETA) on stderr: a bar on a terminal, a line every few seconds otherwise.
    progress: bool = False
    progress_label: str = "stylize"


@dataclass
class PipelineStats:
    """What a run did: frames written, wall time, seconds each stage spent busy (``postprocess``, e.g.
    the temporal smoother, runs on the encoding thread), and the most frames each queue held at once
    (``queue_bound`` is the most it can hold)."""

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
    """Runs frames through a batch submitter into a writer on three threads.

    ``submit`` (e.g. ``Engine.submit``) returns a handle per batch, so a GPU can compute one batch
    while the previous one downloads; wrap a plain function of a batch in
    :func:`~realtime_style.runtime.pending.eager`.
    """

    def __init__(self, submit: BatchSubmitter, options: PipelineOptions | None = None):
        self.submit = submit
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
        busy = {"decode": 0.0, "stylize": 0.0, "postprocess": 0.0, "encode": 0.0}
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
            for items in _batches(stylized, self.options.batch_size):
                frames, images = [frame for frame, _ in items], [image for _, image in items]
                started = time.perf_counter()
                for processor in self.options.postprocess:
                    images = process_frames(processor, [frame.image for frame in frames], images)
                busy["postprocess"] += time.perf_counter() - started
                for frame, image in zip(frames, images):
                    started = time.perf_counter()
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

