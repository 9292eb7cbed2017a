"""Which picture goes where: the person and the rest of the frame, each from the input or a style.

===================  ==========================  ===================
mode                 person shows                the rest shows
===================  ==========================  ===================
``off``              the style                   the style
``keep person``      the input                   the style
``keep background``  the style                   the input
``person style``     the second (person) style   the style
===================  ==========================  ===================
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from realtime_style.person.matte import Matte, MatteOptions
from realtime_style.person.segmenter import PersonSegmenter, model_for, require_runtime

#: What ``--keep`` accepts.
KEEP_CHOICES = ("person", "background")


class PersonMode(enum.Enum):
    OFF = "off"
    KEEP_PERSON = "keep person"
    KEEP_BACKGROUND = "keep background"
    PERSON_STYLE = "person style"


def live_modes(person_style: bool) -> list[PersonMode]:
    """The modes the live key cycles through, in order (the person style only when one is loaded)."""
    modes = [PersonMode.OFF, PersonMode.KEEP_PERSON, PersonMode.KEEP_BACKGROUND]
    return modes + [PersonMode.PERSON_STYLE] if person_style else modes


@dataclass(frozen=True)
class PersonOptions:
    """``--keep`` and ``--person-style`` (at most one of them), and how the mask is made."""

    keep: str | None = None
    #: A style name or model file that paints the person (a second network).
    person_style: str | Path | None = None
    matte: MatteOptions = field(default_factory=MatteOptions)

    def __post_init__(self) -> None:
        if self.keep is not None and self.keep not in KEEP_CHOICES:
            raise ValueError(f"keep must be one of {', '.join(KEEP_CHOICES)}, got {self.keep!r}")
        if self.keep is not None and self.person_style is not None:
            raise ValueError("choose --keep or --person-style, not both (keep background = style the person only)")

    @property
    def mode(self) -> PersonMode:
        if self.keep == "person":
            return PersonMode.KEEP_PERSON
        if self.keep == "background":
            return PersonMode.KEEP_BACKGROUND
        return PersonMode.PERSON_STYLE if self.person_style is not None else PersonMode.OFF


def blend(mask: np.ndarray, person: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """``mask * person + (1 - mask) * rest`` for uint8 RGB frames and a float32 mask of their size."""
    import cv2

    return cv2.blendLinear(person, rest, mask, 1.0 - mask)


def compose(
    mode: PersonMode,
    mask: np.ndarray,
    original: np.ndarray,
    stylized: np.ndarray,
    person_stylized: np.ndarray | None = None,
) -> np.ndarray:
    """The frame ``mode`` asks for from the input, its stylization, the person style's, and the mask."""
    if mode is PersonMode.OFF:
        return stylized
    if mode is PersonMode.KEEP_PERSON:
        return blend(mask, original, stylized)
    if mode is PersonMode.KEEP_BACKGROUND:
        return blend(mask, stylized, original)
    if person_stylized is None:
        raise ValueError("person-style mode needs the person style's frame")
    return blend(mask, person_stylized, stylized)


class PersonCompositor:
    """Segments each frame, smooths the mask over the frames, and composes (a file-pipeline post-processor).

    ``process(original, stylized)`` fits :class:`~realtime_style.frame_processor.FrameProcessor`;
    ``person_stylize`` (uint8 RGB frame -> frame) paints the person in ``person-style`` mode.
    Call :meth:`reset` between unrelated images, so one's mask does not leak into the next.
    """

    def __init__(
        self,
        options: PersonOptions,
        person_stylize: Callable[[np.ndarray], np.ndarray] | None = None,
        threads: int = 1,
    ):
        if options.mode is PersonMode.PERSON_STYLE and person_stylize is None:
            raise ValueError("a person style needs its stylizer")
        if options.mode is not PersonMode.OFF:
            require_runtime()  # a missing extra says so now, not at the first frame
        self.mode = options.mode
        self.matte = Matte(options.matte)
        self.person_stylize = person_stylize
        self._threads = threads
        self._segmenters: dict[str, PersonSegmenter] = {}

    def segmenter(self, width: int, height: int) -> PersonSegmenter:
        """The segmenter for frames of this shape (made once per model)."""
        name = model_for(width, height)
        if name not in self._segmenters:
            self._segmenters[name] = PersonSegmenter(name, self._threads)
        return self._segmenters[name]

    def reset(self) -> None:
        self.matte.reset()

    def mask(self, original: np.ndarray) -> np.ndarray:
        """The steady, feathered person mask (float32, 1 = person) at the frame's size."""
        height, width = original.shape[:2]
        return self.matte.mask(self.segmenter(width, height)(original), (width, height))

    def process(self, original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        if self.mode is PersonMode.OFF:
            return stylized
        if original.shape != stylized.shape:
            raise ValueError(f"input {original.shape} and stylized {stylized.shape} frames differ in size")
        person = self.person_stylize(original) if self.mode is PersonMode.PERSON_STYLE else None
        return compose(self.mode, self.mask(original), original, stylized, person)
