"""Smoothers: shape, scene cuts, resets, and that ``flow`` follows motion and removes flicker."""

from __future__ import annotations

import numpy as np
import pytest

from realtime_style.metrics.flicker import warping_error
from realtime_style.temporal import EmaSmoother, FlowSmoother, make_smoother
from realtime_style.temporal.flow import FlowEstimator, warp
from test_flicker import texture, translating

H, W = 72, 96


def noisy(frames: np.ndarray, amplitude: float, seed: int = 0) -> np.ndarray:
    """``frames`` plus independent noise per frame: a stand-in for a flickering stylization."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, amplitude, frames.shape)
    return np.clip(frames + noise, 0, 255).astype(np.uint8)


def run(smoother, originals: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    return np.stack([smoother.process(o, s) for o, s in zip(originals, stylized)])


@pytest.fixture
def two_scenes() -> np.ndarray:
    """Six frames of one moving scene, then six of a different one (a hard cut at frame 6)."""
    first = translating(texture(H, W + 40, seed=1), 6, H, W, step=2)
    second = translating(255 - texture(H, W + 40, seed=2)[..., ::-1], 6, H, W, step=-2)
    return np.concatenate([first, second])


@pytest.mark.parametrize("mode", ["ema", "flow"])
def test_smoothing_keeps_frame_count_size_and_type(mode: str, frames: np.ndarray) -> None:
    smoother = make_smoother(mode, 0.7)
    out = run(smoother, frames, noisy(frames, 20))
    assert out.shape == frames.shape and out.dtype == np.uint8


def test_make_smoother_modes_and_validation() -> None:
    assert make_smoother("off", 0.5) is None
    assert isinstance(make_smoother("ema"), EmaSmoother)
    assert isinstance(make_smoother("flow", 0.3), FlowSmoother)
    with pytest.raises(ValueError, match="temporal mode"):
        make_smoother("blur")
    with pytest.raises(ValueError, match="between 0 and 1"):
        make_smoother("flow", 1.5)


@pytest.mark.parametrize("mode", ["ema", "flow"])
def test_scene_cut_takes_the_new_frame(mode: str, two_scenes: np.ndarray) -> None:
    stylized = noisy(two_scenes, 25)
    out = run(make_smoother(mode, 0.9), two_scenes, stylized)
    assert not np.array_equal(out[5], stylized[5]), "history is used inside a scene"
    np.testing.assert_array_equal(out[6], stylized[6])


def test_flow_restarts_where_motion_cannot_be_followed() -> None:
    """Two unrelated noise images with equal histograms: no histogram cut, but no reliable flow."""
    rng = np.random.default_rng(3)
    first = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    second = rng.permutation(first.reshape(-1, 3)).reshape(H, W, 3)
    smoother = FlowSmoother(0.9)
    smoother.process(first, first)
    out = smoother.process(second, second[::-1].copy())
    assert smoother.last_restarted and smoother.last_reliable is not None and smoother.last_reliable < 0.2
    np.testing.assert_array_equal(out, second[::-1])


@pytest.mark.parametrize("mode", ["ema", "flow"])
def test_reset_forgets_history(mode: str, two_scenes: np.ndarray) -> None:
    stylized = noisy(two_scenes, 25)
    smoother = make_smoother(mode, 0.9)
    run(smoother, two_scenes[:4], stylized[:4])
    assert not np.array_equal(smoother.process(two_scenes[4], stylized[4]), stylized[4])
    smoother.reset()
    np.testing.assert_array_equal(smoother.process(two_scenes[5], stylized[5]), stylized[5])
    fresh = make_smoother(mode, 0.9)
    fresh.process(two_scenes[5], stylized[5])
    np.testing.assert_array_equal(smoother.process(two_scenes[6 - 1], stylized[4]), fresh.process(two_scenes[5], stylized[4]))


@pytest.mark.parametrize("batch", [1, 3, 5])
def test_flow_in_batches_on_threads_gives_the_frames_of_one_at_a_time(two_scenes: np.ndarray, batch: int) -> None:
    """The file pipeline's batches (flows and contrast restores on threads) change nothing: cut and restart included."""
    rng = np.random.default_rng(9)
    unrelated = rng.permutation(two_scenes[-1].reshape(-1, 3)).reshape(two_scenes[-1].shape)
    originals = np.concatenate([two_scenes, unrelated[None], two_scenes[:3]])
    stylized = noisy(originals, 25, seed=8)
    single = FlowSmoother(0.9, workers=1)
    expected, states = [], []
    for original, frame in zip(originals, stylized):
        expected.append(single.process(original, frame))
        states.append((single.last_reliable, single.last_restarted))
    assert [i for i, (_, restarted) in enumerate(states) if restarted] == [0, 6, 12, 13]  # first, cuts, no flow
    threaded = FlowSmoother(0.9, workers=3)
    got: list[np.ndarray] = []
    for start in range(0, len(originals), batch):
        got += threaded.process_batch(originals[start : start + batch], stylized[start : start + batch])
        assert (threaded.last_reliable, threaded.last_restarted) == states[len(got) - 1]
    np.testing.assert_array_equal(np.stack(got), np.stack(expected))


def test_flow_follows_motion_where_ema_ghosts() -> None:
    """A deterministic 'stylization' of a translating scene must come out unchanged (no ghosting)."""
    originals = translating(texture(H, W + 40, seed=4), 8, H, W, step=3)
    interior = (slice(8, -8), slice(8, -24))
    flow_out = run(FlowSmoother(0.9), originals, originals)
    ema_out = run(EmaSmoother(0.9), originals, originals)
    flow_diff = np.abs(flow_out[-1].astype(float) - originals[-1])[interior].mean()
    ema_diff = np.abs(ema_out[-1].astype(float) - originals[-1])[interior].mean()
    assert flow_diff < 2.0 < ema_diff


def test_flow_smoothing_cuts_the_warping_error() -> None:
    originals = translating(texture(H, W + 40, seed=5), 10, H, W, step=2)
    stylized = noisy(originals, 20, seed=6)
    off = warping_error(originals, stylized, short_side=H).warping_error
    ema = warping_error(originals, run(EmaSmoother(0.7), originals, stylized), short_side=H).warping_error
    flow = warping_error(originals, run(FlowSmoother(0.7), originals, stylized), short_side=H).warping_error
    assert flow < 0.4 * off
    assert flow < ema


def test_warp_brings_the_target_onto_the_source_grid() -> None:
    frames = translating(texture(H, W + 20, seed=7), 2, H, W, step=4)
    gray = frames.mean(-1).astype(np.uint8)
    flow = FlowEstimator("medium")(gray[1], gray[0])
    assert np.median(flow[..., 0]) == pytest.approx(4, abs=0.3)
    aligned = warp(frames[0].astype(np.float32), flow)
    assert np.abs(aligned - frames[1])[8:-8, 8:-8].mean() < 2.0


@pytest.mark.parametrize("method", ["ultrafast", "medium", "farneback"])
def test_flow_of_images_too_small_for_dis_is_computed_on_an_enlarged_copy(method: str) -> None:
    """DIS asserts, or crashes the process, on a short side under 32 px (a 9x640 strip: ``--temporal flow``)."""
    frames = translating(texture(9, 640 + 20, seed=3), 2, 9, 640, step=4)
    gray = frames.mean(-1).astype(np.uint8)
    flow = FlowEstimator(method)(gray[1], gray[0])
    assert flow.shape == (9, 640, 2)
    if method == "medium":  # the smoothers' and the metric's method follows the motion there too
        assert np.median(flow[..., 0]) == pytest.approx(4, abs=1.0)
    for h, w in [(1, 1), (5, 7), (16, 16)]:
        tiny = np.full((h, w), 128, np.uint8)
        assert FlowEstimator(method)(tiny, tiny).shape == (h, w, 2)


@pytest.mark.parametrize("mode", ["ema", "flow"])
def test_frame_size_change_restarts(mode: str, frames: np.ndarray) -> None:
    """A live session may change its processing size: the smoother restarts instead of failing."""
    smoother = make_smoother(mode, 0.9)
    smoother.process(frames[0], frames[0])
    bigger = np.ascontiguousarray(np.pad(frames[1], ((0, 10), (0, 6), (0, 0))))
    np.testing.assert_array_equal(smoother.process(bigger, bigger[::-1].copy()), bigger[::-1])


def _local_detail(image: np.ndarray) -> float:
    """Mean absolute difference from a 5x5 box mean: how much fine texture an image has."""
    import cv2

    image = image.astype(np.float32)
    return float(np.abs(image - cv2.blur(image, (5, 5))).mean())


def test_restore_contrast_leaves_an_unblended_frame_alone_and_bounds_its_gain() -> None:
    from realtime_style.temporal.smooth import restore_contrast

    frame = texture(H, W, seed=11).astype(np.float32)
    np.testing.assert_allclose(restore_contrast(frame, frame, 0.25, 2.0), frame, atol=1e-3)
    flat = 0.5 * frame + 0.5 * np.float32(128)  # half the contrast of the reference
    restored = restore_contrast(flat, frame, 0.25, 2.0)
    detail = _local_detail(restored) / _local_detail(flat)
    assert 1.05 < detail <= 1.25 + 1e-3  # raised, but never past the cap


def test_flow_keeps_more_texture_with_bicubic_history_and_contrast_gain() -> None:
    """The two measures against washed-out texture each keep more fine detail than a plain bilinear blend."""
    import cv2

    scene = texture(H, W + 60, seed=12)
    shift = lambda dx: cv2.warpAffine(scene, np.float32([[1, 0, -dx], [0, 1, 0]]), (W, H), flags=cv2.INTER_CUBIC)
    originals = np.stack([shift(1.5 * t) for t in range(12)])  # sub-pixel motion: resampling matters
    stylized = noisy(originals, 25, seed=13)
    plain = FlowSmoother(0.7, history_interpolation=cv2.INTER_LINEAR, contrast_gain=0.0)
    cubic = FlowSmoother(0.7, contrast_gain=0.0)
    both = FlowSmoother(0.7)
    details = [np.mean([_local_detail(f) for f in run(s, originals, stylized)[4:]]) for s in (plain, cubic, both)]
    assert details[0] < details[1] < details[2]
    assert details[2] <= np.mean([_local_detail(f) for f in stylized[4:]]) * 1.05
