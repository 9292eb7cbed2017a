"""The objective at one scale: content, blended-style, TV and range terms against fixed targets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from realtime_style.losses import gram_matrix, relative_distance, style_distance, total_variation
from realtime_style.models.vgg import VGG19Features
from realtime_style.optimize.options import OptimizeOptions


@dataclass
class LossTerms:
    """One evaluation of the objective, in scale-free units."""

    content: float
    style: float
    tv: float
    total: float

    def describe(self) -> str:
        return f"total {self.total:.4g} (content {self.content:.3g}, style {self.style:.3g}, tv {self.tv:.3g})"


class Objective:
    """Content, blended-style and TV losses for one scale, against fixed targets."""

    def __init__(
        self,
        vgg: VGG19Features,
        options: OptimizeOptions,
        content: torch.Tensor,
        styles: Sequence[torch.Tensor],
        blend: Sequence[float],
    ):
        self.vgg, self.options = vgg, options
        with torch.no_grad():
            self.content_target = vgg(content)[options.content_layer].detach()
            grams: dict[str, torch.Tensor] = {}
            for style, weight in zip(styles, blend):
                features = vgg(style)
                for layer in options.style_layers:
                    grams[layer] = grams.get(layer, 0) + weight * gram_matrix(features[layer])
                del features
        self.style_targets = grams
        self.style_norms = {layer: gram.pow(2).sum() for layer, gram in grams.items()}

    def terms(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(total, content, style, tv) as tensors, differentiable in ``image``."""
        opts = self.options
        features = self.vgg(image)
        content = relative_distance(features[opts.content_layer], self.content_target).mean()
        grams = {layer: gram_matrix(features[layer]) for layer in opts.style_layers}
        style = style_distance(grams, self.style_targets, opts.style_layers, self.style_norms).mean()
        tv = total_variation(image)
        total = opts.content_weight * content + opts.style_weight * style + opts.tv_weight * tv
        if opts.range_weight:
            total = total + opts.range_weight * out_of_range(image)
        return total, content, style, tv

    @torch.no_grad()
    def evaluate(self, image: torch.Tensor) -> LossTerms:
        return as_terms(*self.terms(image))


def out_of_range(image: torch.Tensor) -> torch.Tensor:
    """Mean squared excursion of the pixels outside [0, 1]: keeps L-BFGS's unconstrained pixels savable."""
    return (F.relu(image - 1) ** 2 + F.relu(-image) ** 2).mean()


def as_terms(total: torch.Tensor, content: torch.Tensor, style: torch.Tensor, tv: torch.Tensor) -> LossTerms:
    values = [float(t.detach()) for t in (total, content, style, tv)]
    return LossTerms(total=values[0], content=values[1], style=values[2], tv=values[3])
