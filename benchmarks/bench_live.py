"""Live latency and frame rate per model size and resolution, next to the engine alone (same run).

For each architecture and resolution: the baseline is the engine alone stylizing one in-memory
frame at a time (batch 1, no capture, no output); the live run is :class:`LivePipeline` fed by a
source faster than the engine (default 60 fps), so frames are dropped, never queued, and the
numbers are capture-to-output latency p50/p95, output fps and the share of frames dropped.
Both also report CPU milliseconds per frame (``cpu ms``: the engine's thread alone; the whole
process for the live run), which hold on a shared, overloaded machine where wall times do not.
Random weights (cost does not depend on the weights). Target on a 2-core CPU: ``light`` at
360x640 >= 15 fps with p95 latency < 150 ms.

    python -m benchmarks.bench_live --arch light standard --resolution 240x426 360x640 --seconds 8
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from realtime_style.engine import Engine, EngineOptions
from realtime_style.live.pipeline import LiveOptions, LivePipeline
from realtime_style.live.sinks import OutputMeta
from realtime_style.live.styles import StyleBank
from realtime_style.models.store import ModelInfo, save_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet

TARGET = {"arch": "light", "resolution": (360, 640), "fps": 15.0, "p95_ms": 150.0}
SHARED_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "bikes.mp4"


class MemorySource:
    """A camera faster than the engine: a few real frames, cycled at ``fps``."""

    def __init__(self, frames: list[np.ndarray], fps: float):
        self.frames, self.fps = frames, fps
        self.description = f"memory source ({fps:g} fps)"
        self.size = (frames[0].shape[1], frames[0].shape[0])
        self._count = 0
        self._start = 0.0

    def open(self) -> None:
        self._start, self._count = time.monotonic(), 0

    def read(self) -> np.ndarray:
        due = self._start + self._count / self.fps
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._count += 1
        return self.frames[self._count % len(self.frames)]

    def close(self) -> None:
        pass


class NullSink:
    name = "null"

    def open(self, width: int, height: int, fps: float) -> None:
        pass

    def write(self, frame: np.ndarray, meta: OutputMeta) -> None:
        pass

    def close(self) -> None:
        pass


def load_frames(height: int, width: int, count: int = 8) -> list[np.ndarray]:
    """Frames of the shared bikes clip at this size, or smooth synthetic ones without shared data."""
    if SHARED_CLIP.is_file():
        from realtime_style.media.sources import VideoFileSource

        with VideoFileSource(SHARED_CLIP, size=(width, height), max_frames=count) as source:
            return [frame.image for frame in source]
    yy, xx = np.mgrid[0:height, 0:width]
    return [np.stack([(xx + 9 * i) % 256, (yy + 5 * i) % 256, (xx + yy) % 256], -1).astype(np.uint8) for i in range(count)]


def engine_baseline(engine: Engine, frames: list[np.ndarray], seconds: float) -> tuple[float, float]:
    """Median wall and CPU seconds per frame of the engine alone.

    The CPU time (of this thread; with ``--threads 1`` all the work runs on it) is what a frame costs
    on an idle core: on a shared, overloaded machine it stays put while wall time balloons.
    """
    for frame in frames[:3]:
        engine.stylize(frame)
    walls, cpus = [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end or len(walls) < 5:
        wall, cpu = time.perf_counter(), time.thread_time()
        engine.stylize(frames[len(walls) % len(frames)])
        walls.append(time.perf_counter() - wall)
        cpus.append(time.thread_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def live_run(model_path: Path, options: EngineOptions, frames: list[np.ndarray], fps: float, seconds: float) -> dict:
    height, width = frames[0].shape[:2]
    bank = StyleBank([model_path], options)
    live = LiveOptions(size=(width, height), duration=seconds, crossfade_frames=0)
    pipeline = LivePipeline(MemorySource(frames, fps), bank, [NullSink()], live, log=lambda _m: None)
    cpu = time.process_time()
    summary = pipeline.run().summary()
    # CPU seconds of the whole process (capture thread included) per frame out: what a frame costs
    # on idle cores, whatever the machine's load. The warm-up frame is in it too (a small bias up).
    summary["cpu_ms_per_frame"] = round((time.process_time() - cpu) / max(1, summary["frames_out"]) * 1000, 1)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", nargs="+", choices=sorted(ARCHITECTURES), default=["standard", "light"])
    parser.add_argument("--resolution", nargs="+", default=["240x426", "360x640"], help="HxW")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each timed run")
    parser.add_argument("--source-fps", type=float, default=60.0, help="rate of the (faster than engine) source")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    options = EngineOptions(device=args.device, precision=args.precision, batch_size=1, threads=args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for arch in args.arch:
            torch.manual_seed(0)
            config = ARCHITECTURES[arch]
            path = save_model(Path(folder) / f"bench.{arch}.safetensors", TransformerNet(config), ModelInfo("bench", arch, config))
            for text in args.resolution:
                height, width = (int(v) for v in text.split("x"))
                frames = load_frames(height, width)
                engine = StyleBank([path], options).engine(0)
                per_frame, cpu = engine_baseline(engine, frames, args.seconds / 2)
                live = live_run(path, options, frames, args.source_fps, args.seconds)
                row = {
                    "arch": arch,
                    "resolution": f"{height}x{width}",
                    "engine": engine.describe(),
                    "threads": torch.get_num_threads(),
                    "engine_ms": round(per_frame * 1000, 1),
                    "engine_fps": round(1 / per_frame, 2),
                    "engine_cpu_ms": round(cpu * 1000, 1),
                    "live_fps": live["output_fps"],
                    "live_vs_engine": round(live["output_fps"] * per_frame, 2),
                    "live_cpu_ms": live["cpu_ms_per_frame"],
                    "latency_p50_ms": live["latency_p50_ms"],
                    "latency_p95_ms": live["latency_p95_ms"],
                    "drop_rate": live["drop_rate"],
                    "frames_out": live["frames_out"],
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    print()
    print(
        f"{'arch':9s} {'HxW':9s} {'engine fps':>10s} {'cpu ms':>7s} {'live fps':>9s} {'cpu ms':>7s} {'live/eng':>8s} "
        f"{'p50 ms':>8s} {'p95 ms':>8s} {'dropped':>8s}"
    )
    for r in rows:
        print(
            f"{r['arch']:9s} {r['resolution']:9s} {r['engine_fps']:10.2f} {r['engine_cpu_ms']:7.1f} {r['live_fps']:9.2f} {r['live_cpu_ms']:7.1f} {r['live_vs_engine']:8.2f} "
            f"{r['latency_p50_ms'] or 0:8.1f} {r['latency_p95_ms'] or 0:8.1f} {r['drop_rate']:8.1%}"
        )
    target = next(
        (r for r in rows if r["arch"] == TARGET["arch"] and r["resolution"] == "{}x{}".format(*TARGET["resolution"])), None
    )
    if target is not None:
        met = target["live_fps"] >= TARGET["fps"] and (target["latency_p95_ms"] or 1e9) < TARGET["p95_ms"]
        print(
            f"\ntarget light 360x640 >= {TARGET['fps']:g} fps, p95 < {TARGET['p95_ms']:g} ms: "
            f"{'met' if met else 'NOT met'} ({target['live_fps']} fps, p95 {target['latency_p95_ms']} ms)"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
