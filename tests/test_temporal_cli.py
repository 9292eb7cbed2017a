"""``rtstyle video --temporal``: end to end on a made-up clip with a scene cut, lossless output."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from media_helpers import write_clip_with_sink

from realtime_style.cli import main
from realtime_style.cli.temporal import NOTABLE_SHARE, smoothing_cost_note
from realtime_style.scenery import generate_scene, pan_zoom_frames
from realtime_style.frame_processor import Timed
from realtime_style.media.sources import VideoFileSource
from realtime_style.metrics.flicker import warping_error


def read(path: Path, max_frames: int | None = None) -> np.ndarray:
    with VideoFileSource(path, max_frames=max_frames) as source:
        return np.stack([frame.image for frame in source])


def cut_clip(path: Path) -> Path:
    """34 frames of 256x108: a slow pan over one landscape, then at frame 30 a hard cut to another."""
    size = (256, 108)
    first = pan_zoom_frames(generate_scene(640, 270, seed=7), *size, 30)
    second = pan_zoom_frames(generate_scene(640, 270, seed=8)[::-1].copy(), *size, 4)
    return write_clip_with_sink(path, np.stack([*first, *second]), crf=12, preset="ultrafast")


def test_video_temporal_modes_end_to_end(tmp_path: Path, random_model_file: Path) -> None:
    clip = cut_clip(tmp_path / "cut.mp4")  # a hard cut at frame 30
    common = ["--style", str(random_model_file), "--max-frames", "34", "--max-size", "128", "--codec", "ffv1", "-q"]
    outputs = {}
    for mode in ("off", "ema", "flow", None):
        out = tmp_path / f"{mode}.mkv"
        assert main(["video", str(clip), str(out), *common, *(["--temporal", mode] if mode else [])]) == 0
        outputs[mode] = read(out)
    np.testing.assert_array_equal(outputs.pop(None), outputs["flow"])  # files are smoothed by flow unless told
    assert all(frames.shape == (34, 54, 128, 3) for frames in outputs.values())
    # The first frame and the first frame after the cut are the stylized frames themselves.
    for mode in ("ema", "flow"):
        np.testing.assert_array_equal(outputs[mode][0], outputs["off"][0])
        np.testing.assert_array_equal(outputs[mode][30], outputs["off"][30])
        assert not np.array_equal(outputs[mode][29], outputs["off"][29])
    inputs = np.stack([cv2.resize(f, (128, 54), interpolation=cv2.INTER_AREA) for f in read(clip, 34)])
    errors = {mode: warping_error(inputs, frames, short_side=54).warping_error for mode, frames in outputs.items()}
    assert errors["flow"] < 0.6 * errors["off"]


def test_temporal_strength_out_of_range_is_an_error(tmp_path: Path, random_model_file: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["video", "in.mp4", str(tmp_path / "o.mp4"), "--style", str(random_model_file), "--temporal-strength", "2"])
    assert exit_info.value.code != 0
    assert "--temporal-strength" in capsys.readouterr().err


class _Sleepy:
    """A smoother stand-in that takes ``seconds`` per frame."""

    def __init__(self, seconds: float):
        self.delay = seconds

    def process(self, original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        time.sleep(self.delay)
        return stylized

    def reset(self) -> None:
        pass


def test_the_summary_names_the_smoother_only_when_it_took_a_large_share_of_the_run() -> None:
    smoother = Timed(_Sleepy(0.02))
    frame = np.zeros((4, 4, 3), np.uint8)
    for _ in range(5):
        assert smoother.process(frame, frame) is frame
    assert smoother.seconds >= 0.1
    assert smoothing_cost_note(None, 1.0) is None
    assert smoothing_cost_note(smoother, smoother.seconds / (NOTABLE_SHARE / 2)) is None
    note = smoothing_cost_note(smoother, smoother.seconds * 1.25)
    assert note is not None and "80%" in note and "--temporal off" in note
