"""The warping error (Lai et al. 2018): hand computation, floors, noise, mismatches and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_style.errors import InputError
from realtime_style.metrics.flicker import MotionReference, PairFlow, eval_size, warping_error
from realtime_style.temporal.flow import consistent


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture (blurred noise, stretched to full contrast)."""
    rng = np.random.default_rng(seed)
    noise = rng.random((h, w, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 3)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).astype(np.uint8)


def translating(scene: np.ndarray, n: int, h: int, w: int, step: int) -> np.ndarray:
    """``n`` windows (h, w) into ``scene``, moving ``step`` pixels to the right per frame."""
    start = 0 if step >= 0 else scene.shape[1] - w
    return np.stack([scene[:h, start + t * step : start + t * step + w] for t in range(n)])


def test_occlusion_test_by_hand() -> None:
    h, w = 3, 4
    right = np.zeros((h, w, 2), np.float32)
    right[..., 0] = 1.0
    mask = consistent(right, -right)
    assert mask[:, :-1].all() and not mask[:, -1].any(), "last column maps outside the frame"
    # |f + b|² = 1 > 0.01·(1 + 0) + 0.5: occluded where the backward flow does not come back.
    assert not consistent(right, np.zeros_like(right)).any()
    # Small disagreement passes: |f + b|² = 0.25 <= 0.01·(1 + 0.5625) + 0.5.
    assert consistent(right, -0.75 * right)[:, :-1].all()


def test_pair_error_matches_a_hand_computation() -> None:
    rng = np.random.default_rng(0)
    o0 = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    o1 = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    flow = np.zeros((3, 4, 2), np.float32)
    flow[..., 0] = 1.0
    mask = np.ones((3, 4), np.float32)
    mask[:, -1] = 0.0
    mask[0, 0] = 0.0
    expected_sum, count = 0.0, 0
    for y in range(3):
        for x in range(4):
            if mask[y, x]:
                count += 1
                for c in range(3):
                    expected_sum += (o1[y, x + 1, c] / 255.0 - o0[y, x, c] / 255.0) ** 2
    expected = expected_sum / (3 * count)
    assert PairFlow(flow, mask).error(o0, o1) == pytest.approx(expected, rel=1e-5)
    assert PairFlow(flow, np.zeros_like(mask)).error(o0, o1) is None


def test_static_video_has_zero_error() -> None:
    frames = np.repeat(texture(40, 60)[None], 4, axis=0)
    result = warping_error(frames, frames, short_side=40)
    assert result.warping_error == pytest.approx(0.0, abs=1e-12)
    assert result.frames == 4 and result.pairs == 3 and result.size == (60, 40)


def test_perfectly_warped_translation_is_near_zero_and_noise_is_large() -> None:
    frames = translating(texture(64, 140, seed=1), 6, 64, 96, step=3)
    moving = warping_error(frames, frames, short_side=64)
    assert moving.warping_error < 2e-4
    assert moving.ratio == pytest.approx(1.0)
    rng = np.random.default_rng(2)
    noise = rng.integers(0, 256, frames.shape, dtype=np.uint8)
    flicker = warping_error(frames, noise, short_side=64)
    assert flicker.warping_error > 0.1  # E[(a - b)²] = 1/6 for independent uniform values
    assert flicker.ratio > 500


def test_output_of_another_size_is_resized_to_the_input_eval_size() -> None:
    frames = translating(texture(64, 140, seed=1), 4, 64, 96, step=2)
    half = np.stack([cv2.resize(f, (48, 32), interpolation=cv2.INTER_AREA) for f in frames])
    result = warping_error(frames, half, short_side=64)
    assert result.size == (96, 64) and result.warping_error < 5e-3
    assert eval_size(640, 272) == (847, 360)


def test_frame_count_and_aspect_mismatches_are_clear_errors() -> None:
    frames = translating(texture(64, 140, seed=1), 5, 64, 96, step=2)
    with pytest.raises(InputError, match="input has 5 frames, output has 4"):
        warping_error(frames, frames[:4], short_side=64)
    with pytest.raises(InputError, match="aspect"):
        warping_error(frames, frames[:, :, :64], short_side=64)
    with pytest.raises(InputError, match="at least 2 frames"):
        warping_error(frames[:1], frames[:1], short_side=64)


def _write_video(path: Path, frames: np.ndarray) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=10)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "bgr0"
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    return path


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):
    """``rtstyle`` with only the ``eval`` command (other commands are not under test here)."""
    from realtime_style import cli as cli_module

    monkeypatch.setattr(cli_module, "COMMAND_MODULES", ("realtime_style.cli.eval",))
    return cli_module.main


def test_cli_prints_json(cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = translating(texture(48, 120, seed=3), 4, 48, 64, step=2)
    source = _write_video(tmp_path / "in.mkv", frames)
    noise = np.random.default_rng(0).integers(0, 256, frames.shape, dtype=np.uint8)
    output = _write_video(tmp_path / "out.mkv", noise)
    assert cli(["eval", "flicker", str(source), str(output), "--per-pair", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"] == 4 and report["size"] == [480, 360] and len(report["per_pair"]) == 3
    assert report["ratio"] == pytest.approx(report["warping_error"] / report["input_warping_error"])
    assert report["ratio"] > 10
    assert cli(["eval", "flicker", str(source), str(output)]) == 0  # without --json: a summary for people
    summary = capsys.readouterr().out.splitlines()
    assert summary[0] == f"flicker: {report['ratio']:.2f}x the input's own warping error (lower is steadier; 1 = as steady as the input)"
    assert summary[2] == "4 frames, 3 pairs at 480x360" and len(summary) == 3


def test_cli_mismatch_is_one_line_error(cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = translating(texture(48, 120, seed=3), 4, 48, 64, step=2)
    source = _write_video(tmp_path / "in.mkv", frames)
    short = _write_video(tmp_path / "short.mkv", frames[:3])
    assert cli(["eval", "flicker", str(source), str(short)]) != 0
    err = capsys.readouterr().err.strip()
    assert err == "rtstyle: error: frame counts differ: input has 4 frames, output has 3"
    assert cli(["eval", "flicker", str(source), str(tmp_path / "missing.mp4")]) != 0
    assert capsys.readouterr().err.startswith("rtstyle: error:")


def test_motion_reference_scores_like_the_streaming_metric() -> None:
    frames = translating(texture(64, 140, seed=1), 5, 64, 96, step=2)
    noise = np.random.default_rng(2).integers(0, 256, frames.shape, dtype=np.uint8)
    reference = MotionReference(frames, short_side=64)
    assert reference.evaluate(noise) == warping_error(frames, noise, short_side=64)
    with pytest.raises(InputError, match="input has 5 frames, output has 6"):
        reference.evaluate(np.concatenate([noise, noise[:1]]))
