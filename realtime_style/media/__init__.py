"""Sources and sinks of pixels: video files (PyAV) and still images (Pillow). No models here.

The video file source and sink are imported on first use, so that the rest (still images, :class:`Frame`)
works where PyAV is not installed (the GPU session machine).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from realtime_style.image_files import IMAGE_SUFFIXES, find_images
from realtime_style.media.frame import Frame
from realtime_style.media.geometry import Resize
from realtime_style.media.images import StillImage, read_image, write_image

#: Names that need PyAV, by the module that defines them.
_VIDEO_FILES = {"VideoFileSink": "sinks", "VideoFileSource": "sources", "VideoInfo": "sources"}

if TYPE_CHECKING:
    from realtime_style.media.sinks import VideoFileSink
    from realtime_style.media.sources import VideoFileSource, VideoInfo


def __getattr__(name: str) -> Any:
    if name in _VIDEO_FILES:
        return getattr(importlib.import_module(f"realtime_style.media.{_VIDEO_FILES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "IMAGE_SUFFIXES",
    "Frame",
    "Resize",
    "StillImage",
    "VideoFileSink",
    "VideoFileSource",
    "VideoInfo",
    "find_images",
    "read_image",
    "write_image",
]
