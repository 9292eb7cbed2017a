"""The CUDA path at 1080p in one run: fp16 batches with CUDA graphs and copy-stream overlap off and
on, then ``rtstyle video`` end to end beside the engine on a 1080p clip (benchmarks/bench_video.py).

Engine rows stream batches through ``Engine.submit`` with two in flight, as the file pipeline does,
and report frames/s (median over alternating rounds, so drift hits every variant alike) and peak
GPU memory. The plain row is fp32, batch 1, NCHW, no autotuning, no overlap, no graphs.

    python -m benchmarks.bench_gpu                      # standard net, 1080x1920, batches 8 and 16, clip
    python -m benchmarks.bench_gpu --batches 8 --no-video --rounds 2

Without CUDA it still runs: the CPU default path at --cpu-size (the CUDA variants and the video run
are skipped, with a note), so the script itself stays tested. Without PyAV (the GPU session machine
has none) the engine rows run and the video run is skipped: PyAV is imported only for the clip.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import importlib.util

import numpy as np
import torch

from benchmarks.bench_engine import frames_for
from realtime_style.cli.argtypes import dimensions
from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
from realtime_style.runtime.pending import in_order
from realtime_style.runtime.process import ProcessOptions, configure_process
from benchmarks.entry import run_as_command

PLAIN = dict(precision="fp32", channels_last=False, pinned_buffers=False, copy_streams=False, cuda_graphs=False)
#: label -> EngineOptions fields on top of fp16 CUDA defaults
SWITCHES = {
    "fp16, no overlap, no graphs": dict(copy_streams=False, cuda_graphs=False),
    "fp16, copy streams": dict(copy_streams=True, cuda_graphs=False),
    "fp16, CUDA graphs": dict(copy_streams=False, cuda_graphs=True),
    "fp16, copy streams + CUDA graphs": dict(copy_streams=True, cuda_graphs=True),
    "fp16, copy streams, NCHW (no channels_last)": dict(copy_streams=True, cuda_graphs=False, channels_last=False),
}


@dataclass
class Row:
    label: str
    options: dict
    batch: int
    #: The process's settings for this row (the plain row turns cuDNN autotuning off).
    process: ProcessOptions = field(default_factory=ProcessOptions)
    describe: str = ""
    fps: list[float] = field(default_factory=list)
    peak_gib: float = 0.0


def variants(batches: list[int], cuda: bool) -> list[Row]:
    if not cuda:
        return [Row("CPU default (CUDA variants skipped: no CUDA)", dict(device="cpu"), 1)]
    rows = [Row("plain: fp32 eager, batch 1", dict(device="cuda", **PLAIN), 1, process=ProcessOptions(cudnn_benchmark=False))]
    for batch in batches:
        rows += [Row(label, dict(device="cuda", precision="fp16", **options), batch) for label, options in SWITCHES.items()]
    return rows


def stream_fps(engine: Engine, frames: np.ndarray, batches: int) -> float:
    """Frames/s of ``batches`` submissions of ``frames`` with two in flight (results collected)."""
    started = time.perf_counter()
    for _ in in_order(engine.submit, [frames] * batches, depth=2):
        pass
    return batches * len(frames) / (time.perf_counter() - started)


def measure(
    rows: list[Row], arch: str, size: tuple[int, int], rounds: int, batches: int, after_round: Callable[[], None] = lambda: None
) -> None:
    """One engine at a time (a 1080p batch of 16 holds several GiB), alternating round by round.

    Each row first sets the process up its way (this benchmark is the program: its rows are
    process-wide ablations). ``after_round`` runs after each round (e.g. to save the rows so far:
    a run cut short keeps them).
    """
    cuda = torch.cuda.is_available()
    for round_ in range(rounds):
        for row in rows:
            configure_process(row.process)
            torch.manual_seed(0)
            engine = Engine(TransformerNet(ARCHITECTURES[arch]), EngineOptions(**row.options, batch_size=row.batch))
            row.describe = engine.describe()
            frames = frames_for(row.batch, *size)
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            stream_fps(engine, frames, 3)  # warm-up: cuDNN autotuning, graph capture on the second batch
            row.fps.append(stream_fps(engine, frames, batches))
            if cuda:
                row.peak_gib = max(row.peak_gib, torch.cuda.max_memory_allocated() / 2**30)
            print(f"round {round_ + 1}: {row.label}, batch {row.batch}: {row.fps[-1]:.1f} fps", flush=True)
            del engine
            if cuda:
                torch.cuda.empty_cache()
        after_round()


def table(rows: list[Row], arch: str, size: tuple[int, int]) -> str:
    base = statistics.median(rows[0].fps)
    lines = ["| model | size | path | batch | frames/s | ms/frame | vs first row | peak GiB |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        fps = statistics.median(row.fps)
        lines.append(
            f"| {arch} | {size[0]}x{size[1]} | {row.label} | {row.batch} | {fps:.1f} | {1000 / fps:.2f} "
            f"| {fps / base:.2f}x | {row.peak_gib:.2f} |"
        )
    return "\n".join(lines)


def make_clip(path: Path, frames: int, size: tuple[int, int]) -> Path:
    """A smooth moving 1080p test clip (H.264, ultrafast): decoding it costs what a real one does."""
    from realtime_style.media.sinks import VideoFileSink  # PyAV: only for the video run

    height, width = size
    sink = VideoFileSink(path, width, height, fps=30, preset="ultrafast")
    base = frames_for(1, height, width)[0]
    try:
        for i in range(frames):
            sink.write(np.roll(base, 8 * i, axis=1))
    finally:
        sink.close()
    return path


def video_runs(args: argparse.Namespace, clip: Path) -> None:
    """bench_video on the clip: as ``rtstyle video`` runs by default, without the flicker smoother, with CUDA graphs,
    and with NVENC where PyAV has it."""
    import av

    from benchmarks import bench_video

    common = [str(clip), "--arch", args.arch, "--frames", str(args.video_frames), "--rounds", str(args.rounds)]
    # The flicker smoother runs on the CPU and can bound a GPU's speed: the engine's switches are compared without it.
    off = ["--temporal", "off"]
    runs = [("default (flicker smoothing on the CPU)", []), ("no smoothing", off),
            ("CUDA graphs, no smoothing", ["--cuda-graphs", *off])]
    if "h264_nvenc" in av.codecs_available:
        runs.append(("h264_nvenc encoder, no smoothing", ["--codec", "h264_nvenc", *off]))
    for label, extra in runs:
        print(f"\n## rtstyle video end to end, {label}: bench_video {' '.join(common + extra)}", flush=True)
        try:
            bench_video.main(common + extra)
        except Exception as exc:  # e.g. NVENC compiled in but no encoder on this GPU: note it, go on
            print(f"{label}: failed: {exc}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="standard")
    parser.add_argument("--size", type=dimensions(), default=(1080, 1920), help="HEIGHTxWIDTH on CUDA")
    parser.add_argument("--cpu-size", type=dimensions(), default=(128, 128), help="HEIGHTxWIDTH without CUDA")
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 16], help="batch sizes of the fp16 rows")
    parser.add_argument("--stream", type=int, default=8, help="batches per timed stream")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clip", type=Path, default=None, help="1080p clip for the video run (default: made)")
    parser.add_argument("--video-frames", type=int, default=240)
    parser.add_argument("--no-video", action="store_true", help="engine rows only")
    parser.add_argument("--json", type=Path, default=None, help="also write the engine rows here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cuda = torch.cuda.is_available()
    size = args.size if cuda else args.cpu_size
    device = torch.cuda.get_device_name() if cuda else "no CUDA device: CPU only, CUDA variants skipped"
    has_av = importlib.util.find_spec("av") is not None
    print(f"# GPU benchmark: torch {torch.__version__}, {device}, PyAV {'present' if has_av else 'absent'}", flush=True)
    rows = variants(args.batches, cuda)
    save = (lambda: args.json.write_text(json.dumps([asdict(row) for row in rows], indent=1))) if args.json else (lambda: None)
    measure(rows, args.arch, size, args.rounds, args.stream, after_round=save)
    print(f"\n## engine, {args.stream} batches streamed with 2 in flight (median of {args.rounds} rounds)\n")
    print(table(rows, args.arch, size))
    for row in rows:
        print(f"- {row.label}, batch {row.batch}: {row.describe}")
    if args.no_video or not (cuda or args.clip) or not has_av:
        why = "" if args.no_video else " (no PyAV)" if not has_av else " (no CUDA; give --clip to run it on the CPU)"
        print("\nvideo run skipped" + why)
        return
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip or make_clip(Path(tmp) / "clip1080.mp4", args.video_frames, args.size)
        video_runs(args, clip)


if __name__ == "__main__":
    run_as_command(main)
