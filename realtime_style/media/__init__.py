"""Sources and sinks of pixels: video files (PyAV) and still images (Pillow). No models here."""

from realtime_style.media.geometry import Resize
from realtime_style.image_files import IMAGE_SUFFIXES, find_images
from realtime_style.media.images import StillImage, read_image, write_image
from realtime_style.media.sinks import VideoFileSink
from realtime_style.media.sources import Frame, VideoFileSource, VideoInfo

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
