"""Image files on disk: which suffixes count as images, finding them in a folder, and decoding one.

Depends on Pillow only (no PyAV, no torch), so that training, evaluation and the media layer can
all share it; training runs on machines without PyAV.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from realtime_style.errors import InputError, first_line

#: Extensions rtstyle writes images as (Pillow's own formats).
OUTPUT_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
#: HEIC/HEIF (phone photos): read with pillow-heif, ``pip install 'rtstyle[heic]'``.
HEIF_SUFFIXES = (".heic", ".heif")
#: Extensions treated as images when a folder is searched (compared lower-cased).
IMAGE_SUFFIXES = OUTPUT_IMAGE_SUFFIXES + HEIF_SUFFIXES
#: Extensions of video files, named in the error when one is given where an image belongs.
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts")


def is_image_file(path: str | Path) -> bool:
    """True when ``path`` has an image suffix (the file itself is not opened)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def output_name(name: Path) -> Path:
    """What an input image's output is called in an output folder: its own name, with ``.jpg`` added to a format
    rtstyle reads but does not write (``IMG_0001.heic`` -> ``IMG_0001.heic.jpg``: no clash with an ``IMG_0001.jpg``)."""
    return name.with_name(name.name + ".jpg") if name.suffix.lower() in HEIF_SUFFIXES else name


def existing_image_file(path: str | Path, role: str) -> Path:
    """``path`` when it is a file; else an :class:`InputError` naming the ``role`` ("style image"): missing or a folder."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise InputError(f"{role} {path} is a folder, not an image file")
    if not path.is_file():
        raise InputError(f"{role} not found: {path}")
    return path


def find_images(folder: str | Path, exclude: Sequence[str] = ()) -> list[Path]:
    """Image files under ``folder`` (recursively, hidden entries skipped), sorted, as paths relative to it.

    ``exclude`` globs are matched against those relative paths (e.g. ``bsds500/val_*``).
    """
    folder = Path(folder)
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and is_image_file(name):
                path = (Path(root) / name).relative_to(folder)
                if not any(path.match(pattern) for pattern in exclude):
                    found.append(path)
    return sorted(found)


def open_image(path: str | Path) -> Image.Image:
    """Decode an image file upright (EXIF orientation applied), in the file's own mode.

    A missing, unreadable or non-image file is an :class:`InputError` whose one line names the path.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    try:
        with _decode(path) as opened:
            image = ImageOps.exif_transpose(opened)  # a new image, independent of the file
            image.load()
            return image
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            raise InputError(f"{path}: is a video, not an image; stylize videos with `rtstyle video`") from None
        raise InputError(f"{path}: not a readable image ({first_line(exc)})") from None


def _decode(path: Path) -> Image.Image:
    """The file as a Pillow image: Pillow's own formats, or HEIC/HEIF through pillow-heif (upright already)."""
    if path.suffix.lower() not in HEIF_SUFFIXES:
        return Image.open(path)
    try:
        import pillow_heif
    except ImportError:
        raise InputError(f"{path}: HEIC/HEIF photos need pillow-heif: pip install 'rtstyle[heic]'") from None
    return pillow_heif.open_heif(path, convert_hdr_to_8bit=True).to_pillow()  # ValueError when libheif cannot


def load_rgb(path: str | Path) -> Image.Image:
    """Decode an image file upright to 8-bit RGB; errors as :func:`open_image`."""
    return open_image(path).convert("RGB")
