"""``rtstyle video IN OUT --style NAME``: stylize a video file, keeping audio, timing and rotation."""

from __future__ import annotations

import argparse
import threading

import av

from realtime_style.cli.common import (
    add_stylize_arguments,
    describe_stylizer,
    positive,
    report,
    resize_from_args,
    stylizer_from_args,
    warn,
)
from realtime_style.cli.argtypes import int_between, seconds
from realtime_style.cli.parser import mark_advanced
from realtime_style.cli.signals import stop_on_signals
from realtime_style.cli.temporal import add_temporal_arguments, smoother_from_args, smoothing_cost_note
from realtime_style.frame_processor import FrameProcessor
from realtime_style.media.sinks import CRF_MAX, DEFAULT_CODEC, DEFAULT_CRF, DEFAULT_PRESET, X26X_PRESETS
from realtime_style.media.sources import VideoFileSource
from realtime_style.video import VideoOptions, VideoResult

#: Exit status of a run stopped by Ctrl-C or SIGTERM (the output is still finalized).
EXIT_INTERRUPTED = 130


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "video",
        help="stylize a video file",
        description="Stylize a video file. Audio is copied, frame rate, timestamps and rotation are kept. "
        "Ctrl-C stops early and still leaves a playable OUT with the frames done so far.",
    )
    parser.add_argument("input", metavar="IN", help="input video file")
    parser.add_argument("output", metavar="OUT", help="output video file (.mp4, .mkv, .mov, .webm, .gif, ...)")
    add_stylize_arguments(parser)
    add_encoder_arguments(parser)
    add_temporal_arguments(parser)
    parser.set_defaults(handler=run)


def add_encoder_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument(
        "--codec",
        type=video_encoder,
        default=None,
        help=f"video encoder: {DEFAULT_CODEC} (default), libvpx-vp9 (.webm), gif (.gif), libx265, ... or a hardware "
        "one, e.g. h264_nvenc",
    )
    group.add_argument(
        "--crf",
        type=int_between(0, max(CRF_MAX.values())),
        default=DEFAULT_CRF,
        help=f"quality for x264/x265 (0-{CRF_MAX['libx264']}) and VP9/AV1 (0-{CRF_MAX['libvpx-vp9']}), lower is better "
        f"(default {DEFAULT_CRF})",
    )
    group.add_argument(
        "--preset",
        choices=X26X_PRESETS,
        default=DEFAULT_PRESET,
        metavar="PRESET",
        help=f"x264 speed: {X26X_PRESETS[0]} ... {X26X_PRESETS[-2]} (default {DEFAULT_PRESET})",
    )
    group.add_argument("--no-audio", action="store_true", help="do not copy the audio")
    mark_advanced(
        group.add_argument(
            "--exact-size",
            action="store_true",
            help="keep an odd width or height exactly (H.264 4:4:4, which browsers, phones and QuickTime do not "
            "play; default: crop one pixel to a 4:2:0 video that plays everywhere)",
        )
    )
    group.add_argument("--max-frames", type=positive(int), default=None, metavar="N", help="stop after this many frames")
    group.add_argument(
        "--start", type=seconds(allow_zero=True), default=0.0, metavar="TIME",
        help="start this far into the input (seconds, or M:S)",
    )
    group.add_argument(
        "--duration", type=seconds(), default=None, metavar="TIME", help="stop after this much video (seconds, or M:S)"
    )


#: Name endings of FFmpeg's hardware encoders (NVIDIA, Intel, AMD, VA-API, Apple, V4L2, Windows).
HARDWARE_SUFFIXES = ("_nvenc", "_qsv", "_amf", "_vaapi", "_videotoolbox", "_v4l2m2m", "_mf")


def is_video_encoder(name: str) -> bool:
    try:
        return av.codec.Codec(name, "w").type == "video"
    except (av.FFmpegError, ValueError):
        return False


def hardware_encoders() -> list[str]:
    """The hardware video encoders compiled into this PyAV build (usable only with their device)."""
    return sorted(n for n in av.codecs_available if n.endswith(HARDWARE_SUFFIXES) and is_video_encoder(n))


def video_encoder(name: str) -> str:
    """argparse type of ``--codec``: a video encoder of this PyAV build, else an error naming the choices."""
    if not is_video_encoder(name):
        raise argparse.ArgumentTypeError(
            f"{name!r} is not a video encoder in this PyAV build (e.g. {DEFAULT_CODEC}, libx265, libvpx-vp9, mpeg4; "
            f"hardware: {', '.join(hardware_encoders()) or 'none'})"
        )
    return name


def options_from_args(args: argparse.Namespace, smoother: FrameProcessor | None = None) -> VideoOptions:
    return VideoOptions(
        resize=resize_from_args(args),
        codec=args.codec,
        crf=args.crf,
        preset=args.preset,
        audio=not args.no_audio,
        exact_size=args.exact_size,
        max_frames=args.max_frames,
        start=args.start,
        duration=args.duration,
        progress=not args.quiet,
        postprocess=[smoother] if smoother else [],
    )


def run(args: argparse.Namespace) -> int:
    stylizer = stylizer_from_args(args)
    smoother = smoother_from_args(args)
    options = options_from_args(args, smoother)

    def on_start(source: VideoFileSource, size: tuple[int, int]) -> None:
        info = source.info
        frames = source.expected_frames
        report(
            args,
            f"{args.input} ({info.width}x{info.height}, {float(info.fps):.3g} fps, "
            f"{frames if frames is not None else '?'} frames{', audio' if info.has_audio else ''}"
            f"{f' from {clock(source.cut_time)}' if source.cut_time else ''}"
            f"{f', rotated {info.rotation}°' if info.rotation else ''}) -> {args.output} "
            f"({size[0]}x{size[1]}) with {describe_stylizer(args, stylizer)}",
        )
        if tuple(source.size) != tuple(size):
            report(args, odd_size_note(source.size, size))
        if stylizer.engine.probes_backends(*size):
            report(args, "the first frame also times torch against OpenVINO at this size on this CPU (once; remembered)")
        if stylizer.engine.calibrates_int8(*size):
            report(args, "the first frame waits while the net is quantized to int8 for this size (a few seconds)")
        fits = stylizer.engine.largest_batch(*source.size)
        if fits is not None and fits < stylizer.engine.batch_size:
            warn(
                f"--batch-size {stylizer.engine.batch_size} capped to {fits}: more {source.size[0]}x{source.size[1]} "
                f"frames would not fit in half the free memory"
            )

    with stop_on_signals(threading.Event()) as stop:
        result = stylizer.stylize_video(args.input, args.output, options, stop=stop, on_start=on_start)
    if (damage := damage_note(result)) is not None:
        warn(f"{args.input}: {damage}")
    if result.audio_dropped:
        warn(f"{args.output}: this format holds no sound; the input's audio was not copied")
    report(args, summary(result))
    if result.output is not None and (note := smoothing_cost_note(smoother, result.stats.seconds)):
        report(args, note)
    return EXIT_INTERRUPTED if result.interrupted else 0


def clock(seconds: float) -> str:
    """A time as a user types it for ``--start``: ``83.5`` -> ``1:23.5``, ``3725`` -> ``1:02:05``."""
    whole, tenth = divmod(round(seconds * 10), 10)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return f"{text}.{tenth}" if tenth else text


def odd_size_note(stylized: tuple[int, int], written: tuple[int, int]) -> str:
    return (
        f"{stylized[0]}x{stylized[1]} has an odd side: written as {written[0]}x{written[1]} (4:2:0, plays everywhere); "
        "--exact-size keeps it as 4:4:4, which browsers, phones and QuickTime do not play"
    )


def damage_note(result: VideoResult) -> str | None:
    """What a damaged input cost, or None when it decoded cleanly."""
    notes = []
    if result.skipped_packets:
        notes.append(f"skipped {result.skipped_packets} damaged packet{'s' if result.skipped_packets != 1 else ''}")
    if result.stopped_early is not None:
        notes.append(f"could not read past a damaged part ({result.stopped_early})")
    return "; ".join(notes) + "; their frames are missing from the output" if notes else None


def summary(result: VideoResult) -> str:
    stats = result.stats
    if result.output is None:
        return "stopped before any frame was written; no output file"
    frames = f"{result.frames} frame{'' if result.frames == 1 else 's'}"
    done = f"{frames} to {result.output} in {stats.seconds:.1f} s ({stats.fps:.2f} fps)"
    if result.interrupted:
        return f"interrupted: wrote {done}; the file is finalized and playable"
    return f"wrote {done}"
