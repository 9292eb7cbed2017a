"""Image files on disk: which suffixes count as images, and decoding one to RGB.

Depends on Pillow only (no PyAV, no torch), so that training, evaluation and the media layer can
all share it; training runs on machines without PyAV.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from realtime_style.errors import InputError

#: Extensions treated as images when a folder is searched (compared lower-cased).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def is_image_file(path: str | Path) -> bool:
    """True when ``path`` has an image suffix (the file itself is not opened)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def load_rgb(path: str | Path) -> Image.Image:
    """Decode an image file to 8-bit RGB; a missing or unreadable file is an :class:`InputError`."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except FileNotFoundError:
        raise InputError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"cannot read image {path}: {exc}") from None
