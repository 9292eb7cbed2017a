"""Issue 25 item 14: help and output speak to a user, not of the engine's internals."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch
from PIL import Image

import realtime_style.cli
from realtime_style.cli import build_parser, main
from realtime_style.models.store import ModelInfo, read_info, resolve_style, save_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet

COMMANDS = [["still"], ["video"], ["webcam"], ["styles"], ["info"], ["demo"], ["train"], ["export"], ["eval", "styles"]]
#: A terminal screen: what ``--help`` must fit in.
SCREEN_LINES = 60
INTERNALS = ("--no-fast-norm", "--no-split-conv", "--cuda-graphs", "--no-copy-streams", "SPEED_", "--compile-mode")


def _exit(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    return int(stopped.value.code or 0)


@pytest.fixture(autouse=True)
def terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_fits_a_screen_without_internals(command: list[str], capsys) -> None:
    assert _exit([*command, "--help"]) == 0
    text = capsys.readouterr().out
    assert len(text.splitlines()) <= SCREEN_LINES, text
    assert not [word for word in INTERNALS if word in text]


def test_help_all_lists_the_tuning_switches(capsys) -> None:
    assert _exit(["still", "--help-all"]) == 0
    text = capsys.readouterr().out
    assert "--no-fast-norm" in text and "--threads N" in text and "--content-weight" in text


def test_tuning_switches_still_work_when_hidden() -> None:
    from realtime_style.cli import build_parser

    args = build_parser().parse_args(["still", "a.jpg", "b.jpg", "--style", "mosaic", "--no-fast-norm", "--threads", "1"])
    assert args.speed_fast_norm is False and args.process_threads == 1


def test_version(capsys) -> None:
    from realtime_style import __version__

    assert _exit(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"rtstyle {__version__}"


def test_argument_error_is_one_line_naming_help(capsys) -> None:
    assert _exit(["still", "only-one-path.jpg"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "see `rtstyle still --help`" in lines[0] and "required" in lines[0]


@pytest.mark.parametrize("command", [["still", "a.jpg", "b.jpg", "--style", "mosaic"], ["eval", "flicker", "a.mp4", "b.mp4"]])
def test_unknown_argument_names_the_subcommands_help(command: list[str], capsys) -> None:
    assert _exit([*command, "--bogus", "3"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    prog = "rtstyle " + " ".join(command[: 2 if command[0] == "eval" else 1])
    assert lines == [f"{prog}: error: unrecognized option --bogus (see `{prog} --help`)"]


@pytest.mark.parametrize(
    ("command", "typo", "meant"),
    [
        (["video", "a.mp4", "b.mp4"], ["--stlye", "mosaic"], "--style"),  # not "--style is required"
        (["train", "--dataset", "photos"], ["--stlye-image", "s.jpg"], "--style-image"),
        (["still", "a.jpg", "b.jpg", "--style", "mosaic"], ["--strenght=0.5"], "--strength"),
    ],
)
def test_a_mistyped_option_is_named_with_the_one_it_resembles(command: list[str], typo: list[str], meant: str, capsys) -> None:
    assert _exit([*command, *typo]) == 2
    err = capsys.readouterr().err.strip()
    assert f"unrecognized option {typo[0].split('=')[0]}; did you mean {meant}?" in err, err
    assert len(err.splitlines()) == 1


def _valued_options(parser: argparse.ArgumentParser, command: tuple[str, ...] = ()):
    """Every option of every subcommand that converts its value: (command, flag, action)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield from _valued_options(subparser, (*command, name))
        elif action.option_strings and action.type not in (None, str, Path) and action.nargs != 0:
            yield command, action.option_strings[-1], action


def test_no_numeric_option_takes_nan_or_infinity() -> None:
    """argparse turns a type's refusal into one usage line; nan or inf let through would crash or train a NaN net."""
    options = list(_valued_options(build_parser()))
    assert {"--lr", "--style-weight", "--scale", "--strength", "--time-limit"} <= {flag for _, flag, _ in options}
    accepted = []
    for command, flag, action in options:
        for value in ("nan", "inf", "-inf"):
            try:
                action.type(value)
            except (argparse.ArgumentTypeError, ValueError):
                continue
            accepted.append(f"{' '.join(command)} {flag} {value}")
    assert not accepted


def test_a_negative_number_is_a_value_not_an_option(capsys) -> None:
    assert _exit(["still", "a.jpg", "b.jpg", "--style", "mosaic", "--strength", "-0.5"]) == 2
    assert "unrecognized option" not in capsys.readouterr().err


def test_styles_has_a_header_and_counts_every_training_step(capsys) -> None:
    assert main(["styles"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[:3] == ["STYLE", "NET", "STEPS"]
    udnie = next(row for row in rows if row.split()[0] == "udnie")
    info = read_info(resolve_style("udnie"))
    assert int(udnie.split()[2]) == info.training["total_iterations"] > info.iterations


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.new("RGB", (24, 16), (90, 120, 150)).save(path)
    return path


def test_run_line_names_style_and_device_and_details_only_with_verbose(photo: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.png"
    assert main(["still", str(photo), str(out), "--style", "mosaic", "--arch", "light", "--device", "cpu"]) == 0
    line = capsys.readouterr().err.splitlines()[0]
    assert "with mosaic.light on cpu" in line and "batch" not in line and "threads" not in line
    assert main(["still", str(photo), str(out), "--style", "mosaic.light", "--device", "cpu", "-v"]) == 0
    assert "batch 1" in capsys.readouterr().err


def test_user_model_is_announced_by_the_name_it_was_picked_by(photo: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    models = tmp_path / "models"
    models.mkdir()
    info = ModelInfo(style="starry_night", arch="light", config=ARCHITECTURES["light"], style_image="starry_night.jpg")
    save_model(models / "tahiti.safetensors", TransformerNet(ARCHITECTURES["light"]), info)
    monkeypatch.setenv("RTSTYLE_MODELS_PATH", str(models))
    assert main(["still", str(photo), str(tmp_path / "out.png"), "--style", "tahiti", "--device", "cpu"]) == 0
    assert "with tahiti on cpu" in capsys.readouterr().err


def test_more_threads_than_cores_are_taken_with_a_warning(photo: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(realtime_style.cli, "usable_cores", lambda: 1)
    monkeypatch.setattr(torch, "set_num_threads", lambda count: None)  # the test process keeps its own
    assert main(["still", str(photo), str(tmp_path / "out.png"), "--style", "mosaic.light", "--threads", "2", "-q"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "rtstyle: warning: --threads 2 is more than the 1 usable CPU core(s): the extra threads only wait for one "
        "another (slower, not faster)"
    ]
