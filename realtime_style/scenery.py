"""The demo's footage: a landscape drawn with numpy and OpenCV and a slow camera move over it.

Sky, sun, clouds, mountains, hills, fields, trees, houses, a road; the same seed always draws the same picture.
It needs neither a photo nor PyAV, so benchmarks and tests can make frames anywhere (the GPU machine has no PyAV).
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

#: The view starts this much wider than the clip (in canvas pixels per clip pixel) and zooms in to 1.
START_ZOOM = 1.3
#: The scene is drawn this much larger than the clip, so that the pan and zoom never leave it.
CANVAS_SCALE = 1.5


# --- the scene ---------------------------------------------------------------------------------------


def _ridge(rng: np.random.Generator, width: int, base: float, amplitude: float, waves: int) -> np.ndarray:
    """A smooth random skyline: y per x as a sum of sines with random phases, decaying amplitudes."""
    x = np.linspace(0.0, 1.0, width)
    y = np.full(width, base)
    for k in range(1, waves + 1):
        y += amplitude / k**1.2 * np.sin(2 * np.pi * (k * x * rng.uniform(0.6, 1.4) + rng.uniform()))
    return y


def _put(canvas: np.ndarray, mask: np.ndarray, values: np.ndarray) -> None:
    """Write float colours into the uint8 canvas where ``mask`` is set, clipped to 0-255."""
    canvas[mask] = np.clip(values, 0, 255).astype(np.uint8)


def _fill_below(canvas: np.ndarray, ridge: np.ndarray, colour_top: tuple, colour_bottom: tuple) -> np.ndarray:
    """Paint everything under ``ridge`` with a vertical gradient; returns the mask painted."""
    h, w = canvas.shape[:2]
    rows = np.arange(h)[:, None]
    mask = rows >= ridge[None, :]
    depth = np.clip((rows - ridge[None, :]) / max(1.0, h - ridge.min()), 0, 1)[..., None]
    shade = np.asarray(colour_top, np.float32) * (1 - depth) + np.asarray(colour_bottom, np.float32) * depth
    _put(canvas, mask, shade[mask])
    return mask


def _texture(rng: np.random.Generator, shape: tuple[int, int], scale: float, sigma: float) -> np.ndarray:
    """Zero-mean smoothed noise in about [-scale, scale] (grass, rock and asphalt grain)."""
    noise = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
    return noise / (noise.std() + 1e-6) * scale


def _sky(canvas: np.ndarray, rng: np.random.Generator, sun: tuple[int, int], radius: int) -> None:
    h, w = canvas.shape[:2]
    t = (np.arange(h, dtype=np.float32) / (0.62 * h)).clip(0, 1)[:, None, None]
    top, horizon = np.array([40, 90, 170], np.float32), np.array([250, 196, 140], np.float32)
    sky = np.broadcast_to(top * (1 - t**1.4) + horizon * t**1.4, (h, w, 3))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    distance = np.hypot(xx - sun[0], yy - sun[1])
    glow = np.exp(-((distance / (radius * 4.0)) ** 2))[..., None]
    canvas[:] = np.clip(sky * (1 - 0.55 * glow) + np.array([255, 230, 170], np.float32) * 0.55 * glow, 0, 255)
    cv2.circle(canvas, sun, radius, (255, 244, 200), -1, cv2.LINE_AA)
    sigma = 0.006 * w
    for _ in range(9):  # clouds: clusters of soft white ellipses
        cx, cy = rng.uniform(0, w), rng.uniform(0.05 * h, 0.35 * h)
        layer = np.zeros((h, w), np.float32)
        for _ in range(rng.integers(4, 8)):
            axes = (int(rng.uniform(0.03, 0.07) * w), int(rng.uniform(0.012, 0.03) * h))
            centre = (int(cx + rng.uniform(-0.05, 0.05) * w), int(cy + rng.uniform(-0.012, 0.012) * h))
            cv2.ellipse(layer, centre, axes, 0, 0, 360, 1.0, -1, cv2.LINE_AA)
        region = _around(layer, sigma)  # the blur and blend only where the cloud can reach: the same pixels, faster
        alpha = cv2.GaussianBlur(layer[region], (0, 0), sigma)[..., None] * 0.85
        canvas[region] = np.clip(canvas[region] * (1 - alpha) + np.array([252, 250, 255], np.float32) * alpha, 0, 255)


def _around(layer: np.ndarray, sigma: float) -> tuple[slice, slice]:
    """The part of ``layer`` a Gaussian blur of ``sigma`` can make non-zero: its non-zero pixels' bounding box
    grown by the blur's reach (OpenCV's kernel for a float image spans 4 sigma each way), inside the image."""
    ys, xs = np.nonzero(layer)
    if len(ys) == 0:
        return slice(0, 0), slice(0, 0)
    reach = int(np.ceil(4 * sigma)) + 2
    h, w = layer.shape
    return (slice(max(0, ys.min() - reach), min(h, ys.max() + 1 + reach)),
            slice(max(0, xs.min() - reach), min(w, xs.max() + 1 + reach)))


def _tree(canvas: np.ndarray, rng: np.random.Generator, x: float, y: float, size: float) -> None:
    """A round deciduous tree or a pine, standing at (x, y)."""
    trunk = (70, 48, 30)
    if rng.uniform() < 0.4:
        cv2.line(canvas, (int(x), int(y)), (int(x), int(y - size)), trunk, max(1, int(size * 0.08)), cv2.LINE_AA)
        green = np.array([20, 75, 40]) * rng.uniform(0.8, 1.2)
        for level in range(4):
            top, half = y - size * (1.3 - 0.22 * level), size * (0.18 + 0.09 * level)
            base = y - size * (0.75 - 0.2 * level)
            points = np.array([[x, top], [x - half, base], [x + half, base]], np.int32)
            cv2.fillPoly(canvas, [points], tuple(float(c) * (0.8 + 0.1 * level) for c in green), cv2.LINE_AA)
        return
    cv2.line(canvas, (int(x), int(y)), (int(x), int(y - size * 0.7)), trunk, max(1, int(size * 0.12)), cv2.LINE_AA)
    green = np.array([45, 110, 40]) * rng.uniform(0.8, 1.25)
    for _ in range(7):
        dx, dy = rng.uniform(-0.3, 0.3) * size, rng.uniform(-1.05, -0.6) * size
        radius = int(rng.uniform(0.2, 0.32) * size)
        tone = tuple(float(c) for c in green * rng.uniform(0.75, 1.15))
        cv2.circle(canvas, (int(x + dx), int(y + dy)), max(1, radius), tone, -1, cv2.LINE_AA)
    highlight = tuple(float(c) for c in np.minimum(green * 1.5, 255))
    centre = (int(x - 0.12 * size), int(y - 0.95 * size))
    cv2.circle(canvas, centre, max(1, int(0.1 * size)), highlight, -1, cv2.LINE_AA)


def _house(canvas: np.ndarray, rng: np.random.Generator, x: float, y: float, size: float) -> None:
    """A house with a pitched roof, windows and a door, standing at (x, y)."""
    w, h = size * rng.uniform(1.1, 1.6), size
    wall = tuple(float(c) for c in rng.choice([(236, 226, 200), (214, 170, 120), (240, 240, 232), (190, 90, 70)]))
    roof = tuple(float(c) for c in rng.choice([(150, 50, 40), (90, 60, 50), (70, 80, 110)]))
    x0, y0, x1 = int(x - w / 2), int(y - h), int(x + w / 2)
    cv2.rectangle(canvas, (x0, y0), (x1, int(y)), wall, -1, cv2.LINE_AA)
    cv2.rectangle(canvas, (x0, y0), (x1, int(y)), (60, 45, 40), max(1, int(size * 0.03)), cv2.LINE_AA)
    overhang = w * 0.12
    apex = np.array([[x0 - overhang, y0], [x1 + overhang, y0], [x, y0 - h * 0.7]], np.int32)
    cv2.fillPoly(canvas, [apex], roof, cv2.LINE_AA)
    cv2.polylines(canvas, [apex], True, (50, 30, 25), max(1, int(size * 0.03)), cv2.LINE_AA)
    chimney = int(x + w * 0.22)
    cv2.rectangle(canvas, (chimney, int(y0 - h * 0.55)), (chimney + int(w * 0.1), int(y0 - h * 0.2)), roof, -1)
    window = size * 0.2
    for wx in (x0 + w * 0.18, x1 - w * 0.18 - window):
        top = (int(wx), int(y - h * 0.75))
        bottom = (int(wx + window), int(y - h * 0.75 + window))
        cv2.rectangle(canvas, top, bottom, (255, 222, 120), -1, cv2.LINE_AA)
        cv2.rectangle(canvas, top, bottom, (60, 45, 40), max(1, int(size * 0.025)), cv2.LINE_AA)
        mullion = int(wx + window / 2)
        cv2.line(canvas, (mullion, top[1]), (mullion, bottom[1]), (60, 45, 40), 1, cv2.LINE_AA)
    door = (int(x - size * 0.1), int(y - h * 0.45))
    cv2.rectangle(canvas, door, (int(x + size * 0.1), int(y)), (100, 60, 40), -1, cv2.LINE_AA)


def _road(canvas: np.ndarray, horizon_y: float, rng: np.random.Generator) -> None:
    """A road winding from the bottom edge towards the horizon, with dashed centre line and posts."""
    h, w = canvas.shape[:2]
    steps = 60
    t = np.linspace(0.0, 1.0, steps)  # 0 = bottom of the picture, 1 = far end
    ys = h - t * (h - horizon_y)
    xs = w * (0.55 + 0.16 * np.sin(2.6 * t + 0.4) - 0.1 * t)
    half = w * 0.16 * (1 - t) ** 1.6 + w * 0.004
    left = np.stack([xs - half, ys], 1)
    right = np.stack([xs + half, ys], 1)
    cv2.fillPoly(canvas, [np.concatenate([left, right[::-1]]).astype(np.int32)], (105, 100, 98), cv2.LINE_AA)
    for side in (left, right):
        cv2.polylines(canvas, [side.astype(np.int32)], False, (230, 225, 210), 2, cv2.LINE_AA)
    for i in range(0, steps - 1, 3):  # dashes, thinner with distance
        a, b = (int(xs[i]), int(ys[i])), (int(xs[i + 1]), int(ys[i + 1]))
        cv2.line(canvas, a, b, (250, 210, 60), max(1, int(6 * (1 - t[i]) ** 1.5)), cv2.LINE_AA)
    for i in range(2, steps - 10, 4):  # fence posts on the right verge
        x, y, size = xs[i] + half[i] * 1.25, ys[i], 0.05 * h * (1 - t[i]) ** 1.3 + 2
        cv2.line(canvas, (int(x), int(y)), (int(x), int(y - size)), (90, 60, 40), max(1, int(size / 8)), cv2.LINE_AA)


def generate_scene(width: int, height: int, seed: int = 7) -> np.ndarray:
    """A detailed landscape, RGB uint8 (height, width, 3); the same seed draws the same picture."""
    if width < 16 or height < 16:
        raise ValueError(f"scene too small: {width}x{height}")
    rng = np.random.default_rng(seed)
    canvas = np.zeros((height, width, 3), np.uint8)  # OpenCV anti-aliases only on 8-bit images
    horizon = 0.5 * height
    _sky(canvas, rng, (int(0.72 * width), int(0.3 * height)), int(0.05 * height))
    rock = _texture(rng, (height, width), 12.0, 0.004 * width)[..., None]
    grass = _texture(rng, (height, width), 14.0, 0.8)[..., None]

    mountains = _ridge(rng, width, 0.4 * height, 0.08 * height, 6)
    mask = _fill_below(canvas, mountains, (105, 112, 150), (160, 165, 185))
    _put(canvas, mask, canvas[mask] + rock[mask] * 0.8)
    snow = mask & (np.arange(height)[:, None] < mountains.min() + 0.03 * height)
    _put(canvas, snow, canvas[snow] * 0.3 + np.array([245, 245, 250], np.float32) * 0.7)

    hill_colours = [((110, 150, 80), (90, 130, 60)), ((90, 145, 55), (60, 115, 40)), ((75, 135, 45), (45, 95, 30))]
    for layer, (top, bottom) in enumerate(hill_colours):
        ridge = _ridge(rng, width, horizon + (0.03 + 0.1 * layer) * height, 0.035 * height, 4)
        mask = _fill_below(canvas, ridge, top, bottom)
        _put(canvas, mask, canvas[mask] + grass[mask] * (0.6 + 0.3 * layer))
        if layer == 1:  # striped fields on the middle hill
            rows = np.arange(height)[:, None] - ridge[None, :]
            stripes = (np.sin(np.arange(width)[None, :] * 0.09 + rows * 0.35) > 0.3) & mask & (rows > 0.02 * height)
            _put(canvas, stripes, canvas[stripes] * 0.75 + np.array([200, 180, 70], np.float32) * 0.25)
        if layer == 1:
            for x in np.linspace(0.1, 0.4, 4) * width + rng.uniform(-0.02, 0.02, 4) * width:
                y = ridge[int(np.clip(x, 0, width - 1))] + 0.06 * height
                _house(canvas, rng, x, y, 0.075 * height * rng.uniform(0.85, 1.15))
        for _ in range(int(width / 60) + layer * 6):  # trees along the hill, larger in front
            x = rng.uniform(0, width)
            y = ridge[int(np.clip(x, 0, width - 1))] + rng.uniform(0.0, 0.05) * height
            _tree(canvas, rng, x, y, (0.035 + 0.035 * layer) * height * rng.uniform(0.8, 1.2))

    flowers = rng.uniform(0, 1, (int(width * height / 900), 2)) * (width, height * 0.15) + (0, height * 0.85)
    palette = np.array([(250, 240, 90), (240, 90, 110), (255, 255, 255), (170, 110, 230)], np.float32)
    for (x, y), colour in zip(flowers, palette[rng.integers(0, len(palette), len(flowers))]):
        radius = max(1, int(height * 0.0035))
        cv2.circle(canvas, (int(x), int(y)), radius, tuple(float(c) for c in colour), -1, cv2.LINE_AA)
    _road(canvas, horizon + 0.05 * height, rng)
    return canvas


# --- the camera move ----------------------------------------------------------------------------------------


def _ease(t: float) -> float:
    """Smooth start and stop (cosine ease-in-out) on [0, 1]."""
    return 0.5 - 0.5 * np.cos(np.pi * t)


def scene_clip(width: int, height: int, count: int, seed: int = 7) -> Iterator[np.ndarray]:
    """``count`` frames of (width x height): the pan and zoom over a scene drawn for that size."""
    scene = generate_scene(round(width * CANVAS_SCALE), round(height * CANVAS_SCALE), seed)
    return pan_zoom_frames(scene, width, height, count)


def pan_zoom_frames(scene: np.ndarray, width: int, height: int, count: int) -> Iterator[np.ndarray]:
    """``count`` frames of (width x height) moving slowly over ``scene``: a pan left to right, zooming in."""
    scene_h, scene_w = scene.shape[:2]
    for index in range(count):
        t = _ease(index / max(1, count - 1))
        zoom = START_ZOOM + (1.0 - START_ZOOM) * t  # canvas pixels per output pixel
        view_w, view_h = width * zoom, height * zoom
        left = (scene_w - view_w) * (0.1 + 0.8 * t)
        top = (scene_h - view_h) * (0.35 + 0.3 * t)
        matrix = np.array([[zoom, 0.0, left], [0.0, zoom, top]], np.float32)
        yield cv2.warpAffine(
            scene, matrix, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT
        )
