"""The shared image-file helpers: suffixes, decoding, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from realtime_style.errors import InputError
from realtime_style.image_files import is_image_file, load_rgb, open_image


def test_suffixes_are_matched_case_insensitively():
    assert is_image_file("a/b/photo.JPG") and is_image_file("scan.tiff") and is_image_file("x.webp")
    assert not is_image_file("clip.mp4") and not is_image_file("notes.txt") and not is_image_file("jpg")


def test_load_rgb_converts_to_rgb(tmp_path):
    path = tmp_path / "grey.png"
    Image.fromarray(np.full((5, 7), 200, np.uint8), "L").save(path)
    image = load_rgb(path)
    assert image.mode == "RGB" and image.size == (7, 5)
    assert np.asarray(image)[0, 0].tolist() == [200, 200, 200]


def test_missing_and_corrupt_files_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_rgb(tmp_path / "absent.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(InputError, match="not a readable image"):
        load_rgb(bad)
    truncated = tmp_path / "truncated.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(InputError, match="not a readable image"):
        load_rgb(truncated)


def test_folders_and_videos_are_named_in_the_error(tmp_path):
    with pytest.raises(InputError, match="is a folder, not an image"):
        open_image(tmp_path)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 100)
    with pytest.raises(InputError, match="is a video, not an image; stylize videos with `rtstyle video`"):
        load_rgb(clip)


def test_load_rgb_turns_a_phone_photo_upright(tmp_path):
    """A portrait photo stored landscape with an EXIF orientation (as phones write them) is decoded as seen:
    training and the style image see it upright, as `rtstyle still` does."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    stored = np.zeros((20, 30, 3), np.uint8)
    stored[:, :15] = 255  # left half white as stored: the top half once upright
    Image.fromarray(stored).save(tmp_path / "phone.png", exif=exif)
    upright = np.asarray(load_rgb(tmp_path / "phone.png"))
    assert upright.shape == (30, 20, 3)
    assert upright[:15].min() == 255 and upright[15:].max() == 0


def test_training_and_metrics_import_without_pyav():
    """Training runs on machines without PyAV: its data and the metric must not pull it in."""
    code = (
        "import sys; sys.modules['av'] = None\n"
        "import realtime_style.training.data, realtime_style.training.train, realtime_style.metrics.style\n"
        "assert 'realtime_style.media' not in sys.modules, 'the media layer (PyAV) was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
