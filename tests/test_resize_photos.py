"""realtime_style.training.resize_photos: a photo folder copied at training scale, same tree, bad input as one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from realtime_style.training.data import dataset_images
from realtime_style.metrics.style import spread_evenly
from realtime_style.training.resize_photos import ResizeJob, main, resize_photos


def write_photo(path: Path, size: tuple[int, int], suffix_format: str = "JPEG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(len(str(path))).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, suffix_format)
    return path


@pytest.fixture()
def photo_tree(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    write_photo(root / "coco" / "wide.jpg", (600, 400))
    write_photo(root / "coco" / "tall.png", (300, 500), "PNG")
    write_photo(root / "small.jpg", (120, 90))
    write_photo(root / "bsds500" / "val_1.jpg", (481, 321))
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not a whole jpeg")
    return root


def sizes(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): Image.open(p).size for p in dataset_images(folder)}


def test_copies_the_tree_at_the_short_side_without_enlarging(photo_tree, tmp_path):
    out = tmp_path / "out"
    report = resize_photos(ResizeJob(photo_tree, out, short_side=200, exclude=("bsds500/val_*",)))
    assert sizes(out) == {"coco/wide.jpg": (300, 200), "coco/tall.jpg": (200, 333), "small.jpg": (120, 90)}
    assert (report.written, report.skipped) == (3, 1)
    assert report.total_bytes == sum(p.stat().st_size for p in dataset_images(out))


def test_max_photos_spreads_over_the_sorted_files():
    files = [Path(f"{index}.jpg") for index in range(10)]
    assert spread_evenly(files, 3) == [Path("0.jpg"), Path("3.jpg"), Path("6.jpg")]
    assert spread_evenly(files, None) == files and spread_evenly(files, 20) == files


def test_cli_reports_what_it_wrote(photo_tree, tmp_path, capsys):
    assert main([str(photo_tree), str(tmp_path / "out"), "--short-side", "100", "--max-photos", "2", "--exclude", "broken.jpg"]) == 0
    assert "2 photos" in capsys.readouterr().out
    assert len(dataset_images(tmp_path / "out")) == 2


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["{missing}", "{out}"], "dataset folder not found"),
        (["{photos}", "{photos}"], "must differ"),
        (["{photos}", "{out}", "--short-side", "0"], "--short-side"),
        (["{photos}", "{out}", "--quality", "101"], "--quality"),
        (["{photos}", "{out}", "--max-photos", "0"], "--max-photos"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(photo_tree, tmp_path, capsys, arguments, message):
    paths = {"missing": tmp_path / "nowhere", "photos": photo_tree, "out": tmp_path / "out"}
    assert main([a.format(**paths) for a in arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_unwritable_destination_is_one_line(photo_tree, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    assert main([str(photo_tree), str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and err.count("\n") == 1
