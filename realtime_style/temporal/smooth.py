"""Run-time smoothing between stylized frames against flicker: ``off``, ``ema`` and ``flow``.

A smoother (a :class:`~realtime_style.frame_processor.FrameProcessor`) sees each original frame and its stylized version, in order, and returns the
frame to show. ``ema`` blends every output with the previous one (cheap; ghosts under motion).
``flow`` warps the previous output onto the current frame along the optical flow of the
*original* frames and blends it in only where that flow is reliable (forward–backward consistent,
photometrically plausible, inside the image); occluded pixels take the new frame. Both fall back
to the new frame at a scene cut, and ``reset`` forgets all history (call it on seek,
loop or style switch).

``flow`` also takes a batch of frames at once (:meth:`FlowSmoother.process_batch`, what the file pipeline
gives it): the work that depends only on the originals (the flows and where they are reliable) and the
finishing of each output (its contrast restore) run on a pool of threads, so only the warp and blend of
the history stay in order. Same frames as one at a time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import cv2
import numpy as np

from realtime_style.frame_processor import FrameProcessor
from realtime_style.temporal.flow import FlowEstimator, consistent, resize_flow, sample, sample_grid, to_gray, warp

#: Modes accepted by :func:`make_smoother` and the ``--temporal`` option.
MODES = ("off", "ema", "flow")
#: Strength used when none is given, per mode. flow 0.8 balances flicker against texture loss (measured on
#: bikes.mp4, 80 frames: mosaic -46% warping error at +3% style ratio, starry_night -66% at +9%; bench_temporal.py).
DEFAULT_STRENGTH = {"ema": 0.5, "flow": 0.8}

_T = TypeVar("_T")


def default_workers() -> int:
    """Threads a :class:`FlowSmoother` uses on a batch: the CPU's cores, at most 8 (a batch is rarely longer)."""
    return max(1, min(8, os.cpu_count() or 1))


@dataclass
class SceneCutDetector:
    """Detects hard cuts by the Bhattacharyya distance between colour histograms of thumbnails."""

    threshold: float = 0.22
    thumb_width: int = 96
    _previous: np.ndarray | None = field(default=None, init=False, repr=False)

    def _histogram(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        thumb = cv2.resize(rgb, (self.thumb_width, max(1, round(h * self.thumb_width / w))), interpolation=cv2.INTER_AREA)
        hist = cv2.calcHist([thumb], [0, 1, 2], None, [8, 8, 8], [0, 256, 0, 256, 0, 256])
        return cv2.normalize(hist, hist).flatten()

    def distance(self, rgb: np.ndarray) -> float:
        """Distance of ``rgb`` to the previous frame seen (0 for the first); remembers ``rgb``."""
        hist = self._histogram(rgb)
        previous, self._previous = self._previous, hist
        if previous is None:
            return 0.0
        return float(cv2.compareHist(previous, hist, cv2.HISTCMP_BHATTACHARYYA))

    def __call__(self, rgb: np.ndarray) -> bool:
        """True where ``rgb`` starts a new scene (the first frame counts as one)."""
        first = self._previous is None
        return self.distance(rgb) > self.threshold or first

    def reset(self) -> None:
        self._previous = None


def _check_frames(original_rgb: np.ndarray, stylized_rgb: np.ndarray) -> None:
    if stylized_rgb.ndim != 3 or stylized_rgb.shape[2] != 3 or stylized_rgb.dtype != np.uint8:
        raise ValueError(f"stylized frame must be uint8 (H, W, 3), got {stylized_rgb.dtype} {stylized_rgb.shape}")
    if original_rgb.shape != stylized_rgb.shape:
        raise ValueError(f"original {original_rgb.shape} and stylized {stylized_rgb.shape} frames differ in shape")


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """Round and saturate a float image of non-negative values (OpenCV: one fast pass)."""
    return cv2.convertScaleAbs(image)


@dataclass
class EmaSmoother:
    """``out_t = (1 − s)·stylized_t + s·out_{t−1}``, restarting at scene cuts and on :meth:`reset`."""

    strength: float = DEFAULT_STRENGTH["ema"]
    cuts: SceneCutDetector = field(default_factory=SceneCutDetector)
    _state: np.ndarray | None = field(default=None, init=False, repr=False)

    def process(self, original_rgb: np.ndarray, stylized_rgb: np.ndarray) -> np.ndarray:
        _check_frames(original_rgb, stylized_rgb)
        cut = self.cuts(original_rgb)
        current = stylized_rgb.astype(np.float32)
        if cut or self._state is None or self._state.shape != current.shape:
            self._state = current
            return stylized_rgb
        self._state = cv2.addWeighted(current, 1.0 - self.strength, self._state, self.strength, 0.0)
        return _to_uint8(self._state)

    def reset(self) -> None:
        self._state = None
        self.cuts.reset()


@dataclass(frozen=True)
class _Motion:
    """How the previous output comes onto a frame, from the originals alone: where to sample it and how much of it."""

    grid: tuple[np.ndarray, np.ndarray]
    #: Weights per pixel (H, W), float32, of the history and of the new frame (they add up to 1).
    history_weight: np.ndarray
    frame_weight: np.ndarray
    reliable: float


@dataclass
class FlowSmoother:
    """Blend the flow-warped previous output into the new stylized frame where the flow is reliable.

    ``strength`` is the weight of the warped history at a fully reliable pixel. Flow is computed on
    grayscale originals downscaled to ``flow_width`` pixels. A pixel is reliable where the
    forward and backward flows agree, the warped previous original matches the current one within
    ``photometric_tolerance`` grey levels, and it does not come from outside the image. The history
    is dropped at a histogram scene cut or where fewer than ``min_reliable`` of the pixels are reliable.

    Two things keep the texture from washing out (measured on bikes.mp4 with mosaic at strength 0.5,
    against bilinear history and no contrast gain: style ratio +15% -> +8.5% -> +1% with a gain of 0.5):

    - the history is warped with ``history_interpolation`` (bicubic): it is resampled again every
      frame, and repeated bilinear resampling blurs it;
    - averaging two textures lowers local contrast: the output's local standard deviation (Gaussian
      window of ``contrast_sigma`` px) is raised towards the new frame's, by at most a factor
      ``1 + contrast_gain`` (never past the new frame's own contrast). The history keeps the plain blend.

    ``workers``: threads :meth:`process_batch` spreads a batch's flows and contrast restores over.
    """

    strength: float = DEFAULT_STRENGTH["flow"]
    method: str = "medium"
    flow_width: int = 640
    photometric_tolerance: float = 24.0
    min_reliable: float = 0.2
    mask_blur: int = 5
    history_interpolation: int = cv2.INTER_CUBIC
    contrast_gain: float = 1.0
    contrast_sigma: float = 2.0
    workers: int = field(default_factory=default_workers)
    cuts: SceneCutDetector = field(default_factory=SceneCutDetector)
    _estimators: threading.local = field(default_factory=threading.local, init=False, repr=False)
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _gray: np.ndarray | None = field(default=None, init=False, repr=False)
    _state: np.ndarray | None = field(default=None, init=False, repr=False)
    #: Fraction of reliable pixels at the last frame (None where no flow was computed); for logs and tests.
    last_reliable: float | None = field(default=None, init=False)
    #: Whether the last frame restarted the history (first frame, scene cut or unreliable flow).
    last_restarted: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self._estimator()  # checks the method here, not on a worker later

    def _estimator(self) -> FlowEstimator:
        """This thread's own flow estimator (a DIS instance is not shared between threads)."""
        if not hasattr(self._estimators, "estimator"):
            self._estimators.estimator = FlowEstimator(self.method)
        return self._estimators.estimator

    def _flow(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Flow from ``src`` to ``dst`` (so that ``src(x) ≈ dst(x + flow(x))``)."""
        return self._estimator()(src, dst)

    def flow_gray(self, rgb: np.ndarray) -> np.ndarray:
        """The grayscale image the flow is computed on: ``rgb`` at most ``flow_width`` pixels wide."""
        h, w = rgb.shape[:2]
        gray = to_gray(rgb)
        if w <= self.flow_width:
            return gray
        size = (self.flow_width, max(8, round(h * self.flow_width / w)))
        return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)

    def reliability(self, gray: np.ndarray, previous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flow from ``gray`` (current) to ``previous`` and the float32 mask of where it is reliable."""
        back = self._flow(gray, previous)
        fwd = self._flow(previous, gray)
        mask = consistent(back, fwd)
        mask &= cv2.absdiff(warp(previous, back), gray) <= self.photometric_tolerance
        return back, mask.astype(np.float32)

    def process(self, original_rgb: np.ndarray, stylized_rgb: np.ndarray) -> np.ndarray:
        return self.process_batch([original_rgb], [stylized_rgb])[0]

    def process_batch(self, originals: Sequence[np.ndarray], stylized: Sequence[np.ndarray]) -> list[np.ndarray]:
        """:meth:`process` over consecutive frames, in order; the flows and contrast restores run on ``workers`` threads."""
        for original, frame in zip(originals, stylized, strict=True):
            _check_frames(original, frame)
        parallel = len(originals) > 1 and self.workers > 1
        grays = self._map(self.flow_gray, originals, parallel)
        cuts = [self.cuts(original) for original in originals]
        previous = [self._gray, *grays[:-1]]
        if grays:
            self._gray = grays[-1]

        def motion(i: int) -> _Motion | None:
            follows = not cuts[i] and previous[i] is not None and previous[i].shape == grays[i].shape
            return self._motion(grays[i], previous[i], originals[i].shape[:2]) if follows else None

        outputs: list[np.ndarray | Future[np.ndarray]] = []
        for frame, move in zip(stylized, self._map(motion, range(len(grays)), parallel)):
            blended = self._advance(frame, move)
            if blended is None:
                outputs.append(frame)
            elif parallel:
                outputs.append(self._executor().submit(self._finish, *blended))
            else:
                outputs.append(self._finish(*blended))
        return [output.result() if isinstance(output, Future) else output for output in outputs]

    def _motion(self, gray: np.ndarray, previous: np.ndarray, size: tuple[int, int]) -> _Motion:
        """Where and how much of the previous output to take at each pixel of a frame of ``size`` (H, W)."""
        back, mask = self.reliability(gray, previous)
        reliable = float(mask.mean())
        if self.mask_blur > 1:
            mask = cv2.blur(mask, (self.mask_blur, self.mask_blur))
        h, w = size
        weight = cv2.resize(mask * self.strength, (w, h), interpolation=cv2.INTER_LINEAR)
        return _Motion(sample_grid(resize_flow(back, (w, h))), weight, cv2.subtract(1.0, weight), reliable)

    def _advance(self, stylized_rgb: np.ndarray, motion: _Motion | None) -> tuple[np.ndarray, np.ndarray] | None:
        """Take one frame into the history: the new history and the frame as float32, or None where it restarts."""
        current = stylized_rgb.astype(np.float32)
        state = self._state
        self.last_reliable = None
        self.last_restarted = True
        self._state = current
        if motion is None or state is None or state.shape != current.shape:
            return None
        self.last_reliable = motion.reliable
        if motion.reliable < self.min_reliable:
            return None
        history = sample(state, motion.grid, self.history_interpolation)
        self._state = cv2.blendLinear(current, history, motion.frame_weight, motion.history_weight)
        self.last_restarted = False
        return self._state, current

    def _finish(self, blend: np.ndarray, current: np.ndarray) -> np.ndarray:
        """The output shown for a blended history: its contrast restored towards the new frame's, in uint8."""
        if self.contrast_gain > 0:
            return _to_uint8(restore_contrast(blend, current, self.contrast_gain, self.contrast_sigma))
        return _to_uint8(blend)

    def _map(self, function: Callable[..., _T], items: Iterable, parallel: bool) -> list[_T]:
        """``function`` over ``items``, in order: on the pool where ``parallel``, else on this thread."""
        if parallel:
            return list(self._executor().map(function, items))
        return [function(item) for item in items]

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="rtstyle-smooth")
        return self._pool

    def reset(self) -> None:
        self._gray = None
        self._state = None
        self.last_reliable = None
        self.last_restarted = False
        self.cuts.reset()


#: cv2.transform matrix summing three channels into one.
_CHANNEL_SUM = np.ones((1, 3), np.float32)


def _local_mean_detail_and_energy(image: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian local mean (H, W, 3), the detail around it (H, W, 3) and the local variance summed over channels
    (H, W): the channels are summed before the blur (it is linear), so one channel is blurred, not three."""
    mean = cv2.GaussianBlur(image, (0, 0), sigma)
    detail = cv2.subtract(image, mean)
    squared = cv2.transform(cv2.multiply(detail, detail), _CHANNEL_SUM)
    return mean, detail, cv2.GaussianBlur(squared, (0, 0), sigma)


def restore_contrast(blend: np.ndarray, reference: np.ndarray, max_gain: float, sigma: float) -> np.ndarray:
    """``blend`` with its local detail scaled up towards ``reference``'s local contrast (gain 1 .. 1 + max_gain).

    Float32 (H, W, 3) images in 0..255. Where the blend is as contrasty as the reference (no history
    blended in, or history that agrees with the frame) it is returned unchanged. OpenCV throughout: with numpy's
    channel sum and arithmetic it took 215 ms a 1080p frame, now 92 (benchmarks/bench_smoother.py, 2-core Zen 1 EPYC).
    """
    mean, detail, blend_energy = _local_mean_detail_and_energy(blend, sigma)
    _, _, reference_energy = _local_mean_detail_and_energy(reference, sigma)
    gain = cv2.sqrt(cv2.divide(reference_energy + 1.0, blend_energy + 1.0))
    np.clip(gain, 1.0, 1.0 + max_gain, out=gain)
    return cv2.add(mean, cv2.multiply(detail, cv2.merge([gain] * 3)))


def make_smoother(mode: str, strength: float | None = None, flow_width: int | None = None) -> FrameProcessor | None:
    """The smoother for ``mode`` (``off`` gives None); ``strength`` in [0, 1], None for the mode's default.

    ``flow_width``: width ``flow`` computes optical flow at (None: :class:`FlowSmoother`'s default).
    """
    if mode not in MODES:
        raise ValueError(f"temporal mode must be one of {', '.join(MODES)}; got {mode!r}")
    if mode == "off":
        return None
    value = DEFAULT_STRENGTH[mode] if strength is None else float(strength)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"temporal strength must be between 0 and 1, got {value}")
    if mode == "ema":
        return EmaSmoother(value)
    return FlowSmoother(value) if flow_width is None else FlowSmoother(value, flow_width=flow_width)
