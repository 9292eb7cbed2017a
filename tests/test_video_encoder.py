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
