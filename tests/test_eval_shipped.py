"""Every shipped style is listed, loads and stylizes; the registry finds model folders from the environment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from realtime_style.cli import main
from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.models.store import MODELS_PATH_ENV, list_styles, load_model, shipped_models_dir

SHIPPED = [path for path, _ in list_styles() if path.parent == shipped_models_dir()]


def shipped_name(path: Path) -> str:
    return path.name.removesuffix(".safetensors")


@pytest.fixture
def no_extra_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODELS_PATH_ENV, raising=False)


def test_styles_command_lists_every_shipped_style(no_extra_folders, capsys) -> None:
    assert main(["styles"]) == 0
    out = capsys.readouterr().out
    if SHIPPED:
        header, *rows = out.splitlines()
        assert header.split()[0] == "STYLE"
        assert sorted(line.split()[0] for line in rows) == sorted(shipped_name(p) for p in SHIPPED)
    else:
        assert out.startswith("no styles installed") and str(shipped_models_dir()) in out
    model_files = sorted(p.name for p in shipped_models_dir().glob("*.safetensors"))
    assert model_files == sorted(p.name for p in SHIPPED), "a file in trained_models/ is not a readable model"


@pytest.mark.parametrize("path", SHIPPED, ids=shipped_name)
def test_shipped_style_loads_and_stylizes(no_extra_folders, path: Path, frames: np.ndarray) -> None:
    model = load_model(shipped_name(path))
    assert model.path == path and model.name == shipped_name(path)
    info = model.info
    assert info.style_image and info.license and info.style_source, "metadata must name the style image and licence"
    assert info.iterations > 0
    out = Engine(model, EngineOptions(device="cpu", precision="fp32")).stylize(frames)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - frames.astype(int)).mean() > 10, "a trained style changes the picture"
    assert out.std() > 10, "and does not flatten it"


def test_registry_finds_styles_through_the_models_path(
    random_model_file: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """What the shipped styles rely on, checked on a temporary folder (also with no style shipped)."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "toy.light.safetensors").write_bytes(random_model_file.read_bytes())
    (folder / "broken.safetensors").write_bytes(b"not a model")
    monkeypatch.setenv(MODELS_PATH_ENV, str(folder))
    names = [p.name for p, _ in list_styles()]
    assert "toy.light.safetensors" in names and "broken.safetensors" not in names
    assert load_model("toy", arch="light").path == folder / "toy.light.safetensors"
    assert main(["styles"]) == 0
    assert any(line.startswith("toy.light ") for line in capsys.readouterr().out.splitlines())
