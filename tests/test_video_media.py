"""Video file source and sink (PyAV), without any model: sizes, timing, rotation, audio, errors."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media_helpers import clip_frames, make_clip, probe, write_clip_with_sink
from PIL import Image

from realtime_style.errors import InputError, OutputError
from realtime_style.media import Resize, VideoFileSink, VideoFileSource
from realtime_style.media.sources import _display_matrix, rotation_matrix


def test_source_reads_frames_pts_and_metadata(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=6, size=(64, 48), fps=Fraction(30000, 1001))
    with VideoFileSource(clip) as source:
        assert (source.info.width, source.info.height) == (64, 48)
        assert source.info.fps == Fraction(30000, 1001)
        assert source.info.frames == 6 and not source.info.has_audio
        frames = list(source)
    assert [f.index for f in frames] == list(range(6))
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)
    assert [f.pts for f in frames] == sorted(f.pts for f in frames)
    # the moving bar is where the clip put it (H.264 is lossy, so compare coarsely)
    expected = clip_frames(6, 64, 48)
    assert np.abs(frames[3].image.astype(int) - expected[3]).mean() < 6


def test_source_limits_and_resizes(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=10, size=(64, 48), fps=Fraction(10))
    with VideoFileSource(clip, size=(32, 24), max_frames=4) as source:
        assert source.expected_frames == 4
        frames = list(source)
    assert len(frames) == 4 and frames[0].image.shape == (24, 32, 3)
    with VideoFileSource(clip, duration=0.5) as source:
        assert len(list(source)) == 5


@pytest.mark.parametrize(
    "name, keyframe_every, start",
    [("in.mp4", None, 2.2), ("in.mp4", 5, 2.2), ("in.ts", None, 2.2), ("in.ts", None, 3.5)],
    ids=["decode-forward", "seek", "mpegts", "mpegts-near-end"],  # a TS seek lands near its target, even past it
)
def test_source_starts_later_with_timestamps_from_zero(
    tmp_path: Path, name: str, keyframe_every: int | None, start: float
) -> None:
    clip = make_clip(tmp_path / name, count=40, fps=Fraction(10), keyframe_every=keyframe_every)
    with VideoFileSource(clip, start=start, duration=1.0) as source:
        frames = list(source)
        assert source.expected_frames == len(frames)
    first = round(start * 10)
    assert len(frames) == min(10, 40 - first) and frames[0].time == 0.0
    expected = clip_frames(40, 64, 48)
    errors = [np.abs(frames[0].image.astype(int) - expected[t]).mean() for t in range(40)]
    assert int(np.argmin(errors)) == first  # the frame at the start, not a keyframe before it or one after


def test_source_refuses_a_start_past_the_end(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=10, fps=Fraction(10))
    with pytest.raises(InputError, match="past the end of the video"):
        VideoFileSource(clip, start=1.0)


@pytest.mark.parametrize("size", [(97, 61), (64, 48)])
def test_sink_keeps_size_frame_count_fps_and_time_base(tmp_path: Path, size: tuple[int, int]) -> None:
    frames = clip_frames(7, *size)
    out = write_clip_with_sink(tmp_path / "out.mp4", frames, fps=Fraction(24000, 1001))
    facts = probe(out)
    assert (facts.width, facts.height, facts.frames) == (*size, 7)
    assert facts.fps == Fraction(24000, 1001)


def test_odd_sizes_use_444_and_even_sizes_420(tmp_path: Path) -> None:
    with VideoFileSink(tmp_path / "odd.mp4", 97, 61, fps=25) as odd, VideoFileSink(tmp_path / "even.mp4", 96, 60, fps=25) as even:
        assert (odd.pix_fmt, even.pix_fmt) == ("yuv444p", "yuv420p")


def test_rotation_matrix_is_copied(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "rot.mp4", count=3, rotation=90)
    with VideoFileSource(clip) as source:
        assert source.info.rotation == 90
        out = write_clip_with_sink(
            tmp_path / "out.mp4", np.stack([f.image for f in source]), display_matrix=source.info.display_matrix
        )
    assert probe(out).rotation == 90


def test_pts_are_kept_with_the_input_time_base(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=5, fps=Fraction(25, 2))
    with VideoFileSource(clip) as source, VideoFileSink(
        tmp_path / "out.mp4", 64, 48, fps=source.info.fps, time_base=source.info.time_base
    ) as sink:
        pts = []
        for frame in source:
            sink.write(frame.image, frame.pts)
            pts.append(frame.pts)
    facts = probe(tmp_path / "out.mp4")
    assert facts.time_base == probe(clip).time_base
    assert facts.pts == pts


def test_audio_is_copied_and_cut_at_the_video_end(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=40, size=(192, 108), fps=Fraction(25, 2), audio_seconds=30.0)
    with VideoFileSource(clip, size=(96, 54), duration=1.0) as source:
        frames = list(source)
        with VideoFileSink(tmp_path / "out.mp4", 96, 54, fps=source.info.fps, time_base=source.info.time_base, audio_from=clip) as sink:
            for frame in frames:
                sink.write(frame.image, frame.pts)
    facts = probe(tmp_path / "out.mp4")
    assert facts.audio_codec == "aac"
    assert facts.frames == len(frames) == 13  # 12.5 fps
    assert abs(facts.audio_seconds - 1.04) < 0.1  # up to the end of the last frame, not the 30 s track


def test_audio_is_cut_and_shifted_with_a_late_start(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=40, size=(64, 48), fps=Fraction(25, 2), audio_seconds=30.0)
    with VideoFileSource(clip, start=1.6, duration=1.0) as source:
        frames = list(source)
        with VideoFileSink(
            tmp_path / "out.mp4", 64, 48, fps=source.info.fps, time_base=source.info.time_base,
            audio_from=clip, audio_cut=source.cut_time,
        ) as sink:
            for frame in frames:
                sink.write(frame.image, frame.pts)
    facts = probe(tmp_path / "out.mp4")
    assert facts.frames == 13 and facts.pts[0] == 0
    assert abs(facts.audio_seconds - 1.04) < 0.1
    with av.open(str(tmp_path / "out.mp4")) as container:
        audio_starts = [float(p.pts * p.time_base) for p in container.demux(container.streams.audio[0]) if p.pts is not None]
    assert 0 <= audio_starts[0] < 0.05  # the audio from 1.6 s now starts with the video, at 0


@pytest.mark.parametrize(
    "content, message",
    [(None, "no such file"), (b"", "not a readable video"), (b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 5000, "not a readable video")],
)
def test_source_rejects_missing_and_corrupt_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        VideoFileSource(path)


def test_source_rejects_a_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("hello, not a video\n" * 50)
    with pytest.raises(InputError):
        VideoFileSource(path)


def test_sink_errors_are_output_errors(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        VideoFileSink(tmp_path / "missing" / "out.mp4", 64, 48, fps=25)
    with pytest.raises(OutputError, match="format"):
        VideoFileSink(tmp_path / "out.unknownext", 64, 48, fps=25)
    with pytest.raises(OutputError, match="codec"):
        VideoFileSink(tmp_path / "out.mp4", 64, 48, fps=25, codec="no-such-codec")
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize(
    "resize, size, expected",
    [
        (Resize(), (97, 61), (97, 61)),
        (Resize(scale=0.5), (768, 432), (384, 216)),
        (Resize(max_size=100), (768, 432), (100, 56)),
        (Resize(max_size=101), (61, 97), (61, 97)),
        (Resize(max_size=51), (61, 97), (32, 50)),
        (Resize(scale=2, max_size=1000), (768, 432), (1000, 562)),
    ],
)
def test_resize_even_sizes(resize: Resize, size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert resize.apply(*size, even=True) == expected


def test_a_scale_past_16k_is_refused_in_one_line_but_a_large_input_is_not() -> None:
    """An upscale to 64000x48000 once died in the decoder's resampler, or ran for minutes into swap."""
    with pytest.raises(InputError, match=r"^--scale 1000 makes the 64x48 input 64000x48000, larger than 16384 px"):
        Resize(scale=1000).apply(64, 48, even=True)
    assert Resize(scale=256).apply(64, 48) == (16384, 12288)
    assert Resize(scale=0.5).apply(40000, 1000) == (20000, 500)  # smaller than the input: its own business
    assert Resize(scale=1000, max_size=2000).apply(64, 48) == (2000, 1500)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tiff", ".bmp"])
def test_a_still_image_opens_and_is_marked_as_one(tmp_path: Path, suffix: str) -> None:
    """FFmpeg reads photos as one-frame videos; a TIFF's side data (unknown to PyAV) once raised ValueError."""
    path = tmp_path / f"photo{suffix}"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 32, 3), np.uint8)).save(path)
    with VideoFileSource(path) as source:
        assert source.info.still_image and (source.info.width, source.info.height) == (32, 24)
    with VideoFileSource(make_clip(tmp_path / "clip.mp4", count=2)) as video:
        assert not video.info.still_image


@pytest.mark.parametrize("degrees", [-90, 90, 180, 45])
def test_rotation_matrix_matches_the_one_ffmpeg_stores(tmp_path: Path, degrees: int) -> None:
    """The fallback for frames whose side data PyAV cannot list rebuilds the matrix from the rotation."""
    frame = next(av.open(str(make_clip(tmp_path / "rot.mp4", count=2, rotation=degrees))).decode(video=0))
    assert rotation_matrix(frame.rotation) == _display_matrix(frame)
