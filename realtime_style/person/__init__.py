"""Person-aware stylization: keep the person (or the room) as it is, or paint the person in a second style.

:mod:`~realtime_style.person.segmenter` finds the person (a small shipped model, run by LiteRT),
:mod:`~realtime_style.person.matte` makes the mask soft and steady, and
:mod:`~realtime_style.person.compose` puts the pictures together.
"""

from realtime_style.person.compose import KEEP_CHOICES, PersonCompositor, PersonMode, PersonOptions, compose, live_modes
from realtime_style.person.matte import Matte, MatteOptions
from realtime_style.person.segmenter import MissingExtraError, PersonSegmenter

__all__ = [
    "KEEP_CHOICES",
    "Matte",
    "MatteOptions",
    "MissingExtraError",
    "PersonCompositor",
    "PersonMode",
    "PersonOptions",
    "PersonSegmenter",
    "compose",
    "live_modes",
]
