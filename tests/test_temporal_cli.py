"""``rtstyle video --temporal``: end to end on a made-up clip with a scene cut, lossless output."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from media_helpers import write_clip_with_sink

from realtime_style.cli import main
from realtime_style.demo import generate_scene, pan_zoom_frames
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
    for mode in ("off", "ema", "flow"):
        out = tmp_path / f"{mode}.mkv"
        assert main(["video", str(clip), str(out), *common, "--temporal", mode]) == 0
        outputs[mode] = read(out)
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
