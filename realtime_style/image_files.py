"""Image files on disk: which suffixes count as images, finding them in a folder, and decoding one to RGB.

Depends on Pillow only (no PyAV, no torch), so that training, evaluation and the media layer can
all share it; training runs on machines without PyAV.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from realtime_style.errors import InputError, first_line

#: Extensions treated as images when a folder is searched (compared lower-cased).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def is_image_file(path: str | Path) -> bool:
    """True when ``path`` has an image suffix (the file itself is not opened)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


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


def load_rgb(path: str | Path) -> Image.Image:
    """Decode an image file to 8-bit RGB; a missing or unreadable file is an :class:`InputError`."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"{path}: not a readable image ({first_line(exc)})") from None
