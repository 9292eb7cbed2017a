"""``rtstyle eval styles``: JSON report, photo selection, style-image resolution and its errors."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from realtime_style.cli import main
from realtime_style.metrics import style as style_metric
from realtime_style.models.store import ModelInfo, save_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet


@pytest.fixture
def small_metric(monkeypatch: pytest.MonkeyPatch) -> None:
    """Measure at a long side of 64 px so that the command runs in seconds (figures are not the 512-px ones)."""
    monkeypatch.setattr(style_metric, "StyleMetric", partial(style_metric.StyleMetric, long_side=64))


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(4):
        Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(folder / f"p{index}.png")
    return folder


@pytest.fixture
def style_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "styles"
    folder.mkdir()
    yy, xx = np.mgrid[0:40, 0:40]
    stripes = np.where((xx // 5) % 2 == 0, 220, 30).astype(np.uint8)
    Image.fromarray(np.stack([stripes, 255 - stripes, stripes // 2], axis=-1)).save(folder / "stripes.jpg")
    return folder


@pytest.fixture
def model_with_style_image(tmp_path: Path) -> Path:
    net = TransformerNet(ARCHITECTURES["light"])
    info = ModelInfo(style="stripes", arch="light", config=ARCHITECTURES["light"], style_image="stripes.jpg")
    return save_model(tmp_path / "stripes.light.safetensors", net, info)


def run_json(capsys: pytest.CaptureFixture, argv: list[str]) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_eval_styles_prints_json_report(
    small_metric, capsys, photo_dir: Path, style_dir: Path, model_with_style_image: Path, tmp_path: Path
) -> None:
    argv = ["eval", "styles", "--style", str(model_with_style_image), "--photos", str(photo_dir)]
    extra = ["--count", "2", "--styles-dir", str(style_dir), "--per-photo", "-o", str(tmp_path / "r.json")]
    report = run_json(capsys, [*argv, *extra])
    assert report["photos"]["count"] == 2 and report["photos"]["files"] == ["p0.png", "p2.png"]
    assert report["metric"]["long_side"] == 512 and report["metric"]["content_layer"] == "relu4_2"
    (score,) = report["styles"]
    assert score["style"] == "stripes.light" and score["style_image"] == "stripes.jpg" and score["photos"] == 2
    assert score["worst_style_ratio"] >= score["mean_style_ratio"] > 0
    assert score["worst_content_distance"] >= score["mean_content_distance"] > 0
    assert [p["photo"] for p in score["per_photo"]] == ["p0.png", "p2.png"]
    assert json.loads((tmp_path / "r.json").read_text()) == report


def test_eval_styles_prints_a_table_for_people(
    small_metric, capsys, photo_dir: Path, style_dir: Path, model_with_style_image: Path, tmp_path: Path
) -> None:
    argv = ["eval", "styles", "--style", str(model_with_style_image), "--photos", str(photo_dir), "--count", "2",
            "--styles-dir", str(style_dir), "-o", str(tmp_path / "r.json")]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    (score,) = json.loads((tmp_path / "r.json").read_text())["styles"]
    assert lines[0].startswith(f"2 photos of {photo_dir} at a long side of 512 px; lower is better")
    assert lines[2].split() == ["style", "style", "ratio", "worst", "content", "distance", "worst"]
    name, mean_ratio, worst_ratio, worst_photo, mean_content, worst_content, worst_content_photo = lines[3].split()
    assert name == "stripes.light" and len(lines) == 4
    assert float(mean_ratio) == pytest.approx(score["mean_style_ratio"], abs=5e-4)
    assert float(worst_content) == pytest.approx(score["worst_content_distance"], abs=5e-4)
    assert worst_photo == f"({Path(score['worst_style_ratio_photo']).stem})"
    assert main([*argv, "--per-photo"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[4:]] == ["p0", "p2"]
    assert main([*argv, "--layers"]) == 0
    header, row = capsys.readouterr().out.splitlines()[2:4]
    assert header.split()[-5:] == list(style_metric.STYLE_LAYERS)
    assert [float(v) for v in row.split()[-5:]] == pytest.approx(list(score["mean_layer_ratios"].values()), abs=5e-4)


def test_eval_styles_with_explicit_style_image(small_metric, capsys, photo_dir, style_dir, random_model_file) -> None:
    argv = ["eval", "styles", "--style", str(random_model_file), "--photos", str(photo_dir), "--count", "1"]
    report = run_json(capsys, [*argv, "--style-image", str(style_dir / "stripes.jpg")])
    assert report["styles"][0]["style_image"] == "stripes.jpg" and "per_photo" not in report["styles"][0]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--styles-dir", "{tmp}/nowhere"], "not found in"),
        (["--style-image", "{tmp}/absent.jpg"], "style image not found"),
        (["--style-image", "{tmp}"], "is a folder, not an image file"),
        (["--photos", "{tmp}/no_photos"], "photo folder not found"),
    ],
)
def test_eval_styles_errors_are_one_line(
    capsys, tmp_path: Path, photo_dir: Path, model_with_style_image: Path, extra: list[str], message: str
) -> None:
    extra = [e.format(tmp=tmp_path) for e in extra]
    argv = ["eval", "styles", "--style", str(model_with_style_image), "--photos", str(photo_dir), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rtstyle: error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("count", ["0", "-3", "many"])
def test_a_bad_photo_count_is_named_before_the_photos_are_looked_for(capsys, monkeypatch, count: str) -> None:
    monkeypatch.delenv("RTSTYLE_DATA", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "styles", "--count", count])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--count" in err and "RTSTYLE_DATA" not in err and err.count("\n") == 1


def test_style_image_applies_to_every_style(capsys, photo_dir, style_dir, random_model_file) -> None:
    painting = style_dir / "stripes.jpg"
    argv = ["eval", "styles", "--style", str(random_model_file), "--style", str(random_model_file), "--json"]
    # One photo: every figure here is a VGG19 pass at 512 px, seconds each on a 2-core CPU.
    assert main([*argv, "--photos", str(photo_dir), "--count", "1", "--style-image", str(painting)]) == 0
    rows = json.loads(capsys.readouterr().out)["styles"]
    assert len(rows) == 2 and all(row["style_image"] == painting.name for row in rows)
    assert rows[0]["mean_style_ratio"] == pytest.approx(rows[1]["mean_style_ratio"])


def test_unknown_style_is_a_clear_error(capsys, photo_dir) -> None:
    assert main(["eval", "styles", "--style", "no_such_style", "--photos", str(photo_dir)]) == 2
    assert "unknown style 'no_such_style'" in capsys.readouterr().err
