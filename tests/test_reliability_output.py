"""Where ``rtstyle video`` writes: a disk that fills up, outputs that cannot be created or would
overwrite the input, two runs at once, and a hard kill. One-line errors, playable partial files."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from broken_media import write_clip
from media_helpers import single_thread  # noqa: F401  (fixture)

from realtime_style.cli import main
from realtime_style.media.sources import VideoFileSource

pytestmark = pytest.mark.usefixtures("single_thread")
REPO = Path(__file__).resolve().parents[1]


def start_video(src: Path, dst: Path, model: Path, *extra: str, preexec: Callable[[], None] | None = None) -> subprocess.Popen:
    """``rtstyle video`` in a subprocess (one torch thread), stderr captured."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "realtime_style", "video", str(src), str(dst), "--style", str(model)]
    return subprocess.Popen(
        [*command, "--preset", "ultrafast", "-q", *extra], env=env, stderr=subprocess.PIPE, text=True, preexec_fn=preexec
    )


def decodable_frames(path: Path) -> tuple[int, int]:
    """Frames two independent readers get from ``path``: PyAV (skipping damage) and OpenCV."""
    with VideoFileSource(path) as source:
        pyav = sum(1 for _ in source)
    capture = cv2.VideoCapture(str(path))
    opencv = 0
    while capture.read()[0]:
        opencv += 1
    capture.release()
    return pyav, opencv


def file_size_limit(limit: int) -> Callable[[], None]:
    """For ``preexec_fn``: writes past ``limit`` bytes fail with EFBIG (SIGXFSZ ignored), like a full disk."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_full_disk_mid_run_is_one_line_and_leaves_a_playable_file(tmp_path: Path, random_model_file: Path) -> None:
    clip = write_clip(tmp_path / "in.mkv", 150, (64, 48))
    out = tmp_path / "out.mp4"
    process = start_video(clip, out, random_model_file, preexec=file_size_limit(15_000))
    _, err = process.communicate(timeout=300)
    assert process.returncode == 2
    assert err.strip() == f"rtstyle: error: {out}: cannot write (File too large)"
    pyav, opencv = decodable_frames(out)
    assert 0 < pyav < 150 and opencv == pyav  # the fragments written before the disk filled up


def test_hard_kill_leaves_a_playable_file(tmp_path: Path, random_model_file: Path) -> None:
    clip = write_clip(tmp_path / "in.mkv", 1500, (64, 48))
    out = tmp_path / "out.mp4"
    process = start_video(clip, out, random_model_file)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline and not (out.exists() and out.stat().st_size > 4000):
        time.sleep(0.05)  # the header and a first fragment (1 s of video) have reached the file
    process.kill()
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    pyav, opencv = decodable_frames(out)
    assert 0 < pyav < 1500 and opencv == pyav


def test_two_runs_at_once_do_not_interfere(tmp_path: Path, random_model_file: Path) -> None:
    """Two inputs of different sizes and lengths at strength 0: each output must be its own input."""
    inputs = [write_clip(tmp_path / "a.mkv", 40, (64, 48)), write_clip(tmp_path / "b.mkv", 30, (48, 32))]
    outputs = [tmp_path / "a-out.mp4", tmp_path / "b-out.mp4"]
    runs = [start_video(src, dst, random_model_file, "--strength", "0") for src, dst in zip(inputs, outputs)]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0 and err == "", err
    for src, dst in zip(inputs, outputs):
        with VideoFileSource(src) as before, VideoFileSource(dst) as after:
            original = np.stack([frame.image for frame in before]).astype(np.int16)
            written = np.stack([frame.image for frame in after]).astype(np.int16)
        assert written.shape == original.shape
        assert np.abs(written - original).mean() < 4  # x264 at CRF 18 of the very same frames


def _same_through_symlink(folder: Path, clip: Path) -> Path:
    (folder / "link.mp4").symlink_to(clip)
    return folder / "link.mp4"


def _same_through_hard_link(folder: Path, clip: Path) -> Path:
    os.link(clip, folder / "hard.mp4")
    return folder / "hard.mp4"


def _same_through_linked_folder(folder: Path, clip: Path) -> Path:
    (folder / "alias").symlink_to(folder, target_is_directory=True)
    return folder / "alias" / clip.name


@pytest.mark.parametrize(
    "spell",
    [
        lambda folder, clip: clip,
        lambda folder, clip: folder / "sub" / ".." / clip.name,
        lambda folder, clip: Path(os.path.relpath(clip)),
        _same_through_symlink,
        _same_through_hard_link,
        _same_through_linked_folder,
    ],
    ids=["same", "dotdot", "relative", "symlink", "hard-link", "linked-folder"],
)
def test_output_equal_to_input_is_refused_before_writing(
    tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str], spell
) -> None:
    clip = write_clip(tmp_path / "in.mp4", 4, (64, 48))
    (tmp_path / "sub").mkdir()
    before = clip.read_bytes()
    code = main(["video", str(clip), str(spell(tmp_path, clip)), "--style", str(random_model_file), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("rtstyle: error: ") and err.endswith("output is the same file as the input")
    assert clip.read_bytes() == before


@pytest.mark.parametrize(
    "target, message",
    [
        (lambda tmp: tmp / "in.mp4" / "out.mp4", "is not a folder"),
        (lambda tmp: Path("/proc/self/out.mp4"), "cannot create"),
        (lambda tmp: tmp / "missing" / "out.mp4", "does not exist"),
    ],
    ids=["parent-is-a-file", "unwritable-folder", "missing-folder"],
)
def test_an_output_that_cannot_be_created_is_one_line(
    tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str], target, message: str
) -> None:
    clip = write_clip(tmp_path / "in.mp4", 4, (64, 48))
    code = main(["video", str(clip), str(target(tmp_path)), "--style", str(random_model_file), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("rtstyle: error: "), err
    assert message in err
