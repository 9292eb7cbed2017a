"""The ``rtstyle`` command: parse, validate, call the library. No logic of its own.

Each subcommand lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``handler``. User errors (:class:`RtStyleError`) print one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# OpenCV before PyAV: PyAV bundles its own libxcb, and an OpenCV window opened after PyAV loaded
# livelocks on Linux (PyAV issue #978). `rtstyle webcam`'s preview window needs this order.
import cv2  # noqa: F401, I001

from realtime_style.errors import RtStyleError

#: Modules that register subcommands, in the order ``rtstyle --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "realtime_style.cli.video",
    "realtime_style.cli.still",
    "realtime_style.cli.webcam",
    "realtime_style.cli.catalog",
    "realtime_style.cli.eval",
    "realtime_style.cli.demo",
    "realtime_style.cli.train",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtstyle", description="Real-time neural style transfer for video.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except RtStyleError as exc:
        print(f"rtstyle: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("rtstyle: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
