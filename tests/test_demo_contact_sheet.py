"""The contact-sheet script (benchmarks/contact_sheet.py): layout, crops and the PNG size budget."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from benchmarks.shared_data import ANCHORS
from benchmarks.contact_sheet import PROJECT_DOCS, GAP, TILE_SIZE, crop_to, encode_png, grid, main


def test_crop_keeps_the_centre_and_reaches_the_size() -> None:
    wide = np.zeros((100, 300, 3), np.uint8)
    wide[:, 100:200] = 255
    out = crop_to(wide, (40, 30))
    assert out.shape == (30, 40, 3)
    assert out[:, 18:22].min() == 255 and out[:, :2].max() == 0


def test_grid_places_tiles_in_rows_with_gaps() -> None:
    tw, th = TILE_SIZE
    red, blue = np.zeros((th, tw, 3), np.uint8), np.zeros((th, tw, 3), np.uint8)
    red[..., 0], blue[..., 2] = 255, 255
    sheet = grid([[red, blue], [blue]])
    assert sheet.shape == (2 * th + GAP, 2 * tw + GAP, 3)
    assert (sheet[0, 0] == (255, 0, 0)).all() and (sheet[0, tw + GAP] == (0, 0, 255)).all()
    assert (sheet[th + GAP, tw + GAP] == 255).all()  # the short row is padded with white


def test_png_fits_the_budget() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    data = encode_png(noise, max_bytes=60_000)
    assert len(data) <= 60_000
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.width <= 400
    small = encode_png(np.zeros((30, 40, 3), np.uint8))
    with Image.open(io.BytesIO(small)) as image:
        assert image.mode == "RGB" and image.size == (40, 30)  # fits as it is: no palette, no shrinking


def test_sheet_of_a_model_file(random_model_file, tmp_path) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "sheet.png"
    assert main(["--style", str(random_model_file), "--photo", str(photo), "--out", str(out)]) == 0
    with Image.open(out) as image:
        assert image.size == (2 * TILE_SIZE[0] + GAP, 2 * TILE_SIZE[1] + GAP)


def test_a_reference_sheet_never_goes_under_docs(random_model_file, capsys) -> None:
    out = PROJECT_DOCS / "reference_sheet_test.png"
    assert main(["--style", str(random_model_file), "--reference", "johnson-mosaic", "--out", str(out)]) == 2
    assert not out.exists()
    assert "docs/" in capsys.readouterr().err


def test_an_unknown_reference_net_is_one_line(random_model_file, tmp_path, capsys) -> None:
    if not (ANCHORS / "stylize.py").is_file():
        pytest.skip(f"no reference nets at {ANCHORS}")
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "sheet.png"
    assert main(["--style", str(random_model_file), "--photo", str(photo), "--reference", "no-such-net",
                 "--out", str(out)]) == 2
    assert "no-such-net" in capsys.readouterr().err and not out.exists()


def test_a_reference_row_is_added(random_model_file, tmp_path) -> None:
    if not (ANCHORS / "weights" / "johnson-mosaic.safetensors").is_file():
        pytest.skip(f"no johnson-mosaic reference net at {ANCHORS}")
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "sheet.png"
    assert main(["--style", str(random_model_file), "--photo", str(photo), "--reference", "johnson-mosaic",
                 "--out", str(out)]) == 0
    with Image.open(out) as image:
        assert image.size == (2 * TILE_SIZE[0] + GAP, 3 * TILE_SIZE[1] + 2 * GAP)
