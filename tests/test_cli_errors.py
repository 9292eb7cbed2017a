"""Bad input to ``rtstyle video`` and ``rtstyle still``: one line on stderr, non-zero exit, no traceback."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
from media_helpers import make_clip, single_thread  # noqa: F401  (fixture)
from PIL import Image

from realtime_style.cli import main

pytestmark = pytest.mark.usefixtures("single_thread")


class Hostile:
    """Unpickling this would create a file: proof that a model file was unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def make_inputs(tmp: Path, kind: str) -> Path:
    """A good input of ``kind`` (video or still)."""
    if kind == "video":
        return make_clip(tmp / "in.mp4", count=2)
    Image.new("RGB", (20, 14), "red").save(tmp / "in.png")
    return tmp / "in.png"


def output_name(kind: str) -> str:
    return "out.mp4" if kind == "video" else "out.png"


# Each case: (tmp, model file, good input, kind) -> argv after the command name; and the message expected.
Case = Callable[[Path, Path, Path, str], list[str]]


def missing_input(tmp: Path, model: Path, good: Path, kind: str) -> list[str]:
    return [str(tmp / ("nope.mp4" if kind == "video" else "nope.png")), str(tmp / output_name(kind)), "--style", str(model)]


def corrupt_input(tmp: Path, model: Path, good: Path, kind: str) -> list[str]:
    bad = tmp / ("bad.mp4" if kind == "video" else "bad.png")
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3] if kind == "still" else b"\x00" * 300)
    return [str(bad), str(tmp / output_name(kind)), "--style", str(model)]


def truncated_input(tmp: Path, model: Path, good: Path, kind: str) -> list[str]:
    bad = tmp / ("cut.mp4" if kind == "video" else "cut.jpg")
    data = good.read_bytes() if kind == "video" else _jpeg_bytes(tmp)
    bad.write_bytes(data[: len(data) // 2])
    return [str(bad), str(tmp / output_name(kind)), "--style", str(model)]


def unknown_style(tmp: Path, model: Path, good: Path, kind: str) -> list[str]:
    return [str(good), str(tmp / output_name(kind)), "--style", "no-such-style"]


def corrupt_model(tmp: Path, model: Path, good: Path, kind: str) -> list[str]:
    bad = tmp / "broken.safetensors"
    bad.write_bytes(model.read_bytes()[:500])
    return [str(good), str(tmp / output_name(kind)), "--style", str(bad)]


def pickle_model(tmp: Path, model: Path, good: Path, kind: str) -> list[str]:
    bad = tmp / "evil.safetensors"
    bad.write_bytes(pickle.dumps({"net": Hostile(tmp / "pwned")}))
    return [str(good), str(tmp / output_name(kind)), "--style", str(bad)]


def missing_output_folder(tmp: Path, model: Path, good: Path, kind: str) -> list[str]:
    return [str(good), str(tmp / "no" / "such" / output_name(kind)), "--style", str(model)]


def full_disk(tmp: Path, model: Path, good: Path, kind: str) -> list[str]:
    target = tmp / output_name(kind)
    target.symlink_to("/dev/full")  # every write fails with ENOSPC (works as root too)
    return [str(good), str(target), "--style", str(model)]


def output_is_input(tmp: Path, model: Path, good: Path, kind: str) -> list[str]:
    return [str(good), str(good), "--style", str(model)]


def _jpeg_bytes(tmp: Path) -> bytes:
    Image.effect_noise((64, 64), 60).convert("RGB").save(tmp / "noise.jpg", quality=90)
    return (tmp / "noise.jpg").read_bytes()


CASES: dict[str, tuple[Case, str]] = {
    "missing input": (missing_input, "no such file"),
    "corrupt input": (corrupt_input, "not a readable"),
    "truncated input": (truncated_input, "not a readable"),
    "unknown style": (unknown_style, "unknown style 'no-such-style'"),
    "corrupt model": (corrupt_model, "not a readable rtstyle model file"),
    "pickle posing as a model": (pickle_model, "not a readable rtstyle model file"),
    "missing output folder": (missing_output_folder, "does not exist"),
    "full disk": (full_disk, "No space left on device"),
    "output is input": (output_is_input, "same file as the input"),
}


@pytest.mark.parametrize("kind", ["video", "still"])
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_non_zero(
    tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str], kind: str, case: str
) -> None:
    make_args, message = CASES[case]
    good = make_inputs(tmp_path, kind)
    argv = make_args(tmp_path, random_model_file, good, kind)
    code = main([kind, *argv, "-q"])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1 and err.startswith("rtstyle: error: "), err
    assert message in err
    assert not (tmp_path / "pwned").exists()


def test_bad_option_values_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--strength", "1.5"], ["--max-size", "0"], ["--max-size", "1"], ["--batch-size", "-1"], ["--arch", "huge"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["video", "a.mp4", "b.mp4", "--style", "x", *argv])
        assert exit_info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err



def test_options_that_do_not_go_together_are_one_line(
    tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = make_inputs(tmp_path, "still")
    code = main(["still", str(good), str(tmp_path / "o.png"), "--style", str(random_model_file), "--cuda-graphs", "--compile", "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("rtstyle: error: ") and "\n" not in err and "do not go together" in err


def test_an_unexpected_error_is_one_line_unless_debug_is_asked(
    tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import realtime_style.cli.still as still_command

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("a bug somewhere\nsecond line")

    monkeypatch.setattr(still_command, "stylizer_from_args", broken)
    monkeypatch.delenv("RTSTYLE_DEBUG", raising=False)
    argv = ["still", str(make_inputs(tmp_path, "still")), str(tmp_path / "o.png"), "--style", str(random_model_file)]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        "rtstyle: error: unexpected ValueError: a bug somewhere "
        "(run again with --debug or RTSTYLE_DEBUG=1 for the traceback, and please report it)"
    )
    with pytest.raises(ValueError):
        main(["--debug", *argv])
    monkeypatch.setenv("RTSTYLE_DEBUG", "1")
    with pytest.raises(ValueError):
        main(argv)
