"""Inference-only rewrites of a TransformerNet: the same function, computed faster.

:func:`prepare_for_inference` returns a copy of a trained network (the original, whose
``state_dict`` keys trained files depend on, is left alone) with these rewrites:

- ``fast_norm``: InstanceNorm runs on the half-precision activation map directly instead of
  upcasting it to float32 and back (see :class:`~realtime_style.models.transformer.InstanceNorm`).
- ``split_output_conv``: the final 9x9 convolution to 3 channels -- 5% of the standard network's
  multiply-accumulates but 20% of its CPU time, because 3 output channels leave the vector units
  mostly idle -- becomes a :class:`PhaseSplitConv`: a 5x5 convolution to 12 channels on a
  space-to-depth view of its input (2x faster on CPU; the result is the same sum of products).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from realtime_style.models.transformer import InstanceNorm, TransformerNet


def phase_split_weight(weight: torch.Tensor, bias: torch.Tensor | None, r: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rewrite a stride-1 ``k x k`` convolution as one on ``pixel_unshuffle(x, r)``.

    Output phase ``(p, s)`` of output channel ``o`` at low-resolution position ``(I, J)`` is
    ``y[o, r*I + p, r*J + s]``; it needs input rows ``r*I + p + a`` = ``r*(I + A) + q``, so the new
    kernel (``K = ceil((k + r - 1) / r)`` taps a side) holds ``w[o, c, r*A + q - p, r*B + t - s]``
    where that index is inside the old kernel, and zero elsewhere.
    """
    out_ch, in_ch, k, k2 = weight.shape
    if k != k2:
        raise ValueError(f"phase split needs a square kernel, got {k}x{k2}")
    taps = -(-(k + r - 1) // r)
    split = weight.new_zeros(out_ch * r * r, in_ch * r * r, taps, taps)
    tap = torch.arange(taps)
    for p in range(r):
        for q in range(r):
            rows = r * tap + q - p
            row_ok = (rows >= 0) & (rows < k)
            for s in range(r):
                for t in range(r):
                    cols = r * tap + t - s
                    col_ok = (cols >= 0) & (cols < k)
                    A, B = tap[row_ok], tap[col_ok]
                    block = weight[:, :, rows[row_ok]][:, :, :, cols[col_ok]]
                    target = split[p * r + s :: r * r, q * r + t :: r * r]
                    target[:, :, A[:, None], B[None, :]] = block
    bias = bias if bias is not None else weight.new_zeros(out_ch)
    return split, bias.repeat_interleave(r * r)


class PhaseSplitConv(nn.Module):
    """A stride-1, unpadded ``k x k`` convolution computed on a space-to-depth (``r x r``) view.

    ``pixel_unshuffle`` turns (C, H, W) into (C r², H/r, W/r); a ``ceil((k + r - 1)/r)``-tap
    convolution to O r² channels computes all r² output phases at once and ``pixel_shuffle``
    interleaves them back. More channels on both sides keep the vector units busy.
    """

    def __init__(self, conv: nn.Conv2d, r: int = 2):
        super().__init__()
        if conv.stride != (1, 1) or conv.dilation != (1, 1) or conv.groups != 1 or conv.padding != (0, 0):
            raise ValueError("phase split handles plain stride-1 unpadded convolutions only")
        weight, bias = phase_split_weight(conv.weight.detach(), conv.bias.detach() if conv.bias is not None else None, r)
        self.r = r
        self.kernel_size = conv.kernel_size[0]
        self.taps = weight.shape[-1]
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = nn.Parameter(bias, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.r
        height = x.shape[-2] - self.kernel_size + 1
        width = x.shape[-1] - self.kernel_size + 1
        # Zero rows/columns on the bottom/right edge make the input a whole number of r x r cells
        # covering every output phase; they only feed outputs that are cropped away.
        need_h = r * (-(-height // r) + self.taps - 1)
        need_w = r * (-(-width // r) + self.taps - 1)
        if need_h != x.shape[-2] or need_w != x.shape[-1]:
            x = F.pad(x, (0, need_w - x.shape[-1], 0, need_h - x.shape[-2]))
        y = F.pixel_shuffle(F.conv2d(F.pixel_unshuffle(x, r), self.weight, self.bias), r)
        return y if (y.shape[-2], y.shape[-1]) == (height, width) else y[..., :height, :width]


def prepare_for_inference(
    net: TransformerNet, *, fast_norm: bool = True, split_output_conv: bool = True
) -> TransformerNet:
    """A frozen copy of ``net`` with the chosen rewrites; ``net`` itself is not modified."""
    fast = copy.deepcopy(net).eval().requires_grad_(False)
    for module in fast.modules():
        if isinstance(module, InstanceNorm):
            module.upcast = not fast_norm
    if split_output_conv:
        output_layer = fast.decoder[-1]  # ConvLayer: (ReflectionPad2d, Conv2d)
        output_layer[1] = PhaseSplitConv(output_layer[1])
    return fast
