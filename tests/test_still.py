"""``rtstyle still``: single images and whole folders, sizes, orientation, alpha, partial failures."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from media_helpers import make_clip, single_thread  # noqa: F401  (fixture)
from PIL import Image

from realtime_style.cli import main
from realtime_style.media import find_images, read_image

pytestmark = pytest.mark.usefixtures("single_thread")


def noise(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    rgb = np.random.default_rng(sum(size)).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(rgb, "RGB").convert(mode)


def still(*args: object) -> int:
    return main(["still", *map(str, args), "-q"])


def test_single_image_keeps_its_odd_size(tmp_path: Path, random_model_file: Path) -> None:
    noise((97, 61)).save(tmp_path / "in.png")
    assert still(tmp_path / "in.png", tmp_path / "out.jpg", "--style", random_model_file) == 0
    out = Image.open(tmp_path / "out.jpg")
    assert out.size == (97, 61) and out.format == "JPEG"
    assert not np.array_equal(np.asarray(out), np.asarray(Image.open(tmp_path / "in.png")))


@pytest.mark.parametrize("size", [(1, 1), (3, 3), (4, 4), (1, 200), (200, 1)])
def test_tiny_images_keep_their_size(tmp_path: Path, random_model_file: Path, size: tuple[int, int]) -> None:
    noise(size).save(tmp_path / "in.png")
    assert still(tmp_path / "in.png", tmp_path / "out.png", "--style", random_model_file) == 0
    assert Image.open(tmp_path / "out.png").size == size
    assert still(tmp_path / "in.png", tmp_path / "out3.png", "--style", random_model_file, "--max-size", "3") == 0


def test_max_size_scale_and_output_into_a_folder(tmp_path: Path, random_model_file: Path) -> None:
    noise((80, 40)).save(tmp_path / "in.png")
    (tmp_path / "outdir").mkdir()
    assert still(tmp_path / "in.png", tmp_path / "outdir", "--style", random_model_file, "--scale", "0.5") == 0
    assert Image.open(tmp_path / "outdir" / "in.png").size == (40, 20)
    assert still(tmp_path / "in.png", tmp_path / "small.png", "--style", random_model_file, "--max-size", "33") == 0
    assert Image.open(tmp_path / "small.png").size == (33, 17)


def test_exif_orientation_applied_and_alpha_kept(tmp_path: Path, random_model_file: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    noise((30, 20)).save(tmp_path / "phone.jpg", exif=exif)
    assert read_image(tmp_path / "phone.jpg").size == (20, 30)
    rgba = noise((30, 20), "RGBA")
    rgba.putalpha(Image.new("L", (30, 20), 90))
    rgba.save(tmp_path / "logo.png")
    assert still(tmp_path / "logo.png", tmp_path / "logo_out.png", "--style", random_model_file) == 0
    out = Image.open(tmp_path / "logo_out.png")
    assert out.mode == "RGBA" and out.getchannel("A").getextrema() == (90, 90)


def test_folder_to_folder_same_names(tmp_path: Path, random_model_file: Path) -> None:
    src = tmp_path / "photos"
    (src / "trip").mkdir(parents=True)
    noise((21, 17)).save(src / "a.jpg")
    noise((16, 16)).save(src / "trip" / "b.PNG")
    (src / "notes.txt").write_text("not an image")
    (src / ".hidden.jpg").write_bytes(b"")
    assert find_images(src) == [Path("a.jpg"), Path("trip/b.PNG")]
    assert still(src, tmp_path / "styled", "--style", random_model_file, "--max-size", "16") == 0
    assert sorted(p.relative_to(tmp_path / "styled") for p in (tmp_path / "styled").rglob("*") if p.is_file()) == [
        Path("a.jpg"),
        Path("trip/b.PNG"),
    ]
    assert Image.open(tmp_path / "styled" / "a.jpg").size == (16, 13)


def test_folder_with_a_corrupt_image_does_the_rest_and_fails(
    tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    noise((20, 20)).save(src / "good.png")
    (src / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
    assert still(src, tmp_path / "out", "--style", random_model_file) != 0
    assert (tmp_path / "out" / "good.png").exists() and not (tmp_path / "out" / "bad.jpg").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("rtstyle: warning: skipped ") and "bad.jpg" in err[0]
    assert err[-1] == "rtstyle: error: 1 of 2 images were skipped (see the warnings above)"


def test_folder_errors(tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert still(empty, tmp_path / "out", "--style", random_model_file) != 0
    assert "no images found" in capsys.readouterr().err
    noise((8, 8)).save(empty / "x.png")
    assert still(empty, empty / "inside", "--style", random_model_file) != 0
    assert "must not be the input folder or inside it" in capsys.readouterr().err
    (tmp_path / "file.png").write_bytes(b"")
    assert still(empty, tmp_path / "file.png", "--style", random_model_file) != 0
    assert "output must be a folder too" in capsys.readouterr().err
    assert still(empty, tmp_path / "out.jpg", "--style", random_model_file) != 0
    assert "output must be a folder too, not an image file name" in capsys.readouterr().err
    assert not (tmp_path / "out.jpg").exists()
    (tmp_path / "made.jpg").mkdir()  # a folder the user made, whatever its name, is taken
    assert still(empty, tmp_path / "made.jpg", "--style", random_model_file) == 0
    assert (tmp_path / "made.jpg" / "x.png").is_file()


def test_unknown_output_extension(tmp_path: Path, random_model_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    noise((8, 8)).save(tmp_path / "in.png")
    assert still(tmp_path / "in.png", tmp_path / "out.xyz", "--style", random_model_file) != 0
    err = capsys.readouterr().err
    assert "unknown image format '.xyz'" in err and ".webp" in err


def test_a_video_given_as_the_photo_points_to_rtstyle_video(tmp_path: Path, random_model_file: Path, capsys) -> None:
    clip = make_clip(tmp_path / "clip.mp4", count=2)
    assert still(clip, tmp_path / "out.jpg", "--style", random_model_file) == 2
    assert "is a video, not an image; stylize videos with `rtstyle video`" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["out.xyz", "out", "missing_folder/out.jpg"])
def test_a_bad_output_name_fails_before_the_image_is_stylized(tmp_path: Path, name: str) -> None:
    from realtime_style.api import transform_images
    from realtime_style.errors import OutputError

    noise((8, 8)).save(tmp_path / "in.png")
    calls: list[int] = []
    with pytest.raises(OutputError):
        transform_images(tmp_path / "in.png", tmp_path / name, lambda rgb: calls.append(1) or rgb)
    assert calls == []


def test_a_shipped_style_by_name(tmp_path: Path) -> None:
    from realtime_style.models.store import list_styles, shipped_models_dir

    shipped = [p for p, info in list_styles() if p.parent == shipped_models_dir() and info.arch == "standard"]
    if not shipped:
        pytest.skip("no trained style ships yet")
    name = shipped[0].name.removesuffix(".safetensors")
    photo = tmp_path / "photo.jpg"
    noise((120, 90)).save(photo)
    assert still(photo, tmp_path / "out.jpg", "--style", name, "--max-size", "64") == 0
    assert max(Image.open(tmp_path / "out.jpg").size) == 64


def test_heic_photos_are_read_and_written_as_jpeg(tmp_path: Path, random_model_file: Path) -> None:
    """iPhones save HEIC: read through pillow-heif; the output is a JPEG named so that it clashes with nothing."""
    pillow_heif = pytest.importorskip("pillow_heif")
    photos = tmp_path / "phone"
    photos.mkdir()
    pillow_heif.from_pillow(noise((40, 30))).save(photos / "IMG_0001.heic", quality=90)
    noise((40, 30)).save(photos / "IMG_0001.jpg")  # the same photo exported "most compatible"
    assert read_image(photos / "IMG_0001.heic").size == (40, 30)
    assert still(photos, tmp_path / "out", "--style", random_model_file) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["IMG_0001.heic.jpg", "IMG_0001.jpg"]
    assert Image.open(tmp_path / "out" / "IMG_0001.heic.jpg").format == "JPEG"


def test_a_heic_photo_without_pillow_heif_names_the_extra(
    tmp_path: Path, random_model_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if not installed: importing it fails
    (tmp_path / "IMG_0001.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    assert still(tmp_path / "IMG_0001.heic", tmp_path / "out.jpg", "--style", random_model_file) != 0
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == f"rtstyle: error: {tmp_path / 'IMG_0001.heic'}: HEIC/HEIF photos need pillow-heif: pip install 'rtstyle[heic]'"
