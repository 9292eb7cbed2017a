"""The person modes in a live session: segmenting on the engine workers, one steady mask on the loop.

Each worker segments its own frame (its own LiteRT interpreter) and, in person-style mode, runs its
replica of the person style, in parallel with the other workers; the loop thread then smooths the
masks in capture order (:class:`~realtime_style.person.matte.Matte` needs the frames in sequence)
and composes. The segmenter is made on first use, so a session without ``rtstyle[person]`` runs
as before until a person mode is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from realtime_style.person.compose import PersonMode, PersonOptions, compose, live_modes
from realtime_style.person.matte import Matte
from realtime_style.person.segmenter import PersonSegmenter, model_for
from realtime_style.runtime.engine import Engine


@dataclass(frozen=True)
class PersonWork:
    """What a worker does for the person in one frame: segment it, and maybe paint it."""

    mode: PersonMode
    segmenter: PersonSegmenter
    #: This worker's replica of the person style (person-style mode only).
    engine: Engine | None


class LivePerson:
    """The live session's person state: the modes the key cycles, per-worker segmenters, the matte.

    ``person_engine(worker)`` gives a worker's replica of the person style (None: no person style).
    """

    def __init__(
        self,
        options: PersonOptions,
        person_engine: Callable[[int], Engine] | None = None,
        person_style_name: str | None = None,
    ):
        self.mode = options.mode
        self.modes = live_modes(person_engine is not None)
        self.matte = Matte(options.matte)
        self.person_style_name = person_style_name
        self._person_engine = person_engine
        self._segmenters: dict[tuple[int, str], PersonSegmenter] = {}

    def next_mode(self) -> PersonMode:
        """The mode after the current one in the key's cycle."""
        index = self.modes.index(self.mode) if self.mode in self.modes else 0
        return self.modes[(index + 1) % len(self.modes)]

    def label(self, mode: PersonMode | None = None) -> str:
        mode = mode or self.mode
        if mode is PersonMode.PERSON_STYLE and self.person_style_name:
            return f"person: {self.person_style_name}"
        return f"person: {mode.value}"

    def work(self, worker: int, size: tuple[int, int]) -> PersonWork | None:
        """The job's person work for frames of ``size`` (width, height); None when the mode is off."""
        if self.mode is PersonMode.OFF:
            return None
        name = model_for(*size)
        if (worker, name) not in self._segmenters:
            self._segmenters[worker, name] = PersonSegmenter(name)
        engine = self._person_engine(worker) if self.mode is PersonMode.PERSON_STYLE else None
        return PersonWork(self.mode, self._segmenters[worker, name], engine)

    def compose(
        self, mode: PersonMode, original: np.ndarray, stylized: np.ndarray, probability: np.ndarray, person: np.ndarray | None
    ) -> np.ndarray:
        """The frame for ``mode`` (the mode its job was made under), with the mask smoothed over the frames shown.

        ``person`` (the person style's frame) may be smaller than ``original``; it is resized to it.
        """
        height, width = original.shape[:2]
        if person is not None and person.shape[:2] != (height, width):
            import cv2

            person = cv2.resize(person, (width, height), interpolation=cv2.INTER_LINEAR)
        return compose(mode, self.matte.mask(probability, (width, height)), original, stylized, person)
