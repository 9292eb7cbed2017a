"""What ``--temporal flow`` costs per frame at common video sizes, and what share of a stylized frame that is.

The smoother runs on the CPU, beside the network, on the encoding thread of ``rtstyle video``. Per size, on
frames of a real clip resized to it: the optical flow alone (both directions, at the smoother's flow width),
the whole smoother without the contrast restore, the whole smoother frame by frame (a live session, or a file
on the CPU: batch 1), and in batches as ``rtstyle video`` gives it on a GPU (``--batch``, default 8: the flows
and contrast restores on threads); with ``--engine``, the standard network's time per frame at the same size in
the same run, to give the smoother's share of a frame.
``--demo-frames`` uses the demo's generated pan over a landscape instead of a clip (no PyAV needed: the GPU kit).

    python -m benchmarks.bench_smoother --sizes 640x360 1920x1080 --engine
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.entry import run_as_command
from benchmarks.shared_data import SHARED_DATA
from realtime_style.cli.argtypes import dimensions, int_at_least
from realtime_style.scenery import scene_clip
from realtime_style.models.store import load_model
from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.runtime.process import configure_process
from realtime_style.temporal import FlowSmoother
from realtime_style.temporal.flow import FlowEstimator
from realtime_style.temporal.smooth import default_workers


def ms_per_frame(step, frames: list[np.ndarray], rounds: int) -> float:
    """Best of ``rounds`` passes over ``frames`` (the first frame only primes), in ms per frame."""
    best = float("inf")
    for _ in range(rounds):
        step(frames[0], reset=True)
        started = time.perf_counter()
        for frame in frames[1:]:
            step(frame, reset=False)
        best = min(best, (time.perf_counter() - started) * 1000 / (len(frames) - 1))
    return best


def smoother_step(contrast_gain: float):
    smoother = FlowSmoother(contrast_gain=contrast_gain)

    def step(frame: np.ndarray, reset: bool) -> None:
        if reset:
            smoother.reset()
        smoother.process(frame, frame)

    return step


def batched_ms(frames: list[np.ndarray], batch: int, rounds: int) -> float:
    """As :func:`ms_per_frame` for the whole smoother given ``batch`` frames at a time (``process_batch``)."""
    smoother, best = FlowSmoother(), float("inf")
    for _ in range(rounds):
        smoother.reset()
        smoother.process(frames[0], frames[0])
        started = time.perf_counter()
        for start in range(1, len(frames), batch):
            chunk = frames[start : start + batch]
            smoother.process_batch(chunk, chunk)
        best = min(best, (time.perf_counter() - started) * 1000 / (len(frames) - 1))
    return best


def flow_step():
    """The smoother's optical flow alone: both directions between consecutive frames, on its flow images."""
    smoother, estimator, previous = FlowSmoother(), FlowEstimator(FlowSmoother.method), [None]

    def step(frame: np.ndarray, reset: bool) -> None:
        gray = smoother.flow_gray(frame)
        if not reset and previous[0] is not None:
            estimator(gray, previous[0])
            estimator(previous[0], gray)
        previous[0] = gray

    return step


def read_clip(clip: Path, frames: int) -> list[np.ndarray]:
    from realtime_style.media.sources import VideoFileSource  # PyAV: absent on the GPU machine

    with VideoFileSource(clip, max_frames=frames) as source:
        return [frame.image for frame in source]


def generated_clip(size: tuple[int, int], frames: int) -> list[np.ndarray]:
    """The demo's slow pan and zoom over a generated landscape, at ``size`` (width, height)."""
    return list(scene_clip(*size, frames))


def engine_ms(frames: list[np.ndarray], style: str) -> float:
    engine = Engine(load_model(style), EngineOptions(device="cpu", backend="torch"))
    engine.stylize(frames[0][None])  # warm-up
    started = time.perf_counter()
    for frame in frames[1:3]:
        engine.stylize(frame[None])
    return (time.perf_counter() - started) * 1000 / 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, default=SHARED_DATA / "video" / "car-detection.mp4")
    parser.add_argument("--demo-frames", action="store_true", help="the demo's generated frames instead of --clip")
    parser.add_argument("--sizes", nargs="+", type=dimensions(), default=[(640, 360), (1280, 720), (1920, 1080)])
    parser.add_argument("--frames", type=int, default=17, help="frames per pass (default 17)")
    parser.add_argument("--batch", type=int_at_least(1), default=8, help="frames per batch for the batched smoother (default 8)")
    parser.add_argument("--rounds", type=int, default=2, help="passes; the best counts (default 2)")
    parser.add_argument("--engine", action="store_true", help="also time the standard network per frame (torch)")
    parser.add_argument("--style", default="mosaic", help="the network --engine times (default mosaic)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    configure_process()
    largest = max(args.sizes, key=lambda size: size[0] * size[1])
    clip = generated_clip(largest, args.frames) if args.demo_frames else read_clip(args.clip, args.frames)
    if len(clip) < 3:
        print(f"bench_smoother: error: fewer than 3 frames (--frames {args.frames}, {args.clip})", file=sys.stderr)
        return 1
    source = "the demo's frames" if args.demo_frames else args.clip.name
    threads = default_workers()
    print(f"{source}, {len(clip)} frames, best of {args.rounds}; OpenCV threads {cv2.getNumThreads()}; "
          f"batches of {args.batch} on {threads} threads")
    print("| size | flow only | smoother, no contrast restore | smoother | smoother, batched | network | smoother / network |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for width, height in args.sizes:
        frames = [cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA) for frame in clip]
        row = {
            "size": f"{width}x{height}",
            "flow_ms": ms_per_frame(flow_step(), frames, args.rounds),
            "smoother_plain_ms": ms_per_frame(smoother_step(0.0), frames, args.rounds),
            "smoother_ms": ms_per_frame(smoother_step(FlowSmoother.contrast_gain), frames, args.rounds),
            "smoother_batched_ms": batched_ms(frames, args.batch, args.rounds),
            "batch": args.batch,
            "threads": threads,
            "network_ms": engine_ms(frames, args.style) if args.engine else None,
        }
        network = f"{row['network_ms']:.0f} ms" if row["network_ms"] else "-"
        share = f"{row['smoother_ms'] / row['network_ms']:.0%}" if row["network_ms"] else "-"
        print(f"| {row['size']} | {row['flow_ms']:.0f} ms | {row['smoother_plain_ms']:.0f} ms | "
              f"{row['smoother_ms']:.0f} ms | {row['smoother_batched_ms']:.0f} ms | {network} | {share} |", flush=True)
        rows.append(row)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    run_as_command(main)
