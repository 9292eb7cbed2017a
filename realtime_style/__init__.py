"""rtstyle: real-time neural style transfer for video files, webcams and live streams.

The Python API (:mod:`realtime_style.api`, with :func:`configure_process` and the options it takes)
is importable from here; it is loaded on first use so that ``import realtime_style.models`` and
friends stay light.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# training/ sits at the top of a checkout and installs as realtime_style.training (pyproject.toml's
# package-dir). A checkout run without installing (PYTHONPATH=checkout, as on the GPU machine) finds it here.
_CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(_CHECKOUT, "pyproject.toml")) and os.path.isfile(
    os.path.join(_CHECKOUT, "training", "__init__.py")
):
    __path__.append(_CHECKOUT)

#: Public names and the module each is loaded from on first use.
_LAZY_NAMES = {
    **dict.fromkeys(("Stylizer", "stylize_image", "stylize_video", "list_styles", "transform_images"), "api"),
    **dict.fromkeys(("optimize_image", "OptimizeOptions"), "optimize"),
    **dict.fromkeys(("configure_process", "ProcessOptions"), "runtime.process"),
    "EngineOptions": "runtime.engine",
    "Look": "runtime.color",
    "VideoOptions": "video",
    "make_smoother": "temporal",
}

if TYPE_CHECKING:
    from realtime_style.api import Stylizer, list_styles, stylize_image, stylize_video, transform_images
    from realtime_style.optimize import OptimizeOptions, optimize_image
    from realtime_style.runtime.color import Look
    from realtime_style.runtime.engine import EngineOptions
    from realtime_style.runtime.process import ProcessOptions, configure_process
    from realtime_style.temporal import make_smoother
    from realtime_style.video import VideoOptions


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        module = importlib.import_module(f"realtime_style.{_LAZY_NAMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'realtime_style' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY_NAMES]
