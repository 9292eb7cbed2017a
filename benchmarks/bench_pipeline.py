"""``rtstyle video``'s pipeline without the codec: how fast it goes when decoding and encoding cost nothing.

The demo's generated frames (a pan over a landscape, no PyAV needed: the GPU session machine has none) go from
memory through the real :class:`~realtime_style.file_pipeline.FilePipeline` (its threads, queues and batches) and
the engine, then the flicker smoother as ``rtstyle video`` runs it by default, into a writer that drops them.
Per ``--temporal`` mode: frames/s and the share of the wall time each stage was busy, so the report can say
whether the network or the smoother bounds a run. A random-weight net (the shipped ones may be set aside).

    python -m benchmarks.bench_pipeline --device cuda --size 1920x1080 --frames 240
"""

from __future__ import annotations

import argparse
import json
from fractions import Fraction
from itertools import cycle, islice
from pathlib import Path

import numpy as np
import torch

from benchmarks.entry import run_as_command
from realtime_style.cli.argtypes import dimensions, int_at_least
from realtime_style.file_pipeline import FilePipeline, PipelineOptions
from realtime_style.media import Frame
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.runtime.process import configure_process
from realtime_style.scenery import scene_clip
from realtime_style.temporal import MODES, make_smoother

#: Distinct frames generated; longer runs play them forward and back (the motion stays smooth, memory bounded).
DISTINCT_FRAMES = 48


class DroppingWriter:
    """A writer that counts frames and keeps none: the encoder's cost left out."""

    def __init__(self) -> None:
        self.frames = 0

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        self.frames += 1


def footage(size: tuple[int, int], frames: int) -> list[Frame]:
    """``frames`` frames of ``size`` (width, height): the demo's pan, forward then back, as decoded frames."""
    distinct = list(scene_clip(*size, min(frames, DISTINCT_FRAMES)))
    images = islice(cycle(distinct + distinct[-2:0:-1]), frames)
    return [Frame(image=image, index=i, pts=i, time_base=Fraction(1, 30)) for i, image in enumerate(images)]


def run_mode(engine: Engine, frames: list[Frame], mode: str) -> dict:
    """One pass of the pipeline with the smoother of ``mode``: frames/s and each stage's busy share."""
    smoother = make_smoother(mode)
    options = PipelineOptions(batch_size=engine.batch_size, postprocess=[smoother] if smoother else [])
    writer = DroppingWriter()
    stats = FilePipeline(engine.submit, options).run(frames, writer, total=len(frames))
    if writer.frames != len(frames):
        raise RuntimeError(f"the pipeline wrote {writer.frames} of {len(frames)} frames")
    busy = {stage: round(seconds / stats.seconds, 3) for stage, seconds in stats.busy.items()}
    return {"temporal": mode, "frames": stats.frames, "fps": round(stats.fps, 2), "busy": busy}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="standard")
    parser.add_argument("--size", type=dimensions(), default=(1920, 1080), metavar="WxH", help="frame size (default 1920x1080)")
    parser.add_argument("--frames", type=int_at_least(2), default=120, help="frames per pass (default 120)")
    parser.add_argument("--temporal", nargs="+", choices=MODES, default=["flow", "off"],
                        help="smoother modes to run, in order (default: flow, the default of rtstyle video, then off)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    configure_process()
    width, height = args.size
    engine = Engine(TransformerNet(ARCHITECTURES[args.arch]), EngineOptions(device=args.device))
    frames = footage((width, height), args.frames)
    run_mode(engine, frames[: 2 * engine.batch_size], "off")  # warm-up: kernels chosen, buffers made
    print(f"# file pipeline without a codec: {engine.describe()}, {width}x{height}, {len(frames)} frames")
    results = []
    for mode in args.temporal:
        result = run_mode(engine, frames, mode)
        busy = ", ".join(f"{stage} {share:.0%}" for stage, share in result["busy"].items())
        print(f"--temporal {mode}: {result['fps']:.1f} frames/s; busy: {busy}", flush=True)
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps({"size": f"{width}x{height}", "engine": engine.describe(), "runs": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    run_as_command(main)
