"""Still images (Pillow): read to RGB uint8 (upright, optionally resized), write by extension."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from realtime_style.errors import InputError, OutputError, first_line
from realtime_style.image_files import OUTPUT_IMAGE_SUFFIXES, open_image
from realtime_style.media.geometry import Resize

JPEG_QUALITY = 95
#: Formats that can store an alpha channel; elsewhere it is dropped.
_ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}


@dataclass
class StillImage:
    """RGB uint8 (H, W, 3) pixels, plus the alpha plane (H, W) when the file had one."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]


def read_image(path: str | Path, resize: Resize | None = None) -> StillImage:
    """Decode an image file upright (EXIF orientation applied), optionally resized (Lanczos).

    Errors (missing, unreadable, a video) are :class:`InputError`, as :func:`open_image` words them.
    """
    image = open_image(path)
    if resize is not None and resize.active:
        try:
            size = resize.apply(*image.size)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        if size != image.size:
            image = image.resize(size, Image.Resampling.LANCZOS)
    alpha = None
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        alpha = np.asarray(image.convert("RGBA"))[..., 3].copy()
    return StillImage(rgb=np.asarray(image.convert("RGB")).copy(), alpha=alpha)


def check_image_output(path: str | Path) -> str:
    """The Pillow format that ``path``'s extension names, once it is clear a file can go there; else
    :class:`OutputError`. Call it before long work, so that a typo fails first, not last."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: folder {path.parent} does not exist")
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise OutputError(
            f"{path}: unknown image format {path.suffix or '(no extension)'!r}; use one of {', '.join(OUTPUT_IMAGE_SUFFIXES)}"
        )
    return fmt


def write_image(path: str | Path, image: StillImage) -> None:
    """Encode by extension (JPEG at quality 95); keeps alpha where the format can store it."""
    path = Path(path)
    fmt = check_image_output(path)
    pil = Image.fromarray(image.rgb, "RGB")
    if image.alpha is not None and fmt in _ALPHA_FORMATS:
        pil.putalpha(Image.fromarray(image.alpha, "L"))
    options = {"quality": JPEG_QUALITY} if fmt in ("JPEG", "WEBP") else {}
    try:
        pil.save(path, format=fmt, **options)
    except PermissionError:
        raise OutputError(f"{path}: permission denied") from None
    except (OSError, ValueError, KeyError) as exc:
        raise OutputError(f"{path}: cannot write ({first_line(exc)})") from None

