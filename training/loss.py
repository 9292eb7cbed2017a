"""The perceptual loss of Johnson et al., in scale-free form, on our VGG19 loss network.

Each term is *relative*: the content term is ‖F(y) − F(x)‖² / ‖F(x)‖² at the content layer (plus, where
``extra_content_layers`` name any, the same at shallower or deeper layers, each with its own weight), and
the style term the mean over style layers of ‖G(y) − G(s)‖² / ‖G(s)‖² (the same quantity that
``rtstyle eval`` reports as style distance; ``style_layer_weights`` make it a weighted mean). A
relative term does not depend on the pixel scale or the preprocessing of the loss network, and it
weights every style layer equally whatever its channel count, so the weights below mean the same
thing for any convention.

Relation to the usual absolute weights: Johnson's Lua code (Caffe VGG, 0-255 input, Gram / CHW,
mean-squared Gram error) uses content 1, style 5; pytorch/examples (ImageNet-normalized input,
mse over Gram entries) uses content 1e5, style 1e10. Both amount to a style/content balance that
this module expresses directly as ``style_weight / content_weight``; see training/README.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from realtime_style.losses import STYLE_LAYERS, gram_matrix, relative_distance, style_distance, total_variation
from realtime_style.models.vgg import VGG19Features


@dataclass(frozen=True)
class LossWeights:
    """Layers and weights of the perceptual loss (see the module docstring for their scale)."""

    content_layer: str = "relu2_2"
    #: Further content layers, each with its weight against ``content_layer``'s 1, e.g. ``(("relu2_2", 0.2),)``:
    #: a small shallow term holds edges and colours that a deep content layer leaves to the style.
    extra_content_layers: tuple[tuple[str, float], ...] = ()
    style_layers: tuple[str, ...] = STYLE_LAYERS
    #: One weight per style layer (their weighted mean is the style term); empty: every layer counts the same.
    style_layer_weights: tuple[float, ...] = ()
    content_weight: float = 1.0
    style_weight: float = 20.0
    tv_weight: float = 0.0
    #: Weight of the stability term (training/stability.py); 0 leaves it out.
    stability_weight: float = 0.0
    #: Score the output as it will be shown, clamped to [0, 1] (see :func:`as_displayed`); for fine-tuning.
    clamp_output: bool = False

    @property
    def content_layers(self) -> tuple[str, ...]:
        """Every content layer, ``content_layer`` first."""
        return (self.content_layer, *(layer for layer, _ in self.extra_content_layers))

    def __post_init__(self) -> None:
        if len(set(self.content_layers)) != len(self.content_layers):
            raise ValueError(f"a content layer is named twice: {list(self.content_layers)}")
        if any(not 0 <= weight < float("inf") for _, weight in self.extra_content_layers):
            raise ValueError(f"content layer weights must be numbers of 0 or more; got {list(self.extra_content_layers)}")
        weights = self.style_layer_weights
        if weights and len(weights) != len(self.style_layers):
            raise ValueError(f"{len(weights)} style layer weights for {len(self.style_layers)} style layers")
        if weights and (min(weights) < 0 or not sum(weights) > 0):
            raise ValueError(f"style layer weights must not be negative, and not all 0; got {list(weights)}")

    def to_dict(self) -> dict:
        return {
            "content_layer": self.content_layer,
            **({"extra_content_layers": [list(e) for e in self.extra_content_layers]} if self.extra_content_layers else {}),
            "style_layers": list(self.style_layers),
            **({"style_layer_weights": list(self.style_layer_weights)} if self.style_layer_weights else {}),
            "content_weight": self.content_weight,
            "style_weight": self.style_weight,
            "tv_weight": self.tv_weight,
            **({"stability_weight": self.stability_weight} if self.stability_weight else {}),
            **({"clamp_output": True} if self.clamp_output else {}),
        }


def as_displayed(images: torch.Tensor) -> torch.Tensor:
    """The images clamped to [0, 1] as every saved or shown frame is; gradients pass straight through.

    Unclamped, a net learns to put part of the style into values outside [0, 1] (5-9 % of the pixels
    of the 128²/256²-trained nets), which every output then loses: clamping the shipped mosaic and
    candy raised their style distance by 13-20 %. The straight-through gradient keeps pixels that
    overshoot trainable (a plain clamp would give them none), but it is blind to how far they overshoot:
    a net far out of range (a random init) learns badly with it, so it is meant for fine-tuning.
    """
    return images + (images.clamp(0.0, 1.0) - images).detach()


class PerceptualLoss(nn.Module):
    """Content + style + TV loss of stylized images against their photos and one style image.

    The style image's Grams are computed once at construction. The photos' content features come
    from the same VGG stopped at the deepest content layer (cheap) and are computed once per batch,
    without gradients; the stylized images go through the network up to its deepest used layer once.
    """

    def __init__(self, style_image: torch.Tensor, weights: LossWeights, device: torch.device):
        super().__init__()
        self.weights = weights
        layers: Sequence[str] = (*weights.style_layers, *weights.content_layers)
        self.vgg = VGG19Features(layers).to(device)
        with torch.no_grad():
            features = self.vgg(style_image.to(device)[None].float())
            grams = {layer: gram_matrix(features[layer]) for layer in weights.style_layers}
        for index, layer in enumerate(weights.style_layers):
            self.register_buffer(f"gram_{index}", grams[layer])
            self.register_buffer(f"gram_norm_{index}", grams[layer].pow(2).sum())

    def content_targets(self, photos: torch.Tensor) -> dict[str, torch.Tensor]:
        """The photos' features at every content layer (no gradient)."""
        with torch.no_grad():
            return self.vgg(photos, list(self.weights.content_layers))

    def style_grams(self) -> dict[str, torch.Tensor]:
        """The style image's Gram matrices (batch 1) by layer."""
        return {layer: getattr(self, f"gram_{index}") for index, layer in enumerate(self.weights.style_layers)}

    def style_norms(self) -> dict[str, torch.Tensor]:
        """‖G(style)‖² by layer."""
        return {layer: getattr(self, f"gram_norm_{index}") for index, layer in enumerate(self.weights.style_layers)}

    def hold_vgg_as(self, dtype: torch.dtype | None = None, channels_last: bool = False) -> None:
        """Keep the frozen VGG's weights in ``dtype`` (the autocast dtype: no cast per step) and/or channels-last.

        The Gram targets stay float32. Under autocast the numbers are the ones autocast computes from
        float32 weights (it casts them to the same dtype on every call); only the casts are saved.
        """
        if dtype is not None:
            self.vgg.to(dtype=dtype)
        if channels_last:
            self.vgg.to(memory_format=torch.channels_last)

    def forward(self, stylized: torch.Tensor, content_targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weighted terms and their sum ``total``; each term is already multiplied by its weight."""
        w = self.weights
        if w.clamp_output:
            stylized = as_displayed(stylized)
        features = self.vgg(stylized)
        layer_weights = ((w.content_layer, 1.0), *w.extra_content_layers)
        content = sum(
            weight * relative_distance(features[layer], content_targets[layer]).mean() for layer, weight in layer_weights
        )
        grams = {layer: gram_matrix(features[layer]) for layer in w.style_layers}
        style = style_distance(
            grams, self.style_grams(), w.style_layers, self.style_norms(), w.style_layer_weights
        ).mean()
        terms = {"content": w.content_weight * content, "style": w.style_weight * style}
        if w.tv_weight:
            terms["tv"] = w.tv_weight * total_variation(stylized)
        terms["total"] = sum(terms.values())  # type: ignore[assignment]
        return terms


class DistillationLoss(nn.Module):
    """Teach a (smaller) network to reproduce a trained teacher: mean absolute pixel difference.

    Same interface as :class:`PerceptualLoss`: the teacher's outputs are the per-batch targets,
    computed once per batch without gradients. No VGG is run, so a step costs a fraction of one
    with the perceptual loss.
    """

    def __init__(self, teacher: nn.Module):
        super().__init__()
        self.teacher = teacher.eval().requires_grad_(False)

    def content_targets(self, photos: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.teacher(photos).float().clamp(0, 1)

    def forward(self, stylized: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        distill = (stylized.float() - target).abs().mean()
        return {"distill": distill, "total": distill}
