"""Neural networks and model files: the transform net, the VGG19 loss network and the style store."""

from realtime_style.models.transformer import ARCHITECTURES, TransformerConfig, TransformerNet
from realtime_style.models.store import ModelInfo, StyleModel, list_styles, load_model, save_model

__all__ = [
    "ARCHITECTURES",
    "TransformerConfig",
    "TransformerNet",
    "ModelInfo",
    "StyleModel",
    "list_styles",
    "load_model",
    "save_model",
]
