"""Broken inputs to ``rtstyle video``: what can be decoded is stylized (damage reported), the rest is
refused with one line and a non-zero exit; no hang, no traceback, no unplayable output."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import av
import pytest
from broken_media import audio_only, cut, flip_bits, resolution_change, write_clip
from media_helpers import probe, single_thread  # noqa: F401  (fixture)

from realtime_style.cli import main
from realtime_style.media.decoding import MAX_DEMUX_RETRIES, TolerantDecoder
from realtime_style.runtime.pending import eager
from realtime_style.video import VideoOptions, process_video

pytestmark = pytest.mark.usefixtures("single_thread")
TESTS = Path(__file__).resolve().parent
FAST = VideoOptions(preset="ultrafast", audio=False)


def identity(batch):
    return batch


def run_cli(capsys: pytest.CaptureFixture[str], src: Path, dst: Path, model: Path) -> tuple[int, list[str]]:
    code = main(["video", str(src), str(dst), "--style", str(model), "--preset", "ultrafast", "-q"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip().splitlines()


def test_bit_flips_skip_the_damaged_packets_and_say_how_many(
    tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = write_clip(tmp_path / "clean.mp4", 40, (64, 48))
    damaged = flip_bits(clean, tmp_path / "flipped.mp4", count=40, seed=3)
    result = process_video(eager(identity), 4, damaged, tmp_path / "api.mkv", FAST)
    assert result.skipped_packets > 0
    assert 0 < result.frames < 40 and probe(tmp_path / "api.mkv").frames == result.frames

    code, lines = run_cli(capsys, damaged, tmp_path / "cli.mp4", random_model_file)
    assert code == 0
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"rtstyle: warning: {damaged}: skipped {result.skipped_packets} damaged packet")
    assert lines[0].endswith("their frames are missing from the output")
    assert probe(tmp_path / "cli.mp4").frames == result.frames


@pytest.mark.parametrize("suffix", [".mkv", ".ts"])
def test_a_cut_short_stream_is_stylized_up_to_the_cut(tmp_path: Path, suffix: str) -> None:
    clean = write_clip(tmp_path / f"clean{suffix}", 40, (64, 48))
    result = process_video(eager(identity), 4, cut(clean, tmp_path / f"cut{suffix}", 0.5), tmp_path / "out.mp4", FAST)
    assert 10 < result.frames < 30
    assert probe(tmp_path / "out.mp4").frames == result.frames


def test_a_resolution_change_mid_stream_keeps_the_first_size(tmp_path: Path) -> None:
    clip = resolution_change(tmp_path / "switch.ts", (64, 48), (96, 80), count=12)
    result = process_video(eager(identity), 4, clip, tmp_path / "out.mp4", FAST)
    facts = probe(tmp_path / "out.mp4")
    assert result.frames == facts.frames == 24 and result.skipped_packets == 0
    assert (facts.width, facts.height) == (64, 48)


class _Packet:
    size = 1

    def __init__(self, number: int):
        self.number = number


class _Stream:
    """Decodes a packet to its number; packet 3 is damaged; None (the flush) gives a last frame -1."""

    def decode(self, packet: _Packet | None) -> list[int]:
        if packet is not None and packet.number == 3:
            raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")
        return [packet.number] if packet is not None else [-1]


class _Container:
    """A demuxer that reads ``script``: packet numbers, or errors it raises (an unreadable stretch)."""

    def __init__(self, script: list[int | OSError]):
        self._script = iter(script)

    def demux(self, stream: _Stream):
        for item in self._script:
            if isinstance(item, OSError):
                raise item
            yield _Packet(item)


def test_decoding_skips_damaged_packets_and_resumes_after_read_errors() -> None:
    eio = OSError(5, "Input/output error")
    decoder = TolerantDecoder(_Container([1, 2, 3, eio, eio, 4, 5]), _Stream())
    assert list(decoder) == [1, 2, 4, 5, -1]
    assert decoder.skipped == 2 and decoder.stopped_early is None  # packet 3, one unreadable stretch

    decoder = TolerantDecoder(_Container([1, *[eio] * (MAX_DEMUX_RETRIES + 1), 2]), _Stream())
    assert list(decoder) == [1, -1]  # gave up: what the decoder held is still flushed out
    assert decoder.skipped == 1 and decoder.stopped_early == "Input/output error"


def _classic_mp4_cut_in_half(tmp: Path) -> Path:
    return cut(write_clip(tmp / "clean.mp4", 40, (64, 48)), tmp / "cut.mp4", 0.5)


def _random_bytes(tmp: Path, seed: int = 0) -> Path:
    """Seeded noise: FFmpeg refuses most of it, but 1 seed in ~200 probes as a lyrics (lrc) subtitle file."""
    path = tmp / "noise.mp4"
    path.write_bytes(random.Random(seed).randbytes(20_000))
    return path


def _empty(tmp: Path) -> Path:
    path = tmp / "empty.mp4"
    path.touch()
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (_classic_mp4_cut_in_half, "not a readable video file"),  # MP4 index (moov) at the end: lost
        (lambda tmp: audio_only(tmp / "sound.m4a"), "no video stream (only audio)"),
        (_empty, "is empty (0 bytes)"),
        (_random_bytes, "not a readable video file"),
        (lambda tmp: _random_bytes(tmp, seed=131), "no video stream (only subtitle)"),
    ],
    ids=["classic-mp4-cut", "audio-only", "zero-length", "random-bytes", "noise-read-as-subtitles"],
)
def test_unusable_inputs_are_refused_in_one_line(
    tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str], make, message: str
) -> None:
    src = make(tmp_path)
    code, lines = run_cli(capsys, src, tmp_path / "out.mp4", random_model_file)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith(f"rtstyle: error: {src}: ") and message in lines[0], lines
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.slow
def test_fuzzed_inputs_never_hang_crash_or_leave_a_broken_output(tmp_path: Path, long_run: bool) -> None:
    """Seeded random corruptions of four containers; each case must end within its timeout.
    40 cases (seconds); ``RTSTYLE_LONG_TESTS=1``: 400, the first 40 the same."""
    cases, case_timeout_s = 400 if long_run else 40, 30
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
    worker = [sys.executable, str(TESTS / "fuzz_decode_worker.py"), "20240901", str(cases), str(tmp_path), str(case_timeout_s)]
    done = subprocess.run(worker, env=env, capture_output=True, text=True, timeout=cases * case_timeout_s)
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = [line.split(": ", 1)[1] for line in done.stdout.splitlines() if line.startswith("case ")]
    assert len(outcomes) == cases
    decoded = [line for line in outcomes if line.startswith("ok ")]
    refused = [line for line in outcomes if line.startswith("refused ")]
    assert len(decoded) + len(refused) == cases
    assert decoded and refused  # both paths were exercised
    assert any(int(line.split()[2]) > 0 for line in decoded)  # some runs skipped damaged packets
