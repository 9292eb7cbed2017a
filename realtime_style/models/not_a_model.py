"""What a file given as a model, but not a model file, is, and what to do with it instead.

``--style starry_night.jpg`` (a painting) or ``--style runs/x/checkpoint.pt`` (a training checkpoint)
is a common first try; "header too large" from safetensors tells the user nothing.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from realtime_style.image_files import is_image_file

#: Suffixes of PyTorch checkpoints (``rtstyle train`` writes ``checkpoint.pt``).
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
#: The first bytes of common image formats, for images without a telling suffix.
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"RIFF", b"II*\x00", b"MM\x00*")


def _head(path: Path, size: int = 8) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def looks_like_image(path: Path) -> bool:
    return is_image_file(path) or _head(path).startswith(IMAGE_MAGIC)


def looks_like_checkpoint(path: Path) -> bool:
    return path.suffix.lower() in CHECKPOINT_SUFFIXES or (_head(path).startswith(b"PK") and zipfile.is_zipfile(path))


def what_to_do_instead(path: Path) -> str | None:
    """A sentence naming what ``path`` is and the command that takes it, or None when it is neither kind."""
    if looks_like_image(path):
        return (
            f"{path} is an image, not a model file: to stylize with this painting use "
            f"`rtstyle still IN OUT --optimize --style-image {path}` (slow, one image), "
            f"or train a model from it with `rtstyle train --style-image {path} ...`"
        )
    if looks_like_checkpoint(path):
        return (
            f"{path} is a training checkpoint, not a model file: make one with "
            f"`rtstyle export {path} --out MODEL.safetensors`, then use --style MODEL.safetensors"
        )
    return None
