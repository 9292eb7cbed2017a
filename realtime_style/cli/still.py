"""``rtstyle still IN OUT --style NAME``: stylize an image, or a folder of images into a folder.

The command is split so that other ways of stylizing a still (e.g. per-image optimization) can
be added as arguments in :func:`register` and a branch in :func:`make_transform`.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import closing
from pathlib import Path

from realtime_style.api import ImagesResult, ImageTransform, transform_images
from realtime_style.cli.common import (
    add_stylize_arguments,
    describe_stylizer,
    report,
    resize_from_args,
    stylizer_from_args,
    warn,
)
from realtime_style.cli.person import refuse_person_arguments
from realtime_style.cli.still_optimize import add_optimize_arguments, check_fast_arguments, run_optimize
from realtime_style.errors import InputError, UsageError
from realtime_style.media.paint_scale import DEFAULT_PAINT_SIZE, PaintAtScale
from realtime_style.progress import StepsProgress

#: Exit status of a run stopped by Ctrl-C.
EXIT_INTERRUPTED = 130


def non_negative_int(text: str) -> int:
    """argparse type: 0 or a positive whole number."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected 0 or a positive whole number, got {text!r}")
    return int(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "still",
        help="stylize an image or a folder of images",
        description="Stylize an image file, or every image in a folder into a folder under the same names.",
    )
    parser.add_argument("input", metavar="IN", help="input image file or folder")
    parser.add_argument("output", metavar="OUT", help="output image file (format by extension) or folder")
    size = add_stylize_arguments(parser, style_required=False)  # --optimize needs none; check_fast_arguments asks
    size.add_argument(
        "--paint-size",
        type=non_negative_int,
        default=None,
        metavar="PX",
        help=f"paint larger photos at this long side, the style's scale, then scale up (default {DEFAULT_PAINT_SIZE}; "
        "0: full size, finer texture)",
    )
    add_optimize_arguments(parser)
    parser.set_defaults(handler=run)


def make_transform(args: argparse.Namespace) -> tuple[ImageTransform, str]:
    """The image transform the arguments ask for, and a description of it for the log."""
    stylizer = stylizer_from_args(args, probe_backends=Path(args.input).is_dir())  # one photo would not repay a probe
    return stylizer.stylize_image, describe_stylizer(args, stylizer)  # type: ignore[return-value]  # arrays in, arrays out


def run(args: argparse.Namespace) -> int:
    if args.optimize:
        refuse_person_arguments(args, "works with the fast networks, not with --optimize")
        return run_optimize(args)
    check_fast_arguments(args)
    if args.batch_size is not None:
        raise UsageError("--batch-size applies only to video: stills are stylized one at a time")
    transform, description = make_transform(args)
    painter = PaintAtScale(transform, DEFAULT_PAINT_SIZE if args.paint_size is None else args.paint_size)
    report(args, f"{args.input} -> {args.output} with {description}")
    started = time.perf_counter()
    progress = StepsProgress(f"stylizing {Path(args.input).name}", "image", enabled=not args.quiet)
    with closing(progress):
        try:
            result = transform_images(args.input, args.output, painter, resize_from_args(args), progress)
        except KeyboardInterrupt:
            result = None
    if result is None:
        warn(f"interrupted: {progress.done} of {progress.total} images done, in {args.output}; the rest not started")
        return EXIT_INTERRUPTED
    for _, message in result.failed:
        print(f"rtstyle: warning: skipped {message}", file=sys.stderr)
    if painter.rescaled and args.paint_size is None:  # a --paint-size given is no news to its user
        report(args, paint_note(painter))
    report(args, summary(result, time.perf_counter() - started))
    if result.failed:
        total = len(result.failed) + len(result.written)
        raise InputError(f"{len(result.failed)} of {total} images were skipped (see the warnings above)")
    return 0


def paint_note(painter: PaintAtScale) -> str:
    """Why a large photo's output looks as it does (painted at full size, its texture is faint)."""
    which = "1 image was" if painter.rescaled == 1 else f"{painter.rescaled} images were"
    return (
        f"{which} painted at a long side of {painter.long_side} px, the style's scale, and scaled back up; "
        "--paint-size 0 paints at full size (finer, fainter texture; slower)"
    )


def summary(result: ImagesResult, seconds: float) -> str:
    count = len(result.written)
    where = result.written[0] if count == 1 else f"{count} images"
    return f"wrote {where} in {seconds:.1f} s"
