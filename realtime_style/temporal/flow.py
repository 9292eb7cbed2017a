"""Dense optical flow and backward warping on numpy images (OpenCV DIS or Farneback).

Conventions: a flow ``f`` from image A to image B is (H, W, 2) float32 in pixels, ``(dx, dy)``,
such that ``A(x) ≈ B(x + f(x))``. :func:`warp` samples an image at ``x + f(x)``, so
``warp(B, f)`` brings B onto A's pixel grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

#: OpenCV DIS presets by name.
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
#: Flow methods by name: the DIS presets and ``farneback``.
FLOW_METHODS = (*DIS_PRESETS, "farneback")
#: DIS fails on images with a short side under 32 px and a long one a few times that (an OpenCV assertion, or a
#: segmentation fault; OpenCV 5.1, probed in subprocesses):
#: smaller images are enlarged to this short side for the flow, which is scaled back.
MIN_FLOW_SIDE = 32


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) RGB -> uint8 (H, W) luma."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


@dataclass
class FlowEstimator:
    """Dense flow between two uint8 grayscale images of the same size, by a named method.

    A DIS instance is created once and reused (its construction is not free); the estimator is
    therefore stateful in the OpenCV sense only, not in its results.
    """

    method: str = "medium"
    _dis: cv2.DISOpticalFlow | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.method not in FLOW_METHODS:
            raise ValueError(f"flow method must be one of {', '.join(FLOW_METHODS)}; got {self.method!r}")
        if self.method in DIS_PRESETS:
            self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[self.method])

    def __call__(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Flow from ``src`` to ``dst`` (so that ``src(x) ≈ dst(x + flow(x))``)."""
        h, w = src.shape[:2]
        if min(h, w) < MIN_FLOW_SIDE:
            factor = MIN_FLOW_SIDE / min(h, w)
            size = (max(MIN_FLOW_SIDE, round(w * factor)), max(MIN_FLOW_SIDE, round(h * factor)))
            big = self(*(cv2.resize(image, size, interpolation=cv2.INTER_LINEAR) for image in (src, dst)))
            return resize_flow(big, (w, h))
        if self._dis is not None:
            return self._dis.calc(src, dst, None)
        return cv2.calcOpticalFlowFarneback(src, dst, None, 0.5, 3, 15, 3, 5, 1.2, 0)


def sample_grid(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absolute sampling coordinates ``x + f(x)`` as the two float32 maps :func:`cv2.remap` takes."""
    h, w = flow.shape[:2]
    xs = np.arange(w, dtype=np.float32)[None, :] + flow[..., 0]
    ys = np.arange(h, dtype=np.float32)[:, None] + flow[..., 1]
    return xs, ys


def warp(image: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Sample ``image`` at ``x + flow(x)``, bilinear unless told (edge pixels repeat outside the image)."""
    return sample(image, sample_grid(flow), interpolation)


def sample(image: np.ndarray, grid: tuple[np.ndarray, np.ndarray], interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """``image`` at the coordinates of ``grid`` (from :func:`sample_grid`); edge pixels repeat outside the image."""
    return cv2.remap(image, *grid, interpolation, borderMode=cv2.BORDER_REPLICATE)


def inside(flow: np.ndarray) -> np.ndarray:
    """Bool (H, W): where ``x + flow(x)`` lands inside the image."""
    h, w = flow.shape[:2]
    xs, ys = sample_grid(flow)
    return (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)


def consistent(forward: np.ndarray, backward: np.ndarray, alpha: float = 0.01, beta: float = 0.5) -> np.ndarray:
    """Bool (H, W): forward–backward consistent pixels of ``forward`` (A->B) given ``backward`` (B->A).

    The test of Sundaram et al. used by Lai et al. (2018): a pixel is occluded where
    ``|f + b(x+f)|² > alpha·(|f|² + |b(x+f)|²) + beta``; pixels whose target lies outside the
    image count as occluded too.
    """
    back = warp(backward, forward)
    lhs = _squared_norm(forward + back)
    rhs = alpha * (_squared_norm(forward) + _squared_norm(back)) + beta
    return (lhs <= rhs) & inside(forward)


def _squared_norm(vectors: np.ndarray) -> np.ndarray:
    """|v|² of (H, W, 2) vectors (explicit: a reduction over a length-2 axis is slow in numpy)."""
    return vectors[..., 0] * vectors[..., 0] + vectors[..., 1] * vectors[..., 1]


def resize_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample a flow field to ``size`` = (width, height), scaling its vectors to match."""
    h, w = flow.shape[:2]
    out = cv2.resize(flow, size, interpolation=cv2.INTER_LINEAR)
    out[..., 0] *= size[0] / w
    out[..., 1] *= size[1] / h
    return out
