"""Live soak: thousands of frames of a file played as a camera through the live session.

Prints, every ``--every`` output frames: resident memory, threads, open file descriptors, output fps
and capture-to-output latency percentiles over that window; then the verdict on the three things a
long live session must not do: grow in memory (RSS growth after warm-up), build a backlog (the live
path has no queue: a backlog would show as latency rising over the run), or leak threads and files
(the looping source reopens the clip at each loop).

    python tests/soak_live.py --frames 10000 --size 64x48 --source-fps 240

The model is the shipped ``light`` network of ``--style`` when there is one, else a random-weights
light network (the cost does not depend on the weights). ``tests/test_soak_live.py`` runs it (short by default;
``RTSTYLE_LONG_TESTS=1``: the full 10,000 frames).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from realtime_style.runtime.engine import EngineOptions
from realtime_style.runtime.process import ProcessOptions, configure_process
from realtime_style.errors import StyleNotFoundError
from realtime_style.cli.argtypes import dimensions
from realtime_style.live.cameras import CaptureRequest, LoopingFileSource
from realtime_style.live.outputs import OutputMeta
from realtime_style.live.session import LiveOptions, LiveSession
from realtime_style.live.stats import percentile_ms
from realtime_style.live.workers import default_workers
from realtime_style.live.styles import StyleBank
from realtime_style.models.store import ModelInfo, resolve_style, save_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet


def rss_mb() -> float:
    """Resident memory of this process (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def open_files() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


@dataclass
class Sample:
    """The process at one point of the run, and the output over the window that ended there."""

    frames: int
    seconds: float
    rss_mb: float
    threads: int
    files: int
    fps: float
    p50_ms: float | None
    p95_ms: float | None


class SoakProbe:
    """A live sink that measures instead of showing: latency of each frame, a :class:`Sample` every ``every`` frames."""

    name = "soak probe"

    def __init__(self, every: int, on_sample=None):
        self.every = every
        self.on_sample = on_sample
        self.latencies: list[float] = []
        self.samples: list[Sample] = []
        self._start = self._window_start = 0.0

    def open(self, width: int, height: int, fps: float) -> None:
        self._start = self._window_start = time.monotonic()

    def write(self, frame: np.ndarray, meta: OutputMeta) -> None:
        now = time.monotonic()
        self.latencies.append(now - meta.capture_time)
        count = len(self.latencies)
        if count % self.every == 0:
            window = self.latencies[-self.every :]
            sample = Sample(
                frames=count,
                seconds=round(now - self._start, 2),
                rss_mb=round(rss_mb(), 1),
                threads=threading.active_count(),
                files=open_files(),
                fps=round(self.every / max(now - self._window_start, 1e-9), 1),
                p50_ms=percentile_ms(window, 50),
                p95_ms=percentile_ms(window, 95),
            )
            self._window_start = now
            self.samples.append(sample)
            if self.on_sample is not None:
                self.on_sample(sample)

    def close(self) -> None:
        pass


@dataclass
class SoakCurve:
    """Samples of a soak run and what they say about leaks (shared with ``tests/soak_video.py``)."""

    frames: int
    warmup: int
    samples: list

    def _after_warmup(self) -> list:
        return [s for s in self.samples if s.frames >= self.warmup]

    @property
    def rss_growth(self) -> float:
        """(last RSS - RSS at the end of warm-up) / RSS at the end of warm-up."""
        kept = self._after_warmup()
        return (kept[-1].rss_mb - kept[0].rss_mb) / kept[0].rss_mb

    @property
    def threads_and_files(self) -> tuple[set[int], set[int]]:
        """The distinct thread counts and open-file counts seen after warm-up (one each when nothing leaks)."""
        kept = self._after_warmup()
        return {s.threads for s in kept}, {s.files for s in kept}


@dataclass
class SoakReport(SoakCurve):
    """A live soak: the samples, every frame's latency and work time, and the session's own statistics."""

    latencies: list[float] = field(default_factory=list)
    work_times: list[float] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def latency_p95_ms(self, first: int, last: int) -> float:
        """p95 latency of output frames ``first`` to ``last`` (0-based, end excluded)."""
        return percentile_ms(self.latencies[first:last], 95) or 0.0

    def _spans(self) -> tuple[slice, slice]:
        """The first thousand frames after warm-up and the last thousand (shorter runs: halves)."""
        span = min(1000, (self.frames - self.warmup) // 2)
        return slice(self.warmup, self.warmup + span), slice(self.frames - span, self.frames)

    @property
    def latency_drift(self) -> float:
        """p95 latency of the last thousand frames / that of the first thousand after warm-up."""
        early, late = self._spans()
        return self.latency_p95_ms(late.start, late.stop) / self.latency_p95_ms(early.start, early.stop)

    @property
    def latency_drift_in_frame_times(self) -> float:
        """The same ratio with each span's latencies counted in that span's median work time per frame.

        A backlog makes latency grow in frame times; a busier machine (other jobs) slows work and
        latency alike and leaves this ratio near 1, so it is the measure that holds on a shared machine.
        """
        early, late = self._spans()

        def frame_times(part: slice) -> float:
            return float(np.percentile(self.latencies[part], 95) / np.median(self.work_times[part]))

        return frame_times(late) / frame_times(early)


def light_model(style: str, folder: Path) -> Path:
    """The shipped light variant of ``style``, else a random-weights light model saved in ``folder``."""
    try:
        return resolve_style(style, "light")
    except StyleNotFoundError:
        config = ARCHITECTURES["light"]
        path = folder / "soak.light.safetensors"
        return save_model(path, TransformerNet(config), ModelInfo(style="soak", arch="light", config=config))


def write_loop_clip(path: Path, width: int, height: int, frames: int = 120, fps: int = 30) -> Path:
    """A short clip with motion (a gradient sliding under a bright square), H.264."""
    from realtime_style.media.sinks import VideoFileSink

    yy, xx = np.mgrid[0:height, 0:width]
    with VideoFileSink(path, width, height, fps=fps, crf=23, preset="ultrafast") as sink:
        for t in range(frames):
            frame = np.empty((height, width, 3), np.uint8)
            frame[..., 0] = (xx * 4 + t * 5) % 256
            frame[..., 1] = (yy * 6 + t * 3) % 256
            frame[..., 2] = 96
            x = t * (width - 16) // frames
            frame[height // 4 : height // 4 + 16, x : x + 16] = 255
            sink.write(frame)
    return path


def soak(
    frames: int = 10_000,
    size: tuple[int, int] = (64, 48),
    source_fps: float = 240.0,
    every: int = 500,
    warmup: int = 1000,
    style: str = "mosaic",
    engine: EngineOptions | None = None,
    clip_frames: int = 1200,
    workers: int | None = None,
    on_sample=None,
) -> SoakReport:
    """Run ``frames`` output frames of a looped clip at ``size`` (width, height) paced at ``source_fps``.

    The clip is long (``clip_frames``) so that it is reopened rarely: each reopen leaves a few hundred
    KB in the allocator's free lists until about 200 reopens (measured; ``malloc_trim`` returns most
    of it), which a short clip would turn into an RSS slope over the first minutes.
    """
    with tempfile.TemporaryDirectory(prefix="rtstyle-soak-") as scratch:
        folder = Path(scratch)
        clip = write_loop_clip(folder / "loop.mp4", *size, frames=clip_frames)
        model = light_model(style, folder)
        bank = StyleBank([model], engine or EngineOptions(device="cpu", batch_size=1))
        probe = SoakProbe(every, on_sample)
        source = LoopingFileSource(clip, CaptureRequest(fps=source_fps))
        workers = workers or default_workers(torch.device("cpu"))  # what rtstyle webcam runs on this machine
        options = LiveOptions(max_frames=frames, workers=workers)
        session = LiveSession(source, bank, [probe], options, log=lambda _m: None)
        stats = session.run()
        extra = {"loops": source.loops, "workers": workers}
        return SoakReport(
            frames, warmup, probe.samples, list(stats.latencies), list(stats.work_times), {**stats.summary(), **extra}
        )


def add_soak_arguments(parser: argparse.ArgumentParser, frames: int, size: str, every: int, warmup: int) -> None:
    """The options of both soaks' command lines, with each soak's defaults."""
    parser.add_argument("--frames", type=int, default=frames)
    parser.add_argument("--size", type=dimensions(), default=size, help=f"frame WIDTHxHEIGHT (default {size})")
    parser.add_argument("--every", type=int, default=every, help="print a sample every N frames")
    parser.add_argument("--warmup", type=int, default=warmup, help="frames before memory (and latency) count")
    parser.add_argument("--style", default="mosaic", help="its light variant if shipped, else random weights")
    parser.add_argument("--threads", type=int, default=1, help="network threads (default 1)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_soak_arguments(parser, frames=10_000, size="64x48", every=500, warmup=1000)
    parser.add_argument("--source-fps", type=float, default=240.0, help="pace of the file-as-camera (default 240)")
    args = parser.parse_args(argv)
    width, height = args.size
    print(f"{'frames':>7} {'s':>7} {'RSS MB':>7} {'threads':>7} {'fds':>5} {'fps':>7} {'p50 ms':>7} {'p95 ms':>7}")

    def show(s: Sample) -> None:
        print(f"{s.frames:>7} {s.seconds:>7} {s.rss_mb:>7} {s.threads:>7} {s.files:>5} {s.fps:>7} {s.p50_ms:>7} {s.p95_ms:>7}", flush=True)

    configure_process(ProcessOptions(threads=args.threads))
    engine = EngineOptions(device="cpu", batch_size=1)
    report = soak(args.frames, (width, height), args.source_fps, args.every, args.warmup, args.style, engine, on_sample=show)
    threads, files = report.threads_and_files
    print(
        f"after {report.warmup} warm-up frames: RSS growth {100 * report.rss_growth:+.2f} %, latency p95 last/first "
        f"thousand {report.latency_drift:.2f}x ({report.latency_drift_in_frame_times:.2f}x in frame times), "
        f"threads {sorted(threads)}, open files {sorted(files)}"
    )
    print("run:", report.summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
