"""``rtstyle demo``: stylize a generated clip with a shipped style; writes a video and a side-by-side still."""

from __future__ import annotations

import argparse
import re

from realtime_style.cli.common import positive, report
from realtime_style.cli.speed import add_backend_argument
from realtime_style.cli.temporal import add_temporal_arguments, smoother_from_args, smoothing_cost_note
from realtime_style.demo import DEFAULT_STYLE, DemoOptions, run_demo


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="stylize a short generated clip: the quickest way to see rtstyle work",
        description=(
            "Draws a landscape, films a slow pan and zoom over it, stylizes the clip with a shipped style "
            "(its light variant when one ships) and writes rtstyle-demo.mp4 and a side-by-side still "
            "rtstyle-demo.png (original | stylized). Needs nothing but the installed package."
        ),
    )
    parser.add_argument(
        "--style", default=DEFAULT_STYLE, help=f"shipped style name or model file (default {DEFAULT_STYLE})"
    )
    parser.add_argument("--out", default="rtstyle-demo", metavar="DIR", help="output folder (default ./rtstyle-demo/)")
    parser.add_argument("--size", type=_size, default=(640, 360), metavar="WxH", help="clip size (default 640x360)")
    parser.add_argument(
        "--seconds", type=positive(float), default=DemoOptions.seconds, help="clip length in seconds (default 4)"
    )
    parser.add_argument("--fps", type=positive(int), default=25, help="frame rate (default 25)")
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    add_backend_argument(parser, default="auto")
    add_temporal_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(handler=run)


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)[x:](\d+)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 640x360; got {text!r}")
    width, height = int(match[1]), int(match[2])
    if not (32 <= width <= 7680 and 32 <= height <= 4320) or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(f"width and height must be even and between 32 and 7680x4320; got {text}")
    return width, height


def run(args: argparse.Namespace) -> int:
    width, height = args.size
    options = DemoOptions(width=width, height=height, seconds=args.seconds, fps=args.fps)
    smoother = smoother_from_args(args)
    result = run_demo(
        args.out,
        args.style,
        options,
        device=args.device,
        backend=args.speed_backend,
        progress=not args.quiet,
        postprocess=[smoother] if smoother else [],
    )
    report(
        args,
        f"{result.frames} frames of {width}x{height} stylized with {result.style} on {result.device} "
        f"in {result.seconds:.1f} s ({result.fps:.1f} fps)",
    )
    if note := smoothing_cost_note(smoother, result.seconds):
        report(args, note)
    print(result.video)
    print(result.still)
    return 0
