"""``--temporal off|ema|flow`` and ``--temporal-strength``: options shared by the commands that smooth."""

from __future__ import annotations

import argparse

from realtime_style.cli.common import bounded_float
from realtime_style.frame_processor import FrameProcessor
from realtime_style.temporal import DEFAULT_STRENGTH, MODES, make_smoother


def add_temporal_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("temporal smoothing")
    group.add_argument(
        "--temporal",
        choices=MODES,
        default="off",
        help="smoothing against flicker: ema blends with the previous output; flow warps it along the "
        "optical flow and blends it where the flow is reliable (default off)",
    )
    defaults = ", ".join(f"{mode} {value}" for mode, value in DEFAULT_STRENGTH.items())
    group.add_argument(
        "--temporal-strength",
        type=bounded_float(0, 1),
        default=None,
        metavar="S",
        help=f"weight of the previous output, 0-1 (default per mode: {defaults})",
    )


def smoother_from_args(args: argparse.Namespace) -> FrameProcessor | None:
    """The smoother the options ask for, or None for ``off``."""
    return make_smoother(args.temporal, args.temporal_strength)
