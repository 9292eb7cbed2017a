"""``rtstyle webcam``: a camera (or a file played as one) stylized live to a window, stream, virtual camera."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from realtime_style.cli.common import COMPILE_NOTE, add_look_arguments, bounded_float, positive, report
from realtime_style.cli.parser import mark_advanced_flags
from realtime_style.cli.person import add_person_arguments, live_person_from_args
from realtime_style.cli.speed import add_speed_arguments, speed_options
from realtime_style.runtime.engine import PRECISION_NAMES, EngineOptions, select_device
from realtime_style.runtime.process import ProcessOptions
from realtime_style.errors import InputError, OutputError, UsageError
from realtime_style.cli.argtypes import dimensions, dimensions_or_height, seconds
from realtime_style.live.cameras import CameraSource, CaptureRequest, CaptureSource, LoopingFileSource, parse_camera
from realtime_style.live.outputs import LiveSink, RecordSink, StreamSink, VirtualCameraSink
from realtime_style.live.session import LiveOptions, LiveSession
from realtime_style.models.transformer import ARCHITECTURES, SIZE_MULTIPLE
from realtime_style.live.controls import HELP, start_stdin_controls
from realtime_style.live.styles import StyleBank, default_arch, resolve_live_styles
from realtime_style.live.window import PreviewWindow, display_available
from realtime_style.live.workers import check_workers, default_threads, default_workers
from realtime_style.progress import LINE_INTERVAL_S

#: Options ``rtstyle webcam --help`` leaves to ``--help-all``.
WEBCAM_TUNING = ("--crossfade", "--precision", "--virtual-cam-device", "--snapshot-dir", "--stats-json", "--fps")
#: Output rate held by default on a CPU, where full-size frames are too slow for live use.
CPU_TARGET_FPS = 15.0
#: Live ``flow`` smoothing computes flow at 320 px wide: on bikes.mp4 (640x360, strength 0.7, gain 0.25)
#: 29 ms a frame and -40% warping error at +7% style ratio, against 64 ms and -45% / +5% at 640 px.
LIVE_FLOW_WIDTH = 320


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "webcam",
        help="stylize a camera live (window, network stream, virtual camera, recording)",
        description="Stylize a camera live. Controls work in the preview window, or as a letter + Enter "
        "on standard input without one; " + HELP + ".",
    )
    styles = parser.add_argument_group("styles")
    styles.add_argument(
        "--style",
        action="append",
        default=[],
        help="style name or model file; repeat to switch between several (default: one per shipped painting, light nets on a CPU)",
    )
    styles.add_argument(
        "--arch",
        choices=sorted(ARCHITECTURES),
        default=None,
        help="network size of shipped styles (default: light on a CPU where the style has it, else standard)",
    )
    styles.add_argument("--crossfade", metavar="N", type=int, default=8, help="frames a style switch blends over (default 8)")
    add_look_arguments(parser)
    add_person_arguments(parser)
    styles.add_argument("--temporal", choices=["off", "ema", "flow"], default="off", help="smoothing against flicker")
    styles.add_argument(
        "--temporal-strength", type=bounded_float(0, 1), default=None, metavar="S", help="smoothing strength (default per mode)"
    )

    capture = parser.add_argument_group("capture")
    where = capture.add_mutually_exclusive_group()
    where.add_argument("--camera", default="0", help="camera index or device path (default 0)")
    where.add_argument("--source", metavar="FILE", help="play a video file as if it were a camera (looped)")
    capture.add_argument(
        "--start", type=seconds(allow_zero=True), default=0.0, metavar="TIME",
        help="with --source: start and loop this far in, e.g. 1:30",
    )
    capture.add_argument("--resolution", metavar="WxH", type=dimensions(2), help="requested capture size, e.g. 1280x720")
    capture.add_argument("--fps", type=positive(float), help="requested capture rate")

    processing = parser.add_argument_group("processing")
    processing.add_argument(
        "--target-fps",
        type=positive(float),
        default=None,
        metavar="FPS",
        help=f"lower/raise the processing size to hold this rate (default {CPU_TARGET_FPS:g} on a CPU, off on GPUs)",
    )
    processing.add_argument("--size", type=dimensions_or_height(SIZE_MULTIPLE), help="fixed size, WxH or a height; disables --target-fps")
    processing.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    processing.add_argument("--precision", choices=PRECISION_NAMES, default="auto", help="network precision (int8: see rtstyle video --help)")
    processing.add_argument(
        "--workers",
        type=positive(int),
        default=None,
        metavar="N",
        help="frames stylized in parallel, each on its own thread and engine (default: 2 on a CPU with 2+ cores, else 1)",
    )
    add_speed_arguments(processing)  # --threads (default: the cores but one, shared by the workers), --no-fast-norm, ...

    outputs = parser.add_argument_group("outputs (several at once are fine)")
    outputs.add_argument(
        "--window",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="preview window with an overlay and key controls (default: on when a display exists)",
    )
    outputs.add_argument("--stream", metavar="URL", action="append", default=[], help="send MPEG-TS/H.264, e.g. udp://127.0.0.1:5000")
    outputs.add_argument("--virtual-cam", action="store_true", help="feed a virtual camera (needs rtstyle[virtualcam])")
    outputs.add_argument("--virtual-cam-device", default=None, help="which virtual camera (e.g. /dev/video10)")
    outputs.add_argument("--record", metavar="FILE", help="record the stylized output to a video file")
    outputs.add_argument("--snapshot-dir", type=Path, default=Path("."), help="where the s key saves PNGs (default .)")

    run_group = parser.add_argument_group("run")
    run_group.add_argument("--max-frames", type=positive(int), metavar="N", help="stop after this many output frames")
    run_group.add_argument("--duration", type=positive(float), metavar="SEC", help="stop after this many seconds")
    run_group.add_argument("--stats-json", metavar="FILE", help="write the run's statistics as JSON")
    run_group.add_argument("-q", "--quiet", action="store_true", help="no status lines")
    mark_advanced_flags(parser, WEBCAM_TUNING)
    parser.set_defaults(handler=run, default_process=live_process_options)


def live_process_options(args: argparse.Namespace) -> ProcessOptions:
    """On a CPU, the cores but one shared out among the workers (``--threads`` overrides); elsewhere PyTorch's count."""
    device = select_device(args.device)
    return ProcessOptions(threads=default_threads(_workers(args, device)) if device.type == "cpu" else None)


def _workers(args: argparse.Namespace, device: torch.device) -> int:
    return args.workers or default_workers(device)


def build_source(args: argparse.Namespace) -> CaptureSource:
    width, height = args.resolution or (None, None)
    request = CaptureRequest(width=width, height=height, fps=args.fps)
    if args.source:
        if not Path(args.source).is_file():
            raise InputError(f"--source {args.source}: no such file")
        return LoopingFileSource(args.source, request, start=args.start)
    if args.start:
        raise UsageError("--start needs --source FILE: a camera cannot start later")
    return CameraSource(parse_camera(args.camera), request)


def build_sinks(args: argparse.Namespace) -> tuple[list[LiveSink], bool]:
    """The outputs asked for, and whether a window is among them."""
    window = args.window if args.window is not None else display_available()
    sinks: list[LiveSink] = [PreviewWindow()] if window else []
    sinks += [StreamSink(url) for url in args.stream]
    if args.virtual_cam:
        sinks.append(VirtualCameraSink(args.virtual_cam_device))
    if args.record:
        if args.source and Path(args.record).resolve() == Path(args.source).resolve():
            raise OutputError("--record must not overwrite the --source file")
        sinks.append(RecordSink(args.record))
    return sinks, window


def run(args: argparse.Namespace) -> int:
    source = build_source(args)
    device = select_device(args.device)
    prefer = default_arch(device, args.arch)
    paths = resolve_live_styles(args.style, args.arch, prefer_arch=prefer)
    workers = _workers(args, device)
    check_workers(workers)
    engine_options = EngineOptions(
        device=args.device, precision=args.precision, batch_size=1, compile_in_background=True, **speed_options(args)
    )
    bank = StyleBank(paths, engine_options)
    person = live_person_from_args(args, engine_options, prefer)
    sinks, window = build_sinks(args)
    if not sinks and not args.stats_json:
        raise UsageError(
            "nothing to show or write: no window (no display, or --no-window) and no --stream, --record, "
            "--virtual-cam or --stats-json"
        )
    target = args.target_fps
    if target is None and args.size is None and device.type == "cpu":
        target = CPU_TARGET_FPS
    options = LiveOptions(
        target_fps=None if args.size else target,
        size=args.size,
        crossfade_frames=max(0, args.crossfade),
        strength=args.strength,
        preserve_color=args.preserve_color,
        temporal=args.temporal != "off",
        max_frames=args.max_frames,
        duration=args.duration,
        snapshot_dir=args.snapshot_dir,
        workers=workers,
        status_every=None if window or args.quiet else LINE_INTERVAL_S,
    )
    session = LiveSession(
        source,
        bank,
        sinks,
        options,
        smoother=_smoother(args),
        log=(lambda message: None) if args.quiet else (lambda message: report(args, message)),
        person=person,
    )
    if not window:
        start_stdin_controls(session.controls)
    report(
        args,
        f"live: {', '.join(bank.names)} on {device}, {workers} worker(s); " + (HELP if window else HELP + " (+ Enter)"),
    )
    if args.speed_compile:
        report(args, COMPILE_NOTE)
    try:
        session.run()
    except KeyboardInterrupt:
        pass  # Ctrl-C is the ordinary end of a live session
    finally:
        if args.stats_json and session.stats.outputs:
            session.stats.write_json(
                args.stats_json,
                {
                    "styles": bank.names,
                    "processing_size": list(session.processing_size),
                    "device": str(device),
                    "workers": workers,
                    "engine": bank.engine(session.state.style).describe(),
                },
            )
    report(args, session.stats.format())
    return 0


def _smoother(args: argparse.Namespace):
    """The smoother the t key toggles: the one asked for (on), else an EMA one (off until toggled)."""
    from realtime_style.temporal import make_smoother

    if args.temporal == "off":
        return make_smoother("ema")
    return make_smoother(args.temporal, args.temporal_strength, flow_width=LIVE_FLOW_WIDTH)
