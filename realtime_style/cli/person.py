"""``--keep person|background``, ``--person-style NAME`` and the mask's look, shared by still, video and webcam."""

from __future__ import annotations

import argparse

from realtime_style.cli.parser import mark_advanced
from realtime_style.cli.argtypes import bounded_float
from realtime_style.errors import InputError
from realtime_style.person import KEEP_CHOICES, MatteOptions, PersonMode, PersonOptions
from realtime_style.person.live import LivePerson
from realtime_style.person.segmenter import require_runtime
from realtime_style.runtime.engine import EngineOptions

_DEFAULT = MatteOptions()


def add_person_arguments(parser: argparse.ArgumentParser) -> None:
    """--keep / --person-style (needs rtstyle[person]); the mask's tuning behind --help-all."""
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--keep", choices=KEEP_CHOICES, default=None, help="keep this region as it is (rtstyle[person])")
    choice.add_argument("--person-style", metavar="NAME", default=None, help="paint the person in a second style")
    mark_advanced(parser.add_argument(
        "--mask-smoothing",
        type=bounded_float(0.0, 0.99),
        default=_DEFAULT.smoothing,
        help=f"share of the previous frame's mask kept in each frame, against flicker (0: off; default {_DEFAULT.smoothing:g})",
    ))
    mark_advanced(parser.add_argument(
        "--mask-feather",
        type=bounded_float(0.0, 20.0),
        default=_DEFAULT.feather,
        help=f"softness of the mask's edge, in pixels of the 256-px mask (default {_DEFAULT.feather:g})",
    ))


def person_from_args(args: argparse.Namespace) -> PersonOptions:
    """The person options asked for (all off for a command without these arguments)."""
    if not hasattr(args, "keep"):
        return PersonOptions()
    matte = MatteOptions(smoothing=args.mask_smoothing, feather=args.mask_feather)
    return PersonOptions(keep=args.keep, person_style=args.person_style, matte=matte)


def refuse_person_arguments(args: argparse.Namespace, reason: str) -> None:
    """One clear line when ``--keep``/``--person-style`` meet a mode that cannot honour them."""
    for flag, value in (("--keep", getattr(args, "keep", None)), ("--person-style", getattr(args, "person_style", None))):
        if value is not None:
            raise InputError(f"{flag} {reason}")


def live_person_from_args(args: argparse.Namespace, options: EngineOptions, prefer_arch: str | None) -> LivePerson:
    """The live person modes: the one asked for to start with, the person style's engines if any.

    A start in a person mode without ``rtstyle[person]`` fails here, before the camera opens.
    """
    from realtime_style.live.styles import StyleBank, resolve_live_styles, style_label

    person = person_from_args(args)
    if person.mode is not PersonMode.OFF:
        require_runtime()
    if person.person_style is None:
        return LivePerson(person)
    path = resolve_live_styles([str(person.person_style)], args.arch, prefer_arch=prefer_arch)[0]
    bank = StyleBank([path], options)
    bank.engine(0)  # a bad model file fails before the camera opens
    return LivePerson(person, lambda worker: bank.engine(0, worker), style_label(path))
