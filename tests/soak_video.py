"""File soak: thousands of small frames through ``rtstyle video``'s pipeline (decode, stylize, encode).

Prints, every ``--every`` frames written: resident memory, threads, open file descriptors and the
frames/s of that window; then the verdict on what a long file run must not do: grow in memory
(RSS growth after warm-up), let a queue grow (the most frames each queue between the stages ever
held, against its bound), or leak threads and files.

    python tests/soak_video.py --frames 5000 --size 96x64

The model is the shipped ``light`` network of ``--style`` when there is one, else a random-weights
light network (the cost does not depend on the weights). ``tests/test_soak_video.py`` runs it (short by default;
``RTSTYLE_LONG_TESTS=1``: longer).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soak_live import Sample, SoakCurve, add_soak_arguments, light_model, open_files, rss_mb, write_loop_clip
from realtime_style.api import Stylizer
from realtime_style.runtime.engine import EngineOptions
from realtime_style.runtime.process import ProcessOptions, configure_process
from realtime_style.file_pipeline import PipelineStats
from realtime_style.video import VideoOptions


class SampleEvery:
    """A post-processor that changes nothing and takes a :class:`Sample` every ``every`` frames
    (no latencies: a file run has no capture time)."""

    def __init__(self, every: int, on_sample: Callable[[Sample], None] | None = None):
        self.every = every
        self.on_sample = on_sample
        self.samples: list[Sample] = []
        self.frames = 0
        self._start = self._window_start = time.monotonic()

    def reset(self) -> None:
        self.samples.clear()
        self.frames = 0
        self._start = self._window_start = time.monotonic()

    def process(self, original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        self.frames += 1
        if self.frames % self.every == 0:
            now = time.monotonic()
            fps = round(self.every / max(now - self._window_start, 1e-9), 1)
            self._window_start = now
            process = (round(rss_mb(), 1), threading.active_count(), open_files())
            sample = Sample(self.frames, round(now - self._start, 2), *process, fps, p50_ms=None, p95_ms=None)
            self.samples.append(sample)
            if self.on_sample is not None:
                self.on_sample(sample)
        return stylized


@dataclass
class VideoSoakReport(SoakCurve):
    """A file soak: the samples and the pipeline's own statistics (queue peaks among them)."""

    stats: PipelineStats | None = None


def soak(
    frames: int = 5000,
    size: tuple[int, int] = (96, 64),
    every: int = 250,
    warmup: int = 500,
    style: str = "mosaic",
    batch_size: int = 4,
    on_sample: Callable[[Sample], None] | None = None,
) -> VideoSoakReport:
    """Stylize a generated clip of ``frames`` frames at ``size`` (width, height) into a file, sampling as it goes."""
    with tempfile.TemporaryDirectory(prefix="rtstyle-soak-video-") as scratch:
        folder = Path(scratch)
        clip = write_loop_clip(folder / "long.mkv", *size, frames=frames)
        stylizer = Stylizer(light_model(style, folder), engine=EngineOptions(device="cpu", batch_size=batch_size))
        sampler = SampleEvery(every, on_sample)
        options = VideoOptions(preset="ultrafast", audio=False, postprocess=[sampler], codec_threads=1)
        result = stylizer.stylize_video(clip, folder / "out.mp4", options)
        return VideoSoakReport(result.frames, warmup, sampler.samples, result.stats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_soak_arguments(parser, frames=5000, size="96x64", every=250, warmup=500)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args(argv)
    width, height = args.size
    print(f"{'frames':>7} {'s':>7} {'RSS MB':>7} {'threads':>7} {'fds':>5} {'fps':>7}")

    def show(s: Sample) -> None:
        print(f"{s.frames:>7} {s.seconds:>7} {s.rss_mb:>7} {s.threads:>7} {s.files:>5} {s.fps:>7}", flush=True)

    configure_process(ProcessOptions(threads=args.threads))
    report = soak(args.frames, (width, height), args.every, args.warmup, args.style, args.batch_size, show)
    threads, files = report.threads_and_files
    stats = report.stats
    assert stats is not None
    print(
        f"after {report.warmup} warm-up frames: RSS growth {100 * report.rss_growth:+.2f} %, "
        f"peak queued {stats.peak_queued} (bound {stats.queue_bound}), threads {sorted(threads)}, "
        f"open files {sorted(files)}"
    )
    print(f"run: {report.frames} frames in {stats.seconds:.1f} s ({stats.fps:.1f} frames/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
