"""``rtstyle video`` end to end on small clips: timing, size, audio, rotation, options, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest
from media_helpers import make_clip, probe, single_thread  # noqa: F401  (fixture)
from PIL import Image

from realtime_style.cli import main

pytestmark = pytest.mark.usefixtures("single_thread")
REPO = Path(__file__).resolve().parents[1]


def rtstyle_video(*args: object) -> int:
    return main(["video", *map(str, args)])


def test_frame_count_fps_time_base_and_odd_size_kept(tmp_path: Path, random_model_file: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=9, size=(97, 61), fps=Fraction(30000, 1001))
    out = tmp_path / "out.mp4"
    assert rtstyle_video(clip, out, "--style", random_model_file, "--batch-size", "4", "--exact-size", "-q") == 0
    before, after = probe(clip), probe(out)
    assert (after.frames, after.width, after.height) == (9, 97, 61)
    assert after.fps == before.fps and after.time_base == before.time_base and after.pts == before.pts
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv444p"


def test_odd_size_becomes_playable_420_and_says_so(
    tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=3, size=(97, 61))
    out = tmp_path / "out.mp4"
    assert rtstyle_video(clip, out, "--style", random_model_file, "--preset", "ultrafast") == 0
    assert (probe(out).width, probe(out).height) == (96, 60)
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
    notes = [line for line in capsys.readouterr().err.splitlines() if "odd side" in line]
    assert len(notes) == 1 and "97x61" in notes[0] and "96x60" in notes[0] and "--exact-size" in notes[0]


def test_a_first_frame_that_probes_the_backends_is_announced_once(
    tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a CPU the first frame of a new size also times torch against OpenVINO: seconds of silence, said beforehand."""
    monkeypatch.setenv("RTSTYLE_CACHE_DIR", str(tmp_path / "cache"))
    clip = make_clip(tmp_path / "in.mp4", count=2, size=(160, 128))
    notice = "the first frame also times torch against OpenVINO at this size on this CPU (once; remembered)"
    for expected in (True, False):
        assert rtstyle_video(clip, tmp_path / "out.mp4", "--style", random_model_file, "--device", "cpu") == 0
        assert (f"rtstyle: {notice}" in capsys.readouterr().err.splitlines()) is expected


def test_audio_kept_and_cut_at_the_video_end(tmp_path: Path, random_model_file: Path) -> None:
    """A 12.5 fps clip whose AAC track runs on after the video, as a phone records."""
    clip = make_clip(tmp_path / "in.mp4", count=50, size=(192, 108), fps=Fraction(25, 2), audio_seconds=6.0)
    out = tmp_path / "cars.mp4"
    code = rtstyle_video(clip, out, "--style", random_model_file, "--duration", "2", "--max-size", "96", "-q")
    facts = probe(out)
    assert code == 0 and facts.audio_codec == "aac"
    assert (facts.frames, facts.width, facts.height, facts.fps) == (25, 96, 54, Fraction(25, 2))
    assert abs(facts.audio_seconds - facts.frames / 12.5) < 0.1


def test_start_cuts_video_and_audio_alike(tmp_path: Path, random_model_file: Path, capsys) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=50, size=(96, 54), fps=Fraction(25, 2), audio_seconds=6.0)
    out = tmp_path / "part.mp4"
    assert rtstyle_video(clip, out, "--style", random_model_file, "--start", "0:01", "--duration", "1.5") == 0
    assert "19 frames, audio from 0:01)" in capsys.readouterr().err
    facts = probe(out)
    assert facts.frames == 19 and facts.pts[0] == 0
    assert abs(facts.audio_seconds - facts.frames / 12.5) < 0.1
    assert rtstyle_video(clip, tmp_path / "late.mp4", "--style", random_model_file, "--start", "9") != 0
    assert "past the end of the video (4.0 s long)" in capsys.readouterr().err
    assert not (tmp_path / "late.mp4").exists()


@pytest.mark.parametrize("value", ["1:75", "abc", "-2", "1::2", "inf"])
def test_start_rejects_what_is_not_a_time(tmp_path: Path, value: str, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        rtstyle_video("in.mp4", "out.mp4", "--style", "mosaic", f"--start={value}")
    assert stopped.value.code == 2 and "not a time" in capsys.readouterr().err


def test_a_tiny_max_size_works(tmp_path: Path, random_model_file: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=3, size=(64, 48))
    assert rtstyle_video(clip, tmp_path / "out.mp4", "--style", random_model_file, "--max-size", "6", "-q") == 0
    assert probe(tmp_path / "out.mp4").frames == 3


def test_a_huge_batch_size_is_capped_to_the_free_memory(
    tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from realtime_style.runtime import engine, memory

    frame_bytes = memory.BYTES_PER_PIXEL * 64 * 48
    monkeypatch.setattr(engine, "free_memory", lambda device: int(6 * frame_bytes / memory.SHARE_OF_FREE))
    batches: list[int] = []
    submit = engine.Engine.submit

    def counting_submit(self, frames, look):
        batches.append(len(frames))
        return submit(self, frames, look)

    monkeypatch.setattr(engine.Engine, "submit", counting_submit)
    clip = make_clip(tmp_path / "in.mp4", count=14, size=(64, 48))
    argv = [clip, tmp_path / "out.mp4", "--style", random_model_file, "--batch-size", "100000", "--preset", "ultrafast"]
    assert rtstyle_video(*argv) == 0
    assert probe(tmp_path / "out.mp4").frames == 14 and max(batches) == 6
    warnings = [line for line in capsys.readouterr().err.splitlines() if "--batch-size" in line]
    assert warnings == ["rtstyle: warning: --batch-size 100000 capped to 6: more 64x48 frames would not fit in half the free memory"]


def test_rotation_kept(tmp_path: Path, random_model_file: Path) -> None:
    clip = make_clip(tmp_path / "rot.mp4", count=3, rotation=-90)
    assert rtstyle_video(clip, tmp_path / "out.mp4", "--style", random_model_file, "-q") == 0
    assert probe(tmp_path / "out.mp4").rotation == -90


def test_options_scale_codec_and_frame_limit(tmp_path: Path, random_model_file: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=6, size=(64, 48))
    out = tmp_path / "out.mkv"
    args = ["--scale", "0.5", "--codec", "mpeg4", "--max-frames", "4", "--strength", "0.5", "--preserve-color"]
    assert rtstyle_video(clip, out, "--style", random_model_file, *args, "-q") == 0
    facts = probe(out)
    assert (facts.frames, facts.width, facts.height) == (4, 32, 24)


def test_summary_line(tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=3)
    assert rtstyle_video(clip, tmp_path / "out.mp4", "--style", random_model_file, "--preset", "ultrafast") == 0
    err = capsys.readouterr().err
    assert "64x48" in err and "wrote 3 frames" in err


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_run_leaves_a_playable_file(tmp_path: Path, random_model_file: Path, signum: int) -> None:
    clip = make_clip(tmp_path / "long.mp4", count=1500, size=(64, 48))
    out = tmp_path / "out.mp4"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "realtime_style", "video", clip, out, "--style", random_model_file]
    process = subprocess.Popen(
        [*map(str, command), "--preset", "ultrafast"], env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 180  # a loaded CI machine can take a minute to import torch
    while not (out.exists() and out.stat().st_size > 0) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the first MP4 fragment (1 s of video) has reached the file
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "interrupted: wrote" in err
    facts = probe(out)
    assert 0 < facts.frames < 1500
    assert f"wrote {facts.frames} frames" in err
    assert facts.video_seconds > 0  # the index (moov) was written: the file is finalized


def test_webm_defaults_to_vp9(tmp_path: Path, random_model_file: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=3, size=(32, 24))
    assert rtstyle_video(clip, tmp_path / "out.webm", "--style", random_model_file, "-q") == 0
    with av.open(str(tmp_path / "out.webm")) as container:
        assert container.streams.video[0].codec_context.name in ("vp9", "libvpx-vp9")
    assert probe(tmp_path / "out.webm").frames == 3


def test_a_photo_is_refused_with_a_pointer_to_still(tmp_path: Path, random_model_file: Path, capsys) -> None:
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (32, 24), (90, 120, 200)).save(photo)
    assert rtstyle_video(photo, tmp_path / "out.mp4", "--style", random_model_file) == 2
    err = capsys.readouterr().err
    assert "is a still image" in err and "rtstyle still" in err and err.count("\n") == 1
    assert not (tmp_path / "out.mp4").exists()
