"""The shared image-file helpers: suffixes, decoding, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from realtime_style.errors import InputError
from realtime_style.image_files import is_image_file, load_rgb


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


def test_training_and_metrics_import_without_pyav():
    """Training runs on machines without PyAV: its data and the metric must not pull it in."""
    code = (
        "import sys; sys.modules['av'] = None\n"
        "import realtime_style.training.data, realtime_style.training.train, realtime_style.metrics.style\n"
        "assert 'realtime_style.media' not in sys.modules, 'the media layer (PyAV) was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
