"""``rtstyle demo``: the generated scene and clip are deterministic; the command writes a playable video and a still."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from realtime_style import demo
from realtime_style.cli import main
from realtime_style.models.store import MODELS_PATH_ENV, list_styles
from realtime_style.scenery import generate_scene


def test_scene_is_deterministic_and_detailed() -> None:
    first, again = generate_scene(240, 135, seed=7), generate_scene(240, 135, seed=7)
    assert first.shape == (135, 240, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, generate_scene(240, 135, seed=8))
    # Enough colour and edges for a style to show: many colours, strong gradients, a blue sky above green land.
    assert len(np.unique(first.reshape(-1, 3), axis=0)) > 2000
    assert np.abs(np.diff(first.astype(np.int16), axis=1)).mean() > 5
    sky, land = first[:20].reshape(-1, 3).mean(0), first[-40:].reshape(-1, 3).mean(0)
    assert sky[2] > sky[0] and land[1] > land[2]


def test_clip_is_a_slow_deterministic_pan() -> None:
    options = demo.DemoOptions(width=160, height=90, seconds=1.0, fps=10)
    frames = list(demo.demo_clip(options))
    again = list(demo.demo_clip(options))
    assert len(frames) == options.frames == 10
    assert [f.pts for f in frames] == list(range(10)) and frames[0].time_base == Fraction(1, 10)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(frames, again))
    assert all(f.image.shape == (90, 160, 3) for f in frames)
    steps = [np.abs(a.image.astype(int) - b.image.astype(int)).mean() for a, b in zip(frames, frames[1:])]
    assert min(steps) > 0  # it moves every frame ...
    assert np.abs(frames[0].image.astype(int) - frames[-1].image.astype(int)).mean() > max(steps)  # ... and travels


def decoded_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


@pytest.mark.parametrize("temporal", ["off", "ema"])
def test_demo_command_writes_a_playable_video_and_a_still(
    random_model_file: Path, tmp_path: Path, capsys, temporal: str
) -> None:
    out = tmp_path / "out"
    argv = ["demo", "--style", str(random_model_file), "--out", str(out), "--size", "128x72", "--seconds", "0.6"]
    assert main([*argv, "--fps", "10", "--temporal", temporal]) == 0
    printed = capsys.readouterr().out.split()
    video, still = out / demo.VIDEO_NAME, out / demo.STILL_NAME
    assert printed == [str(video), str(still)]
    frames = decoded_frames(video)
    assert len(frames) == 6 and frames[0].shape == (72, 128, 3)
    with Image.open(still) as image:
        assert image.size == (2 * 128 + 8, 72)
        pixels = np.asarray(image.convert("RGB"))
    original = next(f.image for f in demo.demo_clip(demo.DemoOptions(128, 72, 0.6, 10)) if f.index == 3)
    below_label = slice(30, 72)
    assert np.abs(pixels[below_label, :128].astype(int) - original[below_label]).mean() < 1  # left: the original
    assert np.abs(pixels[below_label, 136:].astype(int) - original[below_label]).mean() > 10  # right: stylized


def test_demo_prefers_the_light_variant_of_a_shipped_name(random_model_file: Path, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "somestyle.light.safetensors").write_bytes(random_model_file.read_bytes())
    (folder / "other.safetensors").write_bytes(random_model_file.read_bytes())
    monkeypatch.setenv(MODELS_PATH_ENV, str(folder))
    assert demo.demo_model("somestyle") == folder / "somestyle.light.safetensors"
    assert demo.demo_model("other") == folder / "other.safetensors"
    assert demo.demo_model(str(random_model_file)) == random_model_file


def test_demo_errors_are_one_line(random_model_file: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv(MODELS_PATH_ENV, str(random_model_file.parent))
    assert main(["demo", "--style", "no_such_style", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rtstyle: error: unknown style 'no_such_style'") and "random.light" in err
    assert err.count("\n") == 1
    monkeypatch.setattr(demo, "list_styles", lambda: [])
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "no style ships with this install yet" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["demo", "--size", "641x360"])


@pytest.mark.skipif(
    not any(info.style == demo.DEFAULT_STYLE for _, info in list_styles()), reason="the default style does not ship yet"
)
def test_demo_runs_with_nothing_but_the_defaults(tmp_path: Path, monkeypatch, capsys) -> None:
    """The README's first command, shortened: no --style, no shared data."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(MODELS_PATH_ENV, raising=False)
    assert main(["demo", "--size", "96x64", "--seconds", "0.3", "--fps", "10", "-q"]) == 0
    assert len(decoded_frames(tmp_path / "rtstyle-demo" / demo.VIDEO_NAME)) == 3
    assert (tmp_path / "rtstyle-demo" / demo.STILL_NAME).is_file()
