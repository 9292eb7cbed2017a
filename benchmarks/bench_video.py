"""``rtstyle video`` end to end against the engine alone, on the same frames, in the same run.

The engine baseline stylizes frames already decoded into memory (no decoding, no encoding). The
end-to-end run is what ``rtstyle video`` executes after loading the model: the threaded pipeline
decoding the clip, stylizing (``Engine.submit``, two batches in flight), smoothing flicker as ``rtstyle video`` does
by default (``--temporal off`` leaves it out) and encoding to H.264 or
``--codec`` (with audio remux where the clip has audio). Engine switches take rtstyle's flags
(``--cuda-graphs``, ``--no-copy-streams``, ``--threads``, ...).
Rounds alternate engine and pipeline so that machine noise hits both alike; medians are reported.
The pipeline hides decoding and encoding behind compute when its throughput is >= 90% of the
engine's.

With ``--naive`` each round also runs a naive loop in the style of pytorch/examples'
fast_neural_style, the baseline ``rtstyle video`` is measured against: OpenCV decoding and
encoding (mp4v), the plain net in fp32 eager mode, one frame at a time, on the main thread.

    python -m benchmarks.bench_video ../shared/data/video/bikes.mp4 --arch standard --frames 60
    python -m benchmarks.bench_video ../shared/data/video/car-detection.mp4 --max-size 640 --frames 100 --naive
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from realtime_style.cli.speed import add_speed_arguments, process_options, speed_options
from realtime_style.cli.temporal import add_temporal_arguments, smoother_from_args
from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.runtime.process import configure_process
from realtime_style.media.geometry import Resize
from realtime_style.media.sources import VideoFileSource
from realtime_style.models.store import load_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
from realtime_style.video import VideoOptions, process_video
from benchmarks.entry import run_as_command


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clip", type=Path, help="a real video clip, e.g. ../shared/data/video/bikes.mp4")
    parser.add_argument("--style", default=None, help="model file or style name (default: random weights)")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="standard")
    parser.add_argument("--frames", type=int, default=60, help="frames per timed run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating engine/pipeline rounds")
    parser.add_argument("--max-size", type=int, default=None, help="cap the longer side (as rtstyle video does)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--preset", default="medium", help="x264 preset of the end-to-end run")
    parser.add_argument("--codec", default=None, help="encoder of the end-to-end run (default libx264), e.g. h264_nvenc")
    add_speed_arguments(parser.add_argument_group("engine switches (as rtstyle's flags)"))
    add_temporal_arguments(parser)
    parser.add_argument("--naive", action="store_true", help="also time the naive OpenCV + fp32 eager loop")
    parser.add_argument("--require", type=float, default=None, help="exit 1 if pipeline/engine is below this")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    return parser.parse_args(argv)


def make_engine(args: argparse.Namespace) -> Engine:
    model = load_model(args.style, args.arch) if args.style else engine_source_net(args)
    options = EngineOptions(device=args.device, precision=args.precision, batch_size=args.batch_size, **speed_options(args))
    return Engine(model, options)


def engine_source_net(args: argparse.Namespace) -> TransformerNet:
    """The random-weights net :func:`make_engine` builds (same seed), for the naive loop."""
    torch.manual_seed(0)
    return TransformerNet(ARCHITECTURES[args.arch])


def decode_frames(clip: Path, frames: int, resize: Resize) -> np.ndarray:
    with VideoFileSource(clip, max_frames=frames) as source:
        source.size = resize.apply(source.info.width, source.info.height, even=True)
        return np.stack([frame.image for frame in source])


def time_engine(engine: Engine, frames: np.ndarray) -> float:
    """Seconds for the engine alone to stylize ``frames`` in its batch size (synchronized).

    Runs on a worker thread, as the pipeline's stylize stage does: on a loaded CPU, torch's
    OpenMP threads behave differently on the main thread (measured 2.7x slower here), which
    would flatter the pipeline.
    """
    seconds: list[float] = []

    def run() -> None:
        started = time.perf_counter()
        engine.stylize(frames)  # to_frames() copies to the host, which synchronizes GPUs
        seconds.append(time.perf_counter() - started)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    return seconds[0]


def time_pipeline(engine: Engine, args: argparse.Namespace, out: Path) -> tuple[float, dict[str, float], int]:
    smoother = smoother_from_args(args)
    options = VideoOptions(
        resize=Resize(max_size=args.max_size), max_frames=args.frames, preset=args.preset, codec=args.codec,
        postprocess=[smoother] if smoother else [],
    )
    started = time.perf_counter()
    result = process_video(engine.submit, engine.batch_size, args.clip, out, options)
    return time.perf_counter() - started, result.stats.busy, result.frames


@torch.inference_mode()
def time_naive(net: TransformerNet, clip: Path, out: Path, count: int, size: tuple[int, int]) -> float:
    """Seconds for the pytorch/examples-style loop: OpenCV in and out, fp32 eager, one frame at a time."""
    net = net.float().eval()
    started = time.perf_counter()
    capture = cv2.VideoCapture(str(clip))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), capture.get(cv2.CAP_PROP_FPS) or 25, size)
    for _ in range(count):
        ok, bgr = capture.read()
        if not ok:
            break
        rgb = cv2.cvtColor(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        x = torch.from_numpy(rgb).permute(2, 0, 1).float().div(255.0).unsqueeze(0)
        y = net(x).clamp(0.0, 1.0).mul(255.0).squeeze(0).permute(1, 2, 0).byte().numpy()
        writer.write(cv2.cvtColor(y, cv2.COLOR_RGB2BGR))
    capture.release()
    writer.release()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_process(process_options(args))  # --threads, --no-tune-allocator, as rtstyle's entry point does
    engine = make_engine(args)
    naive_net = load_model(args.style, args.arch).net if args.style else engine_source_net(args)
    frames = decode_frames(args.clip, args.frames, Resize(max_size=args.max_size))
    count, height, width = frames.shape[:3]
    print(f"clip {args.clip.name}: {count} frames at {width}x{height}; engine {engine.describe()}; "
          f"torch threads {torch.get_num_threads()}; pipeline smoothing: --temporal {args.temporal}", flush=True)
    engine.stylize(frames[: max(2, engine.batch_size)])  # warm-up (allocator, cuDNN autotune, oneDNN kernels)
    engine_s: list[float] = []
    pipeline_s: list[float] = []
    naive_s: list[float] = []
    busy_runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            engine_s.append(time_engine(engine, frames))
            seconds, busy, written = time_pipeline(engine, args, Path(tmp) / "out.mp4")
            if written != count:
                raise SystemExit(f"pipeline wrote {written} frames, expected {count}")
            pipeline_s.append(seconds)
            busy_runs.append(busy)
            if args.naive:
                naive_s.append(time_naive(naive_net, args.clip, Path(tmp) / "naive.mp4", count, (width, height)))
                print(f"round {round_ + 1}: naive loop {count / naive_s[-1]:.2f} fps", flush=True)
            print(f"round {round_ + 1}: engine {count / engine_s[-1]:.2f} fps, "
                  f"pipeline {count / pipeline_s[-1]:.2f} fps "
                  f"(busy s: " + ", ".join(f"{k} {v:.2f}" for k, v in busy.items()) + ")", flush=True)
    engine_fps = count / statistics.median(engine_s)
    pipeline_fps = count / statistics.median(pipeline_s)
    ratio = pipeline_fps / engine_fps
    results = {
        "clip": args.clip.name,
        "frames": count,
        "size": f"{width}x{height}",
        "engine": engine.describe(),
        "torch_threads": torch.get_num_threads(),
        "engine_fps": round(engine_fps, 3),
        "pipeline_fps": round(pipeline_fps, 3),
        "ratio": round(ratio, 3),
        "engine_ms_per_frame": round(1000 / engine_fps, 2),
        "pipeline_ms_per_frame": round(1000 / pipeline_fps, 2),
        "busy_s_median": {k: round(statistics.median(b[k] for b in busy_runs), 3) for k in busy_runs[0]},
    }
    if naive_s:
        naive_fps = count / statistics.median(naive_s)
        results.update(naive_fps=round(naive_fps, 3), pipeline_over_naive=round(pipeline_fps / naive_fps, 3))
        print(f"rtstyle video is {pipeline_fps / naive_fps:.2f}x the naive loop ({pipeline_fps:.2f} vs {naive_fps:.2f} fps)")
    print(json.dumps(results))
    print(f"pipeline reaches {ratio:.1%} of the engine's throughput "
          f"({pipeline_fps:.2f} vs {engine_fps:.2f} fps, median of {args.rounds})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.require is not None and ratio < args.require:
        return 1
    return 0


if __name__ == "__main__":
    run_as_command(main)
