"""The warping error of Lai et al. (2018): how much a video changes along the motion of its input.

Definition (fixed so that figures compare across tools):

* every frame is resized to a short side of 360 pixels (the output to the input's evaluation size);
* forward flow ``f`` (t -> t+1) and backward flow ``b`` (t+1 -> t) are computed on the grayscale
  *input* frames with OpenCV DIS, preset medium;
* a pixel is occluded where ``|f + b(x+f)|² > 0.01·(|f|² + |b(x+f)|²) + 0.5`` or where ``x + f``
  falls outside the frame; ``M`` is 1 elsewhere;
* ``E_t = Σ M·(O_{t+1}(x+f) − O_t)² / (3·ΣM)`` with RGB in [0, 1] (bilinear sampling), and
  ``E = mean_t E_t`` over the pairs with ``ΣM > 0``.

The same figure for the input video itself is the floor that no output can be expected to beat
(interpolation and flow errors); the ratio of the two is the comparable number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from itertools import zip_longest
from pathlib import Path

import cv2
import numpy as np

from realtime_style.errors import InputError
from realtime_style.media.sources import VideoFileSource
from realtime_style.temporal.flow import FlowEstimator, consistent, to_gray, warp

#: Short side of the frames on which the metric is computed.
EVAL_SHORT_SIDE = 360
#: Largest relative difference of aspect ratio accepted between input and output videos.
ASPECT_TOLERANCE = 0.02


def eval_size(width: int, height: int, short_side: int = EVAL_SHORT_SIDE) -> tuple[int, int]:
    """(width, height) scaled so that the short side is ``short_side`` (rounded to whole pixels)."""
    scale = short_side / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_to(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize uint8 RGB to ``size`` = (width, height): area filter down, bilinear up."""
    h, w = rgb.shape[:2]
    if (w, h) == size:
        return rgb
    interpolation = cv2.INTER_AREA if size[0] < w else cv2.INTER_LINEAR
    return cv2.resize(rgb, size, interpolation=interpolation)


@dataclass
class PairFlow:
    """Forward flow between two input frames and the mask ``M`` of its non-occluded pixels."""

    forward: np.ndarray
    #: bool (H, W): True where not occluded.
    mask: np.ndarray

    @classmethod
    def between(cls, gray0: np.ndarray, gray1: np.ndarray, estimator: FlowEstimator) -> "PairFlow":
        forward = estimator(gray0, gray1)
        backward = estimator(gray1, gray0)
        return cls(forward, consistent(forward, backward))

    def error(self, frame0: np.ndarray, frame1: np.ndarray) -> float | None:
        """``E_t`` for uint8 RGB frames ``O_t``, ``O_{t+1}``; None where every pixel is occluded."""
        total = int(np.count_nonzero(self.mask))
        if total == 0:
            return None
        o0 = frame0.astype(np.float32) / 255.0
        o1 = warp(frame1.astype(np.float32) / 255.0, self.forward)
        squared = np.square(o1 - o0)[self.mask.astype(bool)]
        return float(squared.sum(dtype=np.float64) / (3.0 * total))


@dataclass
class FlickerResult:
    """The warping error of an output video and of its input (the floor), and their ratio."""

    frames: int
    pairs: int
    size: tuple[int, int]
    warping_error: float
    input_warping_error: float
    ratio: float
    skipped_pairs: int = 0
    per_pair: list[float] = field(default_factory=list, repr=False)

    def to_dict(self, per_pair: bool = False) -> dict:
        data = asdict(self)
        data["size"] = list(self.size)
        if not per_pair:
            data.pop("per_pair")
        return data


def _check_aspect(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> None:
    in_aspect = in_shape[1] / in_shape[0]
    out_aspect = out_shape[1] / out_shape[0]
    if abs(out_aspect / in_aspect - 1.0) > ASPECT_TOLERANCE:
        raise InputError(
            f"input is {in_shape[1]}x{in_shape[0]} but output is {out_shape[1]}x{out_shape[0]}: "
            "different aspect ratios cannot be compared frame to frame"
        )


class MotionReference:
    """The input's flows and occlusion masks at the evaluation size, computed once.

    Scores many outputs of one input (e.g. several smoothing modes) without recomputing the flow;
    holds every pair's flow in memory (about 3.6 MB per frame at 640x360), so it suits clips of a
    few hundred frames. :func:`warping_error` streams instead.
    """

    def __init__(self, inputs: Iterable[np.ndarray], short_side: int = EVAL_SHORT_SIDE):
        self.short_side = short_side
        self.shape: tuple[int, ...] | None = None
        self.size: tuple[int, int] = (0, 0)
        self.pairs: list[PairFlow] = []
        floor: list[float] = []
        estimator = FlowEstimator("medium")
        previous: tuple[np.ndarray, np.ndarray] | None = None
        for frame in inputs:
            if self.shape is None:
                self.shape = frame.shape
                self.size = eval_size(frame.shape[1], frame.shape[0], short_side)
            current = resize_to(frame, self.size)
            gray = to_gray(current)
            if previous is not None:
                pair = PairFlow.between(previous[1], gray, estimator)
                self.pairs.append(pair)
                floor.append(pair.error(previous[0], current) or 0.0)
            previous = (current, gray)
        if len(self.pairs) < 1:
            raise InputError(f"the warping error needs at least 2 frames, got {len(self.pairs) + (previous is not None)}")
        self._floor = floor

    @property
    def frames(self) -> int:
        return len(self.pairs) + 1

    def evaluate(self, outputs: Iterable[np.ndarray]) -> FlickerResult:
        """The warping error of ``outputs`` (uint8 RGB frames, as many as the input had)."""
        errors: list[float] = []
        floor: list[float] = []
        count = 0
        previous: np.ndarray | None = None
        for frame in outputs:
            if count == 0 and self.shape is not None:
                _check_aspect(self.shape, frame.shape)
            count += 1
            if count > self.frames:
                continue
            current = resize_to(frame, self.size)
            if previous is not None:
                value = self.pairs[count - 2].error(previous, current)
                if value is not None:
                    errors.append(value)
                    floor.append(self._floor[count - 2])
            previous = current
        if count != self.frames:
            raise InputError(f"frame counts differ: input has {self.frames} frames, output has {count}")
        return _summarize(self.frames, self.size, errors, floor)


def _summarize(frames: int, size: tuple[int, int], errors: list[float], floor: list[float]) -> FlickerResult:
    if not errors:
        raise InputError("every pixel of every frame pair is occluded: no motion could be followed")
    value, base = float(np.mean(errors)), float(np.mean(floor))
    return FlickerResult(
        frames=frames,
        pairs=len(errors),
        size=size,
        warping_error=value,
        input_warping_error=base,
        ratio=value / base if base > 0 else float("inf"),
        skipped_pairs=frames - 1 - len(errors),
        per_pair=errors,
    )


def warping_error(
    inputs: Iterable[np.ndarray], outputs: Iterable[np.ndarray], short_side: int = EVAL_SHORT_SIDE
) -> FlickerResult:
    """The warping error of ``outputs`` along the motion of ``inputs`` (uint8 RGB frames, in order).

    Both sequences are consumed in lockstep, holding two frames of each at a time; a different
    number of frames raises :class:`InputError` naming both counts.
    """
    estimator = FlowEstimator("medium")
    size: tuple[int, int] | None = None
    previous: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    errors: list[float] = []
    floor: list[float] = []
    counts = [0, 0]
    for frame_in, frame_out in zip_longest(inputs, outputs):
        counts[0] += frame_in is not None
        counts[1] += frame_out is not None
        if frame_in is None or frame_out is None:
            continue
        if size is None:
            _check_aspect(frame_in.shape, frame_out.shape)
            size = eval_size(frame_in.shape[1], frame_in.shape[0], short_side)
        current_in, current_out = resize_to(frame_in, size), resize_to(frame_out, size)
        current = (current_in, current_out, to_gray(current_in))
        if previous is not None:
            pair = PairFlow.between(previous[2], current[2], estimator)
            value = pair.error(previous[1], current[1])
            if value is not None:
                errors.append(value)
                floor.append(pair.error(previous[0], current[0]) or 0.0)
        previous = current
    if counts[0] != counts[1]:
        raise InputError(f"frame counts differ: input has {counts[0]} frames, output has {counts[1]}")
    if counts[0] < 2 or size is None:
        raise InputError(f"the warping error needs at least 2 frames, got {counts[0]}")
    return _summarize(counts[0], size, errors, floor)


def evaluate_files(input_path: str | Path, output_path: str | Path, max_frames: int | None = None) -> FlickerResult:
    """The warping error of the video file ``output_path`` against its source ``input_path``."""
    with VideoFileSource(input_path, max_frames=max_frames) as source, VideoFileSource(
        output_path, max_frames=max_frames
    ) as output:
        return warping_error((f.image for f in source), (f.image for f in output))
