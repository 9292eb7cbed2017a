"""``rtstyle still --optimize``: end to end on tiny images, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media_helpers import single_thread  # noqa: F401 - fixture
from optimize_helpers import checker, stripes, synthetic_content

from realtime_style.cli import main
from realtime_style.media.images import StillImage, read_image, write_image


@pytest.fixture(autouse=True)
def one_thread(single_thread) -> None:  # noqa: F811 - the fixture from media_helpers
    """One torch thread: far faster than two on the shared, loaded CI machines."""


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    paths = {"content": tmp_path / "content.png", "red": tmp_path / "red.png", "blue": tmp_path / "blue.jpg"}
    write_image(paths["content"], StillImage(rgb=synthetic_content()))
    write_image(paths["red"], StillImage(rgb=stripes(True, (230, 40, 40))))
    write_image(paths["blue"], StillImage(rgb=checker((30, 60, 220))))
    return paths


def run_cli(*args: str | Path) -> int:
    return main(["still", *map(str, args)])


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("rtstyle: error:")]
    assert len(errors) == 1 and "Traceback" not in "\n".join(err), err
    return errors[0]


def test_optimize_writes_the_image_and_intermediates(images: dict[str, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.png"
    code = run_cli(
        images["content"], out, "--optimize", "--style-image", images["red"], images["blue"],
        "--style-weights", "0.7", "0.3", "--long-side", "64", "--iterations", "4", "--save-every", "2", "-q",
    )  # fmt: skip
    assert code == 0
    result = read_image(out).rgb
    assert result.shape == (48, 64, 3)
    assert not np.array_equal(result, synthetic_content())
    assert (tmp_path / "out.64px.0002.png").is_file() and (tmp_path / "out.64px.0004.png").is_file()


def test_summary_reports_the_cost_of_saving(images: dict[str, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.jpg"
    code = run_cli(images["content"], out, "--optimize", "--style-image", images["blue"], "--long-side", "64",
                   "--iterations", "2", "--preserve-color", "--optimizer", "adam")  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "as saved (clipped, 8-bit) total" in err and "wrote" in err


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda p: [p["content"], p["out"], "--optimize", "--style-image", p["dir"] / "missing.jpg"], "style image not found"),
        (lambda p: [p["text"], p["out"], "--optimize", "--style-image", p["red"]], "not a readable image"),
        (lambda p: [p["dir"] / "nope.png", p["out"], "--optimize", "--style-image", p["red"]], "no such file"),
        (lambda p: [p["content"], p["out"], "--optimize", "--style-image", "no_such_style"], "neither an image file nor a shipped style"),
        (lambda p: [p["content"], p["out"], "--optimize", "--style-image", p["red"], "--long-side", "60000"], "largest size that fits"),
        (lambda p: [p["content"], p["out"], "--optimize", "--style-image", p["red"], p["blue"], "--style-weights", "1"], "1 style weights given for 2"),
        (lambda p: [p["content"], p["out"], "--optimize", "--style-image", p["red"], "--scales", "256,128"], "increase"),
        (lambda p: [p["content"], p["out"], "--optimize", "--style-image", p["red"], "--init", "nothing"], "--init"),
        (lambda p: [p["content"], p["out"], "--optimize", "--style-image", p["red"], "--max-size", "64"], "--max-size does not apply"),
        (lambda p: [p["content"], p["out"], "--optimize"], "--optimize needs --style-image"),
        (lambda p: [p["content"], p["dir"] / "no" / "out.png", "--optimize", "--style-image", p["red"]], "does not exist"),
        (lambda p: [p["content"], p["content"], "--optimize", "--style-image", p["red"]], "same file"),
        (lambda p: [p["content"], p["out"]], "--style is required"),
        (lambda p: [p["content"], p["out"], "--style", "x", "--preserve-color", "--color-mode", "histogram"], "applies only to --optimize"),
        (lambda p: [p["content"], p["out"], "--style", "x", "--long-side", "128"], "--long-side applies only to --optimize"),
        (lambda p: [p["content"], p["out"], "--style", "x", "--batch-size", "4"], "--batch-size applies only to video"),
        (lambda p: [p["content"], p["out"], "--style", "x", "--iterations", "5", "--seed", "1"], "--iterations, --seed apply only to --optimize"),
    ],
    ids=[
        "missing-style", "unreadable-content", "missing-content", "unknown-style-name", "impossible-size",
        "weights-count", "scales-order", "bad-init", "fast-only-flag", "no-style", "output-folder", "same-file",
        "fast-needs-style", "histogram-needs-optimize", "long-side-needs-optimize", "iterations-needs-optimize",
        "batch-size-on-still",
    ],
)  # fmt: skip
def test_bad_input_gets_one_clear_line(images, tmp_path: Path, capsys, make_args, message: str) -> None:
    (tmp_path / "text.jpg").write_text("not an image")
    paths = {**images, "dir": tmp_path, "out": tmp_path / "out.png", "text": tmp_path / "text.jpg"}
    assert run_cli(*make_args(paths)) == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "out.png").exists()


def test_shipped_style_name_resolves_to_its_style_image(tmp_path: Path, monkeypatch) -> None:
    """A style name uses the style image recorded in the model's metadata (looked up in the styles folder)."""
    import torch
    from PIL import Image

    from realtime_style.models.style_images import DATA_ENV

    from realtime_style.cli.still_optimize import resolve_style_source
    from realtime_style.models.store import ModelInfo, save_model
    from realtime_style.models.transformer import ARCHITECTURES, TransformerNet

    torch.manual_seed(0)
    info = ModelInfo(style="painted", arch="light", config=ARCHITECTURES["light"], style_image="candy.jpg")
    save_model(tmp_path / "painted.safetensors", TransformerNet(ARCHITECTURES["light"]), info)
    styles = tmp_path / "data" / "styles"
    styles.mkdir(parents=True)
    Image.new("RGB", (64, 48)).save(styles / "candy.jpg")
    monkeypatch.setenv("RTSTYLE_MODELS_PATH", str(tmp_path))
    monkeypatch.setenv(DATA_ENV, str(styles.parent))
    assert resolve_style_source("painted") == styles / "candy.jpg"
    assert resolve_style_source("painted", styles_dir=str(styles)) == styles / "candy.jpg"


def test_preserve_color_before_the_paths_does_not_swallow_the_input() -> None:
    """``still --preserve-color in out`` (flag first) parses both paths; the mode is a separate option."""
    from realtime_style.cli import build_parser

    args = build_parser().parse_args(["still", "--preserve-color", "in.jpg", "out.jpg", "--style", "mosaic"])
    assert (args.input, args.output, args.preserve_color, args.color_mode) == ("in.jpg", "out.jpg", True, "luminance")
    args = build_parser().parse_args(["still", "in.jpg", "out.jpg", "--optimize", "--preserve-color", "--color-mode", "histogram"])
    assert args.preserve_color and args.color_mode == "histogram"
