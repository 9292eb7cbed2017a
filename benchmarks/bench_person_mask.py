"""The person mask's flicker on the clip with people, with and without temporal smoothing (same run).

The clip's frames (from ``--start`` s, ``--frames`` of them, at ``--size``) are segmented once; the
mask of each ``--smoothing`` value is written as a grey video (lossless H.264, crf 0) beside the
input's frames, and both go through the warping error of ``rtstyle eval flicker`` (the same
function). A mask that flickers along its edge scores high; the input itself is the floor. Also
prints the segmenter's and the matte's CPU ms per frame (one thread).

    python -m benchmarks.bench_person_mask                         # smoothing 0 and the default, 12 s of clip
    python -m benchmarks.bench_person_mask --smoothing 0 0.5 0.8 0.9 --keep-files /tmp/masks
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

from realtime_style.cli.argtypes import dimensions
from realtime_style.media.sinks import VideoFileSink
from realtime_style.media.sources import VideoFileSource
from realtime_style.metrics.flicker import evaluate_files
from realtime_style.person import Matte, MatteOptions, PersonSegmenter
from benchmarks.entry import run_as_command

CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "one-by-one-person-detection.mp4"


def read_clip(path: Path, start: float, count: int, size: tuple[int, int]) -> tuple[list[np.ndarray], float]:
    with VideoFileSource(path, size=size) as source:
        fps = float(source.info.fps)
        skip = round(start * fps)
        frames = [frame.image for _, frame in zip(range(skip + count), source)][skip:]
    return frames, fps


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    height, width = frames[0].shape[:2]
    sink = VideoFileSink(path, width, height, fps=fps, crf=0)
    try:
        for frame in frames:
            sink.write(frame)
    finally:
        sink.close()
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--start", type=float, default=6.0, help="seconds into the clip (a person walks in at ~7 s)")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--size", type=dimensions(), default="640x360", help="WxH the frames are read at")
    parser.add_argument("--smoothing", type=float, nargs="+", default=[0.0, MatteOptions().smoothing])
    parser.add_argument("--keep-files", type=Path, default=None, help="leave the videos here (default: a temporary folder)")
    args = parser.parse_args(argv)
    if not args.clip.is_file():
        print(f"bench_person_mask: {args.clip} is absent (the project's shared data)", file=sys.stderr)
        return 2
    width, height = args.size
    frames, fps = read_clip(args.clip, args.start, args.frames, (width, height))
    segment = PersonSegmenter.for_frame(width, height)
    probabilities, segment_cpu = [], []
    for frame in frames:
        cpu = time.thread_time()
        probabilities.append(segment(frame))
        segment_cpu.append(time.thread_time() - cpu)
    print(f"{len(frames)} frames {width}x{height} from {args.clip.name} at {args.start:g} s; {segment.model} model "
          f"{segment.width}x{segment.height}: segment {statistics.median(segment_cpu) * 1000:.2f} ms CPU per frame")
    folder = args.keep_files or Path(tempfile.mkdtemp(prefix="rtstyle-mask-"))
    folder.mkdir(parents=True, exist_ok=True)
    source = write_video(folder / "input.mp4", frames, fps)
    rows = []
    for smoothing in args.smoothing:
        matte = Matte(MatteOptions(smoothing=smoothing))
        masks, matte_cpu = [], []
        for probability in probabilities:
            cpu = time.thread_time()
            mask = matte.mask(probability, (width, height))
            matte_cpu.append(time.thread_time() - cpu)
            masks.append(np.repeat(np.round(mask * 255).astype(np.uint8)[..., None], 3, axis=2))
        video = write_video(folder / f"mask_smoothing_{smoothing:g}.mp4", masks, fps)
        result = evaluate_files(source, video)
        row = {
            "smoothing": smoothing,
            "warping_error": result.warping_error,
            "input_warping_error": result.input_warping_error,
            "ratio": result.ratio,
            "pairs": result.pairs,
            "matte_cpu_ms": round(statistics.median(matte_cpu) * 1000, 2),
            "video": str(video),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = rows[0]
    against = f"vs {base['smoothing']:g}"
    print(f"\n{'smoothing':>9s} {'warp err':>10s} {'vs input':>9s} {against:>8s} {'matte ms':>9s}")
    for r in rows:
        print(f"{r['smoothing']:9g} {r['warping_error']:10.5f} {r['ratio']:8.2f}x {r['warping_error'] / base['warping_error']:7.2f}x "
              f"{r['matte_cpu_ms']:9.2f}")
    if args.keep_files is None:
        print(f"(videos in {folder}; rerun any pair with `rtstyle eval flicker {source} MASK.mp4`)")
    return 0


if __name__ == "__main__":
    run_as_command(main)
