"""Where the person is: MediaPipe's selfie-segmentation model, run at its own small size.

The two models (``general``, 256x256, and ``landscape``, 144x256; Apache-2.0, about 250 KB each)
ship inside this package (see ``models/NOTICE.md``); nothing is downloaded. They run through
LiteRT (``ai-edge-litert``, the TensorFlow Lite runtime), the optional extra ``rtstyle[person]``.
The frame is squeezed (not cropped) to the model's input, as MediaPipe does, so the mask lines up
with the whole frame.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from realtime_style.errors import RtStyleError

#: The model for each input shape: (file, height, width).
MODELS = {
    "general": ("selfie_segmentation.tflite", 256, 256),
    "landscape": ("selfie_segmentation_landscape.tflite", 144, 256),
}
#: Frames at least this much wider than tall use the landscape model.
LANDSCAPE_ASPECT = 1.4


class MissingExtraError(RtStyleError):
    """An optional dependency that a feature needs is not installed."""


def model_for(width: int, height: int) -> str:
    """``landscape`` for wide frames (16:9 video), else ``general`` (portraits, square photos)."""
    return "landscape" if width >= LANDSCAPE_ASPECT * height else "general"


def model_path(name: str) -> Path:
    """The shipped model file called ``name`` (a key of :data:`MODELS`)."""
    return Path(str(resources.files("realtime_style.person") / "models" / MODELS[name][0]))


def require_runtime() -> type:
    """LiteRT's Interpreter class, or :class:`MissingExtraError` naming the extra that brings it."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise MissingExtraError(
            "person segmentation needs LiteRT: pip install 'rtstyle[person]' (or pip install ai-edge-litert)"
        ) from None
    return Interpreter


class PersonSegmenter:
    """RGB uint8 frame in, person probability (float32 0..1) out at the model's size.

    One instance per thread (a LiteRT interpreter is not thread-safe). ``threads`` is LiteRT's
    thread count; 1 suits the live path, where the cores run the style networks.
    """

    def __init__(self, model: str = "general", threads: int = 1):
        if model not in MODELS:
            raise ValueError(f"unknown person model {model!r}; choose from {', '.join(MODELS)}")
        interpreter_class = require_runtime()
        self.model = model
        _, self.height, self.width = MODELS[model]
        self._interpreter = interpreter_class(model_path=str(model_path(model)), num_threads=threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]

    @classmethod
    def for_frame(cls, width: int, height: int, threads: int = 1) -> PersonSegmenter:
        """The segmenter whose model suits frames of this shape."""
        return cls(model_for(width, height), threads)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Probability that each pixel shows a person, (model height, model width) float32."""
        import cv2

        small = cv2.resize(rgb, (self.width, self.height), interpolation=cv2.INTER_AREA)
        tensor = (small.astype(np.float32) * (1.0 / 255.0))[None]
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)[0, :, :, 0].copy()
