"""Flicker and cost of the temporal smoothing modes on real clips, per style (issue 6).

For each clip and style: stylize every frame once, run each smoothing mode over the stylized
frames, and report the warping error (``rtstyle eval flicker``'s metric, computed on the frames in
memory: no lossy encode in between), its multiple of the input's own warping error, the change
against ``off``, the mean style ratio (``rtstyle eval styles``' metric) on frames sampled evenly
through the clip, and the extra time per frame of the mode next to the stylization time measured
in the same run.

    python -m benchmarks.bench_temporal --style mosaic --clip ../shared/data/video/bikes.mp4

Modes are ``off``, ``ema[:STRENGTH]`` and ``flow[:STRENGTH[:METHOD[:FLOW_WIDTH]]]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from realtime_style.runtime.process import configure_process
from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.media.sources import VideoFileSource
from realtime_style.metrics.flicker import MotionReference
from realtime_style.metrics.style import StyleMetric, resolve_style_image
from benchmarks.shared_data import SHARED_DATA
from realtime_style.models.store import StyleModel, load_model
from realtime_style.frame_processor import FrameProcessor
from realtime_style.temporal import FlowSmoother, make_smoother
from benchmarks.entry import run_as_command

DEFAULT_MODES = ("off", "ema", "flow")


@dataclass
class Row:
    clip: str
    style: str
    mode: str
    warping_error: float
    times_input: float
    change_vs_off: float
    style_ratio: float
    style_ratio_change: float
    extra_ms_per_frame: float
    stylize_ms_per_frame: float


def make_mode(spec: str) -> FrameProcessor | None:
    """``off``, ``ema[:s]`` or ``flow[:s[:method[:width]]]`` -> a fresh smoother."""
    parts = spec.split(":")
    strength = float(parts[1]) if len(parts) > 1 else None
    if parts[0] == "flow" and len(parts) > 2:
        options = {"method": parts[2], **({"flow_width": int(parts[3])} if len(parts) > 3 else {})}
        return FlowSmoother(strength if strength is not None else FlowSmoother.strength, **options)
    return make_smoother(parts[0], strength)


def read_frames(path: Path, max_frames: int | None) -> np.ndarray:
    with VideoFileSource(path, max_frames=max_frames) as source:
        return np.stack([frame.image for frame in source])


def timed(function, frames: np.ndarray, *more: np.ndarray) -> tuple[np.ndarray, float]:
    """Apply ``function`` frame by frame; return the outputs and the milliseconds per frame."""
    start = time.perf_counter()
    outputs = np.stack([function(*items) for items in zip(frames, *more)])
    return outputs, (time.perf_counter() - start) * 1000 / len(frames)


def stylize_cached(model: StyleModel, frames: np.ndarray, clip: Path, args: argparse.Namespace) -> tuple[np.ndarray, float]:
    """Stylize every frame (timed), or load the frames and time of an earlier run from ``--cache``."""
    stamp = f"{model.path.stat().st_mtime_ns}" if model.path else "0"
    cache = args.cache / f"{clip.stem}-{model.name}-{stamp}-{len(frames)}.npz" if args.cache else None
    if cache is not None and cache.is_file():
        with np.load(cache) as data:
            print(f"  {model.name}: stylized frames from {cache}", file=sys.stderr)
            return data["frames"], float(data["ms"])
    engine = Engine(model, EngineOptions(device=args.device))
    print(f"  {model.name}: stylizing {len(frames)} frames ...", file=sys.stderr)
    stylized, ms = timed(engine.stylize, frames)
    print(f"  {model.name}: stylized at {ms:.1f} ms/frame ({engine.describe()})", file=sys.stderr)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, frames=stylized, ms=ms)
    return stylized, ms


def mean_style_ratio(metric: StyleMetric, photos: list, style, frames: np.ndarray, indices: np.ndarray) -> float:
    ratios = []
    for photo, index in zip(photos, indices):
        size = (photo.image.shape[-1], photo.image.shape[-2])
        ratios.append(metric.score_stats(photo, metric.image_stats(frames[index], size), style).style_ratio)
    return float(np.mean(ratios))


def bench_clip(clip: Path, styles: list[str], modes: list[str], args: argparse.Namespace, metric: StyleMetric) -> list[Row]:
    frames = read_frames(clip, args.max_frames)
    print(f"{clip.name}: {len(frames)} frames {frames.shape[2]}x{frames.shape[1]}; input flow ...", file=sys.stderr)
    reference = MotionReference(frames)
    print(f"  input warping error {reference.evaluate(frames).warping_error:.5f}", file=sys.stderr)
    indices = np.linspace(0, len(frames) - 1, min(args.style_frames, len(frames))).round().astype(int)
    photos = [metric.prepare_photo(frames[i], name=str(i)) for i in indices]
    rows = []
    for style in styles:
        model = load_model(style)
        style_stats = metric.image_stats(resolve_style_image(model.info, styles_dir=args.styles_dir))
        stylized, stylize_ms = stylize_cached(model, frames, clip, args)
        base: Row | None = None
        for spec in modes:
            smoother = make_mode(spec)
            outputs, extra_ms = (stylized, 0.0) if smoother is None else timed(smoother.process, frames, stylized)
            result = reference.evaluate(outputs)
            ratio = mean_style_ratio(metric, photos, style_stats, outputs, indices)
            base = base or Row(clip.name, style, spec, result.warping_error, 0, 0, ratio, 0, 0, 0)
            row = Row(
                clip=clip.name,
                style=style,  # as typed: two model files may both be named mosaic
                mode=spec,
                warping_error=result.warping_error,
                times_input=result.ratio,
                change_vs_off=result.warping_error / base.warping_error - 1.0,
                style_ratio=ratio,
                style_ratio_change=ratio / base.style_ratio - 1.0,
                extra_ms_per_frame=extra_ms,
                stylize_ms_per_frame=stylize_ms,
            )
            print(f"    {spec}: {format_row(row)}", file=sys.stderr)
            rows.append(row)
    return rows


def format_row(row: Row) -> str:
    return (
        f"| {row.clip} | {row.style} | `{row.mode}` | {row.warping_error:.5f} | {row.times_input:.1f}× | "
        f"{row.change_vs_off:+.0%} | {row.style_ratio:.3f} | {row.style_ratio_change:+.1%} | "
        f"{row.extra_ms_per_frame:.1f} ms ({row.extra_ms_per_frame / row.stylize_ms_per_frame:.0%}) |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--style", action="append", metavar="NAME", help="style name or model file (repeatable)")
    parser.add_argument("--clip", action="append", type=Path, metavar="VIDEO", help="clip (repeatable; default bikes.mp4)")
    parser.add_argument("--mode", action="append", metavar="SPEC", help=f"mode (repeatable; default {' '.join(DEFAULT_MODES)})")
    parser.add_argument("--max-frames", type=int, default=250, help="frames per clip (default 250)")
    parser.add_argument("--style-frames", type=int, default=12, help="frames sampled for the style ratio (default 12)")
    parser.add_argument("--styles-dir", type=Path, default=None, help="folder of style images (default ../shared/data/styles)")
    parser.add_argument("--device", default="auto", help="device for stylization and the style metric")
    parser.add_argument("--cache", type=Path, metavar="DIR", help="keep stylized frames here to re-run modes without the net")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    configure_process()  # as rtstyle does: tuned malloc, cuDNN autotuning (the entry point's job)
    clips = args.clip or [SHARED_DATA / "video" / "bikes.mp4"]
    metric = StyleMetric("cpu" if args.device == "auto" else args.device)
    rows = [row for clip in clips for row in bench_clip(clip, args.style or ["mosaic"], args.mode or list(DEFAULT_MODES), args, metric)]
    print("| clip | style | mode | warping error | × input's | vs off | style ratio | vs off | extra cost per frame (share of stylization) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(format_row(row))
    if args.json:
        args.json.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    run_as_command(main)
