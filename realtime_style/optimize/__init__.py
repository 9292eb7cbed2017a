"""Gatys et al.'s per-image style transfer: optimize the pixels of one picture against VGG19 losses.

No trained model is needed, so any painting can be the style. The objective, in the units that are
reported (and that the evaluation metric of ``rtstyle eval`` uses):

    total = content_weight · CD + style_weight · SD + tv_weight · TV

with CD the relative feature distance to the content at ``relu4_2``, SD the mean over the style
layers of the relative Gram distance to the (blended) style target and TV the mean squared
neighbour difference of the [0, 1] image. Those terms are scale-free, so their gradients with
respect to a single pixel shrink like 1 / (number of pixels): at 512 px they are ~1e-7, below the
absolute thresholds inside L-BFGS (its curvature pairs are dropped when yᵀs < 1e-10), and the
line search stalls at the initial image. The optimizer therefore sees ``total · 3·H·W`` (per-pixel
units, gradients of order one at every size) and no tolerance-based stopping; the reported figures
stay in the scale-free units.

Pixels are optimized unconstrained in float32 (L-BFGS) or projected to [0, 1] (Adam); clipping and
8-bit quantization happen only when the result is saved, and :class:`OptimizeResult` reports the
loss of both so that the cost of saving is measured, not assumed.

Large outputs are made affordable coarse to fine (``scales``): optimize small, upsample, refine.
:func:`estimate_memory` predicts the peak memory of a size before anything is allocated and
:func:`check_memory` refuses sizes that will not fit, saying which size does.
"""

from realtime_style.optimize.colors import finish_colors, prepare_colors
from realtime_style.optimize.memory import MEMORY_BASE, check_memory, estimate_memory, largest_fitting_size
from realtime_style.optimize.objective import LossTerms, Objective
from realtime_style.optimize.options import (
    INITS,
    MIN_SCALE,
    OPTIMIZERS,
    PRESERVE_COLOR,
    ImageLike,
    OptimizeOptions,
    auto_scales,
)
from realtime_style.optimize.pictures import fit_long_side, resize, to_image_tensor
from realtime_style.optimize.run import OptimizeResult, StepCallback, StepRecord, optimize_image

__all__ = [
    "INITS",
    "MEMORY_BASE",
    "MIN_SCALE",
    "OPTIMIZERS",
    "PRESERVE_COLOR",
    "ImageLike",
    "LossTerms",
    "Objective",
    "OptimizeOptions",
    "OptimizeResult",
    "StepCallback",
    "StepRecord",
    "auto_scales",
    "check_memory",
    "estimate_memory",
    "finish_colors",
    "fit_long_side",
    "largest_fitting_size",
    "optimize_image",
    "prepare_colors",
    "resize",
    "to_image_tensor",
]
