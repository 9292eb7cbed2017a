"""The Python API: Stylizer on frames, PIL images, files, folders and videos; one-shot helpers."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from media_helpers import make_clip, probe, single_thread  # noqa: F401  (fixture)
from PIL import Image

import realtime_style
from realtime_style import Stylizer
from realtime_style.person import PersonOptions
from realtime_style.video import VideoOptions
from realtime_style.runtime.color import Look
from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.errors import StyleNotFoundError
from realtime_style.media import Resize
from realtime_style.models.store import MODELS_PATH_ENV, load_model

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture
def stylizer(random_model_file: Path) -> Stylizer:
    return Stylizer(random_model_file, engine=EngineOptions(device="cpu", precision="fp32"))


def test_package_exports_the_api() -> None:
    for name in ("Stylizer", "stylize_image", "stylize_video", "list_styles", "configure_process", "EngineOptions", "Look",
                 "VideoOptions", "make_smoother"):
        assert callable(getattr(realtime_style, name))
    with pytest.raises(AttributeError):
        realtime_style.no_such_thing  # noqa: B018


def test_frames_keep_their_odd_size_and_match_the_engine(stylizer: Stylizer, random_model_file: Path) -> None:
    frames = np.random.default_rng(0).integers(0, 256, (3, 61, 97, 3), dtype=np.uint8)
    out = stylizer.stylize_frames(frames)
    assert out.shape == frames.shape and out.dtype == np.uint8
    engine = Engine(load_model(random_model_file), EngineOptions(device="cpu", precision="fp32"))
    assert np.array_equal(out, engine.stylize(frames))
    assert stylizer.stylize_frames(frames[0]).shape == (61, 97, 3)


def test_strength_zero_is_the_original_and_is_validated(stylizer: Stylizer, frames: np.ndarray) -> None:
    stylizer.strength = 0.0
    assert np.abs(stylizer.stylize_frames(frames).astype(int) - frames).max() <= 1
    with pytest.raises(ValueError):
        stylizer.strength = 1.5
    assert stylizer.look == Look(0.0, False) and stylizer.engine.stylize(frames[:1]).shape == frames[:1].shape


@pytest.mark.parametrize(
    "image, message",
    [
        (np.full((8, 8, 3), 0.5), r"^frames must be uint8 \(0-255\), got float64 \(from floats in \[0, 1\]: "),
        (np.zeros((8, 8, 3), np.int64), r"^frames must be uint8 \(0-255\), got int64$"),
        (np.zeros((0, 8, 3), np.uint8), r"^frames must be \(N, H, W, 3\) or \(H, W, 3\) uint8, got shape \(0, 8, 3\)$"),
        (np.zeros((8, 8, 4), np.uint8), r"got shape \(8, 8, 4\)$"),
    ],
)
def test_frames_that_would_be_misread_are_refused(stylizer: Stylizer, image: np.ndarray, message: str) -> None:
    """Floats in [0, 1] were taken as 0-255 levels (a near-black result), and an empty frame failed deep in torch."""
    with pytest.raises(ValueError, match=message):
        stylizer.stylize_image(image)


def test_the_look_reaches_the_person_style_too(random_model_file: Path, frames: np.ndarray) -> None:
    """The person's painter gets the stylizer's look with each call, as the main engine does."""
    pytest.importorskip("ai_edge_litert", reason="person modes need rtstyle[person]")
    two = Stylizer(random_model_file, strength=0.0, person_style=random_model_file, engine=EngineOptions(device="cpu"))
    assert two.compositor is not None and two.compositor.person_stylize is not None
    assert np.array_equal(two.compositor.person_stylize(frames[0]), frames[0])
    two.strength = 1.0
    assert not np.array_equal(two.compositor.person_stylize(frames[0]), frames[0])


def test_one_form_per_option(random_model_file: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        Stylizer(random_model_file, device="cpu", engine=EngineOptions(device="cpu"))
    with pytest.raises(ValueError, match="not both"):
        Stylizer(random_model_file, keep="person", person=PersonOptions(keep="person"))


def test_preserve_color_keeps_the_input_chroma(stylizer: Stylizer, frames: np.ndarray) -> None:
    plain = stylizer.stylize_frames(frames).astype(float)
    stylizer.preserve_color = True
    kept = stylizer.stylize_frames(frames).astype(float)
    chroma = lambda x: x[..., 0] - x[..., 1]  # noqa: E731  (R-G is unchanged by a luminance shift)
    original = frames.astype(float)
    assert np.abs(chroma(kept) - chroma(original)).mean() < np.abs(chroma(plain) - chroma(original)).mean() / 2


def test_pil_images_come_back_as_pil_with_alpha(stylizer: Stylizer) -> None:
    image = Image.new("RGBA", (33, 21), (200, 100, 50, 77))
    out = stylizer.stylize_image(image)
    assert isinstance(out, Image.Image) and out.size == (33, 21) and out.mode == "RGBA"
    assert out.getchannel("A").getextrema() == (77, 77)


def test_stylize_path_and_video(stylizer: Stylizer, tmp_path: Path) -> None:
    Image.new("RGB", (40, 30), "orange").save(tmp_path / "a.png")
    result = stylizer.stylize_path(tmp_path / "a.png", tmp_path / "b.jpg", Resize(max_size=20))
    assert result.written == [tmp_path / "b.jpg"] and Image.open(tmp_path / "b.jpg").size == (20, 15)

    clip = make_clip(tmp_path / "in.mp4", count=5, fps=Fraction(10))
    options = VideoOptions(preset="ultrafast", max_frames=3, resize=Resize(max_size=32))
    video = stylizer.stylize_video(clip, tmp_path / "out.mkv", options)
    facts = probe(tmp_path / "out.mkv")
    assert video.frames == facts.frames == 3 and not video.interrupted
    assert (facts.width, facts.height) == video.size == (32, 24)


def test_one_shot_helpers_and_list_styles(
    random_model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MODELS_PATH_ENV, str(random_model_file.parent))
    names = [path.name for path, _ in realtime_style.list_styles()]
    assert "random.light.safetensors" in names
    Image.new("RGB", (24, 18), "teal").save(tmp_path / "in.png")
    realtime_style.stylize_image(tmp_path / "in.png", tmp_path / "out.png", "random", arch="light", device="cpu")
    assert Image.open(tmp_path / "out.png").size == (24, 18)
    clip = make_clip(tmp_path / "in.mp4", count=2)
    assert realtime_style.stylize_video(clip, tmp_path / "out.mp4", "random.light", device="cpu").frames == 2
    with pytest.raises(StyleNotFoundError):
        Stylizer("no-such-style")
