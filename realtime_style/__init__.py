"""rtstyle: real-time neural style transfer for video files, webcams and live streams.

The Python API (:mod:`realtime_style.api`) is importable from here; it is loaded on first use so
that ``import realtime_style.models`` and friends stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API_NAMES = ("Stylizer", "stylize_image", "stylize_video", "list_styles", "transform_images")
_OPTIMIZE_NAMES = ("optimize_image", "OptimizeOptions")

if TYPE_CHECKING:
    from realtime_style.api import Stylizer, list_styles, stylize_image, stylize_video, transform_images
    from realtime_style.optimize import OptimizeOptions, optimize_image


def __getattr__(name: str) -> Any:
    if name in _API_NAMES:
        from realtime_style import api

        return getattr(api, name)
    if name in _OPTIMIZE_NAMES:
        from realtime_style import optimize

        return getattr(optimize, name)
    raise AttributeError(f"module 'realtime_style' has no attribute {name!r}")


__all__ = ["__version__", *_API_NAMES, *_OPTIMIZE_NAMES]
