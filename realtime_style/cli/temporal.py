"""``--temporal off|ema|flow`` and ``--temporal-strength``: options shared by the commands that write video files.

Files default to ``flow``: it cuts the warping error by 44-82 % at 1-6 % of the style (docs/flicker.md) and adds
5-20 % to a run's time on a 2-core CPU (the light nets: the most). On a GPU the smoother, which runs on the CPU beside
it, can bound the speed: the summary then says so.
"""

from __future__ import annotations

import argparse

from realtime_style.cli.common import bounded_float
from realtime_style.frame_processor import Timed
from realtime_style.temporal import DEFAULT_STRENGTH, MODES, make_smoother


#: The mode a video file gets unless told.
DEFAULT_MODE = "flow"
#: The smoother's share of the wall time past which the summary names it as what bounded the speed (it runs on its own
#: thread, beside the network: a light net on 2 cores keeps it busy about half the time for 15 % more time in all).
NOTABLE_SHARE = 0.75


def add_temporal_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("temporal smoothing")
    group.add_argument(
        "--temporal",
        choices=MODES,
        default=DEFAULT_MODE,
        help="against flicker: flow blends in the previous output, warped along the optical flow, where the "
        f"flow is reliable; ema blends it in as it is (default {DEFAULT_MODE})",
    )
    defaults = ", ".join(f"{mode} {value}" for mode, value in DEFAULT_STRENGTH.items())
    group.add_argument(
        "--temporal-strength",
        type=bounded_float(0, 1),
        default=None,
        metavar="S",
        help=f"weight of the previous output, 0-1 (default per mode: {defaults})",
    )


def smoother_from_args(args: argparse.Namespace) -> Timed | None:
    """The smoother the options ask for, timed (see :func:`smoothing_cost_note`), or None for ``off``."""
    smoother = make_smoother(args.temporal, args.temporal_strength)
    return Timed(smoother) if smoother is not None else None


def smoothing_cost_note(smoother: Timed | None, seconds: float) -> str | None:
    """A line for the summary when the smoother took a large share of a run's ``seconds`` (a fast GPU, a huge frame)."""
    if smoother is None or seconds <= 0 or smoother.seconds / seconds < NOTABLE_SHARE:
        return None
    return (
        f"the flicker smoothing (on the CPU) was busy {smoother.seconds / seconds:.0%} of the time: it bounded the "
        "speed; --temporal off skips it"
    )
