"""Fuzz the decode -> encode path with random corruptions; run by tests/test_reliability_media.py.

``python tests/fuzz_decode_worker.py SEED CASES FOLDER CASE_TIMEOUT_S``: for each case, corrupts one
of a few clips (MP4, fragmented MP4, Matroska, MPEG-TS) and runs it through ``process_video`` with
an identity "stylizer". Prints one line per case: ``ok FRAMES SKIPPED`` or ``refused MESSAGE``.
A case that hangs past CASE_TIMEOUT_S kills the process (faulthandler prints where it hung); an
exception that is not a user error, or an output that does not decode to the frames reported,
ends the process with a traceback. Either way the test sees a non-zero exit.
"""

from __future__ import annotations

import faulthandler
import random
import sys
from pathlib import Path

import cv2  # noqa: F401, I001  (OpenCV before PyAV, as everywhere)
from broken_media import corrupt_randomly, write_clip
from media_helpers import probe

from realtime_style.errors import RtStyleError
from realtime_style.runtime.pending import eager
from realtime_style.video import VideoOptions, process_video


def base_clips(folder: Path) -> list[Path]:
    """The clips to corrupt: one per container the demuxers differ on."""
    return [
        write_clip(folder / "base.mp4", 30, (64, 48)),
        write_clip(folder / "base-frag.mp4", 30, (64, 48), movflags="frag_keyframe+empty_moov", frag_duration="200000"),
        write_clip(folder / "base.mkv", 30, (64, 48)),
        write_clip(folder / "base.ts", 30, (64, 48)),
    ]


def run_case(src: Path, dst: Path) -> str:
    """One corrupted input through the pipeline; the outcome as one line."""
    try:
        result = process_video(eager(lambda batch: batch), 4, src, dst, VideoOptions(preset="ultrafast", audio=False))
    except RtStyleError as exc:
        message = str(exc)
        assert "\n" not in message, message
        assert not dst.exists() or probe(dst).frames > 0, "an error left an unplayable output"
        return f"refused {message}"
    if result.output is None:
        assert not dst.exists(), "no frame written but an output file left behind"
        return f"ok 0 {result.skipped_packets}"
    assert probe(dst).frames == result.frames, "the output does not decode to the frames written"
    return f"ok {result.frames} {result.skipped_packets}"


def main(seed: int, cases: int, folder: Path, timeout_s: float) -> None:
    rng = random.Random(seed)
    clips = [path.read_bytes() for path in base_clips(folder)]
    suffixes = [".mp4", ".mp4", ".mkv", ".ts"]
    for case in range(cases):
        which = rng.randrange(len(clips))
        src = folder / f"case{case}{suffixes[which]}"
        src.write_bytes(corrupt_randomly(clips[which], rng))
        faulthandler.dump_traceback_later(timeout_s, exit=True)
        line = run_case(src, folder / f"case{case}-out.mkv")
        faulthandler.cancel_dump_traceback_later()
        print(f"case {case}: {line}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]))
