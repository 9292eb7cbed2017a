"""The ``rtstyle`` command: parse, validate, call the library. No logic of its own.

Each subcommand lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``handler``. User errors (:class:`RtStyleError`) print one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# OpenMP threads that spin while waiting for a peer collapse when another process holds a core. On the
# 2-core EPYC, `rtstyle video --arch light` (2 threads) next to a training job: 1.2 fps spinning, 11.4 fps
# passive; next to one busy loop 5.1 vs 11.9 fps. The price on an idle machine: 19.9 vs 14.9 fps (light,
# median of 3; the standard net showed no loss). libgomp reads this when torch loads: set before any
# torch import; OMP_WAIT_POLICY=ACTIVE in the environment restores spinning.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# OpenCV before PyAV: PyAV bundles its own libxcb, and an OpenCV window opened after PyAV loaded
# livelocks on Linux (PyAV issue #978). `rtstyle webcam`'s preview window needs this order.
import cv2  # noqa: F401, I001

from realtime_style.cli.outcome import DEBUG_VARIABLE, run_reporting_errors
from realtime_style.cli.parser import HELP_ALL, CommandParser, settle_help
from realtime_style.cli.speed import process_options
from realtime_style.runtime.process import configure_process, usable_cores

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


def build_parser(show_advanced: bool = False) -> argparse.ArgumentParser:
    """The whole command line; ``show_advanced`` lists the tuning switches in ``--help`` (``--help-all``)."""
    from realtime_style import __version__

    parser = CommandParser(prog="rtstyle", description="Real-time neural style transfer for video.")
    parser.add_argument("--version", action="version", version=f"rtstyle {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help=f"show the traceback of an unexpected error (also {DEBUG_VARIABLE}=1)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    settle_help(parser, show_advanced)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(show_advanced=HELP_ALL in argv)
    args = parser.parse_args(argv)
    return run_reporting_errors(lambda: _configured_run(args), "rtstyle", debug=args.debug)


def _configured_run(args: argparse.Namespace) -> int:
    """Set the process up once for the whole command (threads, malloc, cuDNN), then run it."""
    from realtime_style.cli.common import warn  # the library's API, PyAV with it: not for `import realtime_style.cli.X`

    options = process_options(args)
    if options.threads and options.threads > (cores := usable_cores()):
        warn(f"--threads {options.threads} is more than the {cores} usable CPU core(s): the extra threads only wait "
             "for one another (slower, not faster)")
    configure_process(options)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
