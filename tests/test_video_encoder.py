"""``rtstyle video --codec``: the default encoder, an encoder this PyAV build lacks, a hardware one."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from media_helpers import make_clip, single_thread  # noqa: F401  (fixture)

from realtime_style.cli import build_parser, main
from realtime_style.cli.video import hardware_encoders, options_from_args

pytestmark = pytest.mark.usefixtures("single_thread")


def video_codec(path: Path) -> str:
    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.name


def test_default_encoder_is_h264(tmp_path: Path, random_model_file: Path) -> None:
    args = build_parser().parse_args(["video", "in.mp4", "out.mp4", "--style", str(random_model_file)])
    assert options_from_args(args).codec is None  # the sink's default: libx264 (VP9 for .webm)
    clip = make_clip(tmp_path / "in.mp4", count=2, size=(32, 24))
    assert main(["video", str(clip), str(tmp_path / "out.mp4"), "--style", str(random_model_file), "-q"]) == 0
    assert video_codec(tmp_path / "out.mp4") == "h264"


@pytest.mark.parametrize("name", ["no-such-codec", "h264_cuvid", "aac"])  # unknown, a decoder only, audio
def test_an_encoder_this_build_lacks_is_a_usage_error_naming_the_choices(name: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["video", "in.mp4", "out.mp4", "--style", "x", "--codec", name])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"argument --codec: {name!r} is not a video encoder in this PyAV build" in error
    assert "libx264" in error and f"hardware: {', '.join(hardware_encoders()) or 'none'}" in error


def test_hardware_encoders_are_video_encoders_of_this_build() -> None:
    for name in hardware_encoders():
        assert av.codec.Codec(name, "w").type == "video"
    assert "h264_cuvid" not in hardware_encoders()  # NVIDIA's decoder, not an encoder


@pytest.mark.skipif("h264_nvenc" not in av.codecs_available, reason="this PyAV build has no NVENC")
def test_nvenc_encodes_or_fails_in_one_line(tmp_path: Path, random_model_file: Path, capsys) -> None:
    """With an NVIDIA GPU and driver the clip is H.264; without, one error line (no traceback) and no file."""
    clip = make_clip(tmp_path / "in.mp4", count=2, size=(256, 144))
    out = tmp_path / "out.mp4"
    code = main(["video", str(clip), str(out), "--style", str(random_model_file), "--codec", "h264_nvenc", "-q"])
    if code == 0:
        assert video_codec(out) == "h264"
    else:
        error = capsys.readouterr().err.strip()
        assert error.startswith("rtstyle: error:") and "h264_nvenc" in error and "Traceback" not in error
        assert not out.exists()


def test_a_gif_is_written_with_the_gif_codec_and_without_the_audio(
    tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=3, size=(32, 24), audio_seconds=1.0)
    out = tmp_path / "out.gif"
    assert main(["video", str(clip), str(out), "--style", str(random_model_file), "-q"]) == 0
    assert video_codec(out) == "gif"
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 3 and not container.streams.audio
    assert "out.gif: this format holds no sound; the input's audio was not copied" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (["--crf", "99"], "argument --crf: must be between 0 and 63, got 99"),
        (["--crf", "-1"], "argument --crf: must be between 0 and 63, got -1"),
        (["--preset", "fastest"], "argument --preset: invalid choice: 'fastest'"),
    ],
)
def test_encoder_settings_out_of_range_are_usage_errors(flags: list[str], error: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["video", "in.mp4", "out.mp4", "--style", "x", *flags])
    assert exit_info.value.code == 2 and error in capsys.readouterr().err


def test_a_crf_beyond_the_encoders_range_fails_in_one_line_before_any_frame(
    tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """x264 would clamp 60 to 51 silently; VP9 takes up to 63."""
    clip = make_clip(tmp_path / "in.mp4", count=2, size=(32, 24))
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), str(out), "--style", str(random_model_file), "--crf", "60", "-q"]) != 0
    assert capsys.readouterr().err.strip() == "rtstyle: error: crf 60 is out of range for libx264 (0-51, lower is better)"
    assert not out.exists()
    webm = tmp_path / "out.webm"
    assert main(["video", str(clip), str(webm), "--style", str(random_model_file), "--crf", "60", "-q"]) == 0
    assert video_codec(webm) == "vp9"


def test_the_sink_refuses_an_unknown_x264_preset_from_the_api(tmp_path: Path) -> None:
    from realtime_style.errors import OutputError
    from realtime_style.media.sinks import VideoFileSink

    with pytest.raises(OutputError, match="unknown libx264 preset 'fastest' \\(one of ultrafast, "):
        VideoFileSink(tmp_path / "out.mp4", 32, 24, fps=25, preset="fastest")
    assert not (tmp_path / "out.mp4").exists()
