"""Issue 25 item 15: a large photo is painted at the style's scale (then scaled back up), and the user is told."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import realtime_style.cli.still
from realtime_style.cli import main
from realtime_style.media.paint_scale import DEFAULT_PAINT_SIZE, PaintAtScale, paint_size


class Recorder:
    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        self.shapes.append(rgb.shape)
        return 255 - rgb


def test_large_photo_is_painted_at_the_paint_size_and_scaled_back() -> None:
    recorder = Recorder()
    painter = PaintAtScale(recorder)
    out = painter(np.full((2000, 3000, 3), 10, np.uint8))
    assert recorder.shapes == [(683, DEFAULT_PAINT_SIZE, 3)] and out.shape == (2000, 3000, 3)
    assert abs(int(out.mean()) - 245) <= 1 and painter.rescaled == 1


def test_small_photo_and_paint_size_zero_paint_at_full_size() -> None:
    recorder = Recorder()
    PaintAtScale(recorder)(np.zeros((600, 800, 3), np.uint8))
    PaintAtScale(recorder, 0)(np.zeros((2000, 3000, 3), np.uint8))
    assert recorder.shapes == [(600, 800, 3), (2000, 3000, 3)]
    assert paint_size(3000, 2000, None) == (3000, 2000) and paint_size(2000, 3000, 1024) == (683, 1024)


def test_still_cli_paints_large_photos_smaller_and_says_so(tmp_path: Path, capsys, monkeypatch) -> None:
    """Said when rtstyle chose the paint size; a --paint-size the user gave is no news to them."""
    monkeypatch.setattr(realtime_style.cli.still, "DEFAULT_PAINT_SIZE", 64)  # a "large" photo that stays quick
    photo = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (100, 160, 3), np.uint8)).save(photo)
    out = tmp_path / "out.png"
    style = ["--style", "mosaic.light", "--device", "cpu"]
    assert main(["still", str(photo), str(out), *style]) == 0
    assert Image.open(out).size == (160, 100)
    assert "painted at a long side of 64 px, the style's scale" in capsys.readouterr().err
    for given in ("64", "0"):
        assert main(["still", str(photo), str(out), *style, "--paint-size", given]) == 0
        assert "painted at a long side" not in capsys.readouterr().err


def test_paint_size_does_not_apply_to_optimize(tmp_path: Path, capsys) -> None:
    photo = tmp_path / "p.png"
    Image.new("RGB", (16, 16)).save(photo)
    assert main(["still", str(photo), str(tmp_path / "o.png"), "--optimize", "--style-image", str(photo), "--paint-size", "64"]) != 0
    assert "--paint-size does not apply to --optimize" in capsys.readouterr().err
