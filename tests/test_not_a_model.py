"""Issue 25 item 12: a painting or a training checkpoint given as --style says what it is and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from realtime_style.cli import main


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.new("RGB", (16, 16), (90, 120, 150)).save(path)
    return path


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("name", ["painting.jpg", "painting"])
def test_painting_as_style_points_to_optimize_and_train(tmp_path: Path, photo: Path, capsys, name: str) -> None:
    painting = tmp_path / name
    Image.new("RGB", (16, 16), (200, 30, 30)).save(painting, format="JPEG")
    assert main(["still", str(photo), str(tmp_path / "out.png"), "--style", str(painting)]) != 0
    line = _error_line(capsys)
    assert "is an image, not a model file" in line
    assert f"--optimize --style-image {painting}" in line and "rtstyle train" in line
    assert "header too large" not in line


def test_checkpoint_as_style_points_to_export(tmp_path: Path, photo: Path, capsys) -> None:
    checkpoint = tmp_path / "checkpoint.pt"
    torch.save({"format": 1, "step": 3, "model": {"w": torch.zeros(2)}}, checkpoint)
    assert main(["still", str(photo), str(tmp_path / "out.png"), "--style", str(checkpoint)]) != 0
    line = _error_line(capsys)
    assert "training checkpoint" in line and f"rtstyle export {checkpoint} --out MODEL.safetensors" in line


def test_other_junk_keeps_the_plain_message(tmp_path: Path, photo: Path, capsys) -> None:
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    assert main(["still", str(photo), str(tmp_path / "out.png"), "--style", str(junk)]) != 0
    assert "not a readable rtstyle model file" in _error_line(capsys)
