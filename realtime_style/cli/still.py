"""``rtstyle still IN OUT --style NAME``: stylize an image, or a folder of images into a folder.

The command is split so that other ways of stylizing a still (e.g. per-image optimization) can
be added as arguments in :func:`register` and a branch in :func:`make_transform`.
"""

from __future__ import annotations

import argparse
import sys
import time

from realtime_style.api import ImagesResult, ImageTransform, transform_images
from realtime_style.cli.common import add_stylize_arguments, report, resize_from_args, stylizer_from_args
from realtime_style.cli.person import refuse_person_arguments
from realtime_style.cli.still_optimize import add_optimize_arguments, check_fast_arguments, run_optimize
from realtime_style.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "still",
        help="stylize an image or a folder of images",
        description="Stylize an image file, or every image in a folder into a folder under the same names.",
    )
    parser.add_argument("input", metavar="IN", help="input image file or folder")
    parser.add_argument("output", metavar="OUT", help="output image file (format by extension) or folder")
    add_stylize_arguments(parser)
    add_optimize_arguments(parser)
    parser.set_defaults(handler=run)


def make_transform(args: argparse.Namespace) -> tuple[ImageTransform, str]:
    """The image transform the arguments ask for, and a description of it for the log."""
    stylizer = stylizer_from_args(args)
    return stylizer.stylize_image, stylizer.describe()  # type: ignore[return-value]  # arrays in, arrays out


def run(args: argparse.Namespace) -> int:
    if args.optimize:
        refuse_person_arguments(args, "works with the fast networks, not with --optimize")
        return run_optimize(args)
    check_fast_arguments(args)
    transform, description = make_transform(args)
    report(args, f"{args.input} -> {args.output} with {description}")
    started = time.perf_counter()
    result = transform_images(args.input, args.output, transform, resize_from_args(args))
    for _, message in result.failed:
        print(f"rtstyle: warning: skipped {message}", file=sys.stderr)
    report(args, summary(result, time.perf_counter() - started))
    if result.failed:
        total = len(result.failed) + len(result.written)
        raise InputError(f"{len(result.failed)} of {total} images could not be read (see the warnings above)")
    return 0


def summary(result: ImagesResult, seconds: float) -> str:
    count = len(result.written)
    where = result.written[0] if count == 1 else f"{count} images"
    return f"wrote {where} in {seconds:.1f} s"
