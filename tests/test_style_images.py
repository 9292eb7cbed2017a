"""Issue 25 item 11: the shipped styles' paintings install with the package and are found by name everywhere."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from PIL import Image

from realtime_style.errors import InputError
from realtime_style.models import style_images
from realtime_style.models.store import ModelInfo, list_styles, read_info, save_model
from realtime_style.models.style_images import find_style_image, shipped_style_images_dir
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_checkout_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As after `pip install .` with no data folder named: the library never looks into ../shared/data."""
    monkeypatch.delenv(style_images.DATA_ENV, raising=False)


def _user_model(folder: Path, style_image: str, **training) -> Path:
    info = ModelInfo(style="tahiti", arch="light", config=ARCHITECTURES["light"], style_image=style_image, training=training)
    return save_model(folder / "tahiti.safetensors", TransformerNet(ARCHITECTURES["light"]), info)


def test_every_shipped_style_has_its_small_painting_installed(no_checkout_data: None) -> None:
    """Every shipped model's style image ships (long side <= 512, a few MB in all) and is package data."""
    shipped = [(path, info) for path, info in list_styles() if path.parent == shipped_style_images_dir().parent]
    assert len(shipped) >= 8
    for path, info in shipped:
        image = find_style_image(info, path)
        assert image.parent == shipped_style_images_dir(), (info.style, image)
        assert max(Image.open(image).size) <= 512
    total = sum(p.stat().st_size for p in shipped_style_images_dir().rglob("*"))
    assert total < 2_000_000
    assert (shipped_style_images_dir() / "SOURCES.md").is_file()
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "styles/*.jpg" in package_data["realtime_style.trained_models"]


def test_optimize_style_image_by_name_without_checkout_data(no_checkout_data: None) -> None:
    from realtime_style.cli.still_optimize import resolve_style_source

    assert resolve_style_source("starry_night") == shipped_style_images_dir() / "starry_night.jpg"


def test_user_model_finds_its_painting_beside_it_or_where_training_read_it(no_checkout_data: None, tmp_path: Path) -> None:
    models, paintings = tmp_path / "models", tmp_path / "paintings"
    models.mkdir(), paintings.mkdir()
    Image.new("RGB", (8, 8)).save(paintings / "tahiti.jpg")
    recorded = _user_model(models, "tahiti.jpg", style_image_path=str(paintings / "tahiti.jpg"))
    assert find_style_image(read_info(recorded), recorded) == paintings / "tahiti.jpg"
    Image.new("RGB", (8, 8)).save(models / "tahiti.jpg")
    assert find_style_image(read_info(recorded), recorded) == models / "tahiti.jpg"
    lost = _user_model(tmp_path, "gone.jpg")
    with pytest.raises(InputError, match="--style-image PATH"):
        find_style_image(read_info(lost), lost)


def test_export_records_where_the_style_image_is(tmp_path: Path) -> None:
    from realtime_style.training.config import TrainOptions
    from realtime_style.training.export import export_model

    painting = tmp_path / "tahiti.jpg"
    Image.new("RGB", (8, 8)).save(painting)
    config = TrainOptions(
        style_image=str(painting), dataset=str(tmp_path), out=str(tmp_path / "m.safetensors"), run_dir=str(tmp_path), arch="light"
    )
    path = export_model(TransformerNet(ARCHITECTURES["light"]), config, {})
    info = read_info(path)
    assert info.training["style_image_path"] == str(painting.resolve())


@pytest.mark.parametrize("data", [None, "empty"])
def test_eval_styles_without_default_photos_says_what_it_needs(monkeypatch, tmp_path: Path, capsys, data) -> None:
    from realtime_style.cli import main
    from realtime_style.metrics import style as style_metric

    if data is None:
        monkeypatch.delenv(style_images.DATA_ENV, raising=False)
    else:
        monkeypatch.setenv(style_images.DATA_ENV, str(tmp_path / data))
    monkeypatch.setattr(style_metric, "StyleMetric", lambda device: None)  # no VGG19 load for a refusal
    assert main(["eval", "styles", "--style", "mosaic"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--photos DIR" in err[0] and "your own photos" in err[0] and "RTSTYLE_DATA" in err[0]


def test_the_data_folder_is_where_full_size_style_images_are_found(monkeypatch, tmp_path: Path) -> None:
    """A user's model naming a shipped painting: ``$RTSTYLE_DATA/styles`` first, then the shipped reduced copy."""
    data, models = tmp_path / "data", tmp_path / "models"
    (data / "styles").mkdir(parents=True), models.mkdir()
    Image.new("RGB", (1024, 768)).save(data / "styles" / "starry_night.jpg")
    model = _user_model(models, "starry_night.jpg")
    monkeypatch.setenv(style_images.DATA_ENV, str(data))
    assert find_style_image(read_info(model), model) == data / "styles" / "starry_night.jpg"
    monkeypatch.delenv(style_images.DATA_ENV)
    assert find_style_image(read_info(model), model) == shipped_style_images_dir() / "starry_night.jpg"



def test_train_takes_a_style_name_for_its_painting(no_checkout_data: None, tmp_path: Path) -> None:
    import argparse

    from realtime_style.training.cli import add_train_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = parser.parse_args(["--style-image", "great_wave", "--dataset", str(tmp_path), "--out", str(tmp_path / "m.safetensors")])
    config, _ = config_from_args(args)
    assert Path(config.style_image) == shipped_style_images_dir() / "great_wave.jpg"
