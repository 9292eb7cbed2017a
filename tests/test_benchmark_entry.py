"""Benchmarks run as commands answer a user's mistake with one line, as rtstyle does, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_benchmark(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize(
    ("module", "args", "message"),
    [
        ("bench_temporal", ("--clip", "no/such/clip.mp4", "--style", "mosaic", "--mode", "off"), "no/such/clip.mp4"),
        ("contact_sheet", ("--style", "mosaic", "--photo", "no/such/photo.jpg"), "no/such/photo.jpg"),
        ("bench_video", ("no/such/clip.mp4", "--frames", "2"), "no/such/clip.mp4"),
        ("bench_smoother", ("--clip", "no/such/clip.mp4"), "no/such/clip.mp4"),
    ],
)
def test_a_user_error_is_one_line_and_a_nonzero_exit(module: str, args: tuple[str, ...], message: str) -> None:
    result = run_benchmark(module, *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error_lines) == 1, result.stderr
    assert error_lines[0].startswith(f"{module}: error: ") and message in error_lines[0]
