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


@pytest.mark.parametrize("mode", ["ema", "flow"])
def test_frame_size_change_restarts(mode: str, frames: np.ndarray) -> None:
    """A live session may change its processing size: the smoother restarts instead of failing."""
    smoother = make_smoother(mode, 0.9)
    smoother.process(frames[0], frames[0])
    bigger = np.ascontiguousarray(np.pad(frames[1], ((0, 10), (0, 6), (0, 0))))
    np.testing.assert_array_equal(smoother.process(bigger, bigger[::-1].copy()), bigger[::-1])
