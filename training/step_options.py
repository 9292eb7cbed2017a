"""How a training step is computed on the CPU: memory layouts and the dtype of the frozen VGG.

None of these settings changes the loss or the recipe; they choose where the same numbers are computed
fastest (a different summation order moves the losses by float rounding only; tests/test_training_step.py).
Measured with ``benchmarks/bench_training.py`` on a 2-core AMD EPYC (Zen 2, avx2, fp32):

* the transform net's last convolution (32 -> 3 channels, 9x9) is 3-4x slower in oneDNN's NCHW path
  than in channels-last, forward and backward; every other convolution of the net is as fast or faster
  in NCHW, so only that convolution's input is turned channels-last;
* the frozen VGG's early convolutions are 10-30 % faster channels-last (the deeper ones equal), and its
  Gram matrices then read the activations through a view instead of a copy;
* under bf16 autocast the frozen VGG's weights are held in bf16 once instead of being cast every call;
* Adam runs fused (one kernel per parameter instead of ~10 small ops): same update to float rounding,
  0.57 -> 0.004 CPU-seconds per step for the standard net on a loaded 2-core machine;
* under bf16 autocast on the CPU the transform net's InstanceNorm reads its bf16 maps directly (the kernel
  accumulates in float32) instead of a float32 copy: the whole bf16 step on Zen 4 went from 1.21x to 1.33x the plain
  one (bench_training, docs/training-step.md), gradients as close to float32 as before.

Under bf16 autocast: on the AMX Xeon channels-last was measured neutral to slower for the net
(shared/notes/training-step-profile.md), so there only the VGG's bf16 weights and fused Adam are on; on an AMD EPYC
with avx512_bf16 and no AMX (Zen 4) both channels-last settings measured 1.11x (standard net, 256², batch 4: 2.72 ->
2.44 s a step, median of 8 alternating; docs/training-step.md), so there they are on as on fp32 CPUs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from realtime_style.models.transformer import set_norm_upcast
from realtime_style.runtime.backends.choices import cpu_flags

from .loss import DistillationLoss, PerceptualLoss


@dataclass(frozen=True)
class StepOptions:
    """Speed settings of a training step (not part of the recipe)."""

    #: Run the transform net's output convolution on a channels-last input.
    output_conv_channels_last: bool = False
    #: Hold the frozen VGG channels-last.
    vgg_channels_last: bool = False
    #: Hold the frozen VGG's weights in the autocast dtype (when there is one).
    vgg_in_autocast_dtype: bool = False
    #: Adam's fused implementation.
    fused_adam: bool = False
    #: InstanceNorm normalizes the autocast dtype's maps as they are instead of a float32 copy (the CPU kernel
    #: accumulates in float32 itself; fp16 on CUDA would overflow, so only bf16 on the CPU).
    norm_in_autocast_dtype: bool = False

    @classmethod
    def plain(cls) -> "StepOptions":
        """The step as it was computed before these options existed (the benchmark's baseline)."""
        return cls()

    @classmethod
    def fast(cls, device: torch.device, amp_dtype: torch.dtype | None) -> "StepOptions":
        """The fastest measured settings for ``device`` and precision."""
        channels_last = device.type == "cpu" and (amp_dtype is None or "amx_bf16" not in cpu_flags())
        return cls(
            output_conv_channels_last=channels_last,
            vgg_channels_last=channels_last,
            vgg_in_autocast_dtype=True,
            fused_adam=device.type == "cpu",
            norm_in_autocast_dtype=device.type == "cpu" and amp_dtype == torch.bfloat16,
        )


def _to_channels_last(_module: nn.Module, args: tuple) -> tuple:
    return (args[0].contiguous(memory_format=torch.channels_last), *args[1:])


def output_conv(net: nn.Module) -> nn.Conv2d:
    """The last convolution of a transform net (the one that makes the RGB output)."""
    convs = [module for module in net.modules() if isinstance(module, nn.Conv2d)]
    if not convs:
        raise ValueError("the network has no convolution")
    return convs[-1]


def apply_step_options(
    options: StepOptions, net: nn.Module, loss: PerceptualLoss | DistillationLoss, amp_dtype: torch.dtype | None
) -> None:
    """Set up ``net`` and ``loss`` for ``options``; the net's parameters and saved state are untouched."""
    if options.output_conv_channels_last:
        output_conv(net).register_forward_pre_hook(_to_channels_last)
    if options.norm_in_autocast_dtype:
        set_norm_upcast(net, False)
    if isinstance(loss, PerceptualLoss):
        loss.hold_vgg_as(amp_dtype if options.vgg_in_autocast_dtype else None, options.vgg_channels_last)


def make_adam(net: nn.Module, lr: float, options: StepOptions) -> torch.optim.Adam:
    """The run's Adam, fused where ``options`` say so."""
    return torch.optim.Adam(net.parameters(), lr=lr, fused=options.fused_adam or None)


def keep_adam_fused(optimizer: torch.optim.Optimizer, options: StepOptions) -> None:
    """Loading a state dict replaces the groups' settings with the saved ones: put ``fused`` back after a resume."""
    for group in optimizer.param_groups:
        group["fused"] = options.fused_adam or None
