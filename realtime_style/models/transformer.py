"""Johnson et al.'s image transformation network, with resize-convolution upsampling and InstanceNorm.

Convention: the network takes RGB images as float tensors in [0, 1], shape (N, 3, H, W), of any size,
and returns RGB in roughly [0, 1] (callers clamp). Sizes that are not multiples of 4, or below 8, are padded on
the bottom/right edge and cropped back, so an H x W frame (1 x 1 too) always comes out H x W.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: How far the two stride-2 convolutions shrink a frame; input sizes are padded to a multiple of this.
SIZE_MULTIPLE = 4
#: The smallest side the network runs on: its 9x9 reflection padding needs 5 pixels, a multiple of 4 above
#: that is 8. Smaller frames (down to 1x1) are padded up to it and cropped back.
MIN_SIDE = 2 * SIZE_MULTIPLE


@dataclass(frozen=True)
class TransformerConfig:
    """Size of a TransformerNet: channels of its three resolution levels and residual blocks."""

    channels: tuple[int, int, int] = (32, 64, 128)
    residual_blocks: int = 5
    outer_kernel: int = 9

    def to_dict(self) -> dict:
        return {**asdict(self), "channels": list(self.channels)}

    @classmethod
    def from_dict(cls, data: dict) -> "TransformerConfig":
        channels = tuple(int(c) for c in data["channels"])
        if len(channels) != 3 or min(channels) < 1:
            raise ValueError(f"channels must be three positive integers, got {data['channels']!r}")
        return cls(
            channels=channels,  # type: ignore[arg-type]
            residual_blocks=int(data["residual_blocks"]),
            outer_kernel=int(data.get("outer_kernel", 9)),
        )


#: Named sizes: `standard` is Johnson et al.'s network, `light` is for live use on CPUs (0.76x the
#: time per frame of the earlier 16/32/64 x3 light net, 1/4 of the standard's; model files carry
#: their own size, so files of the earlier light net still load).
ARCHITECTURES: dict[str, TransformerConfig] = {
    "standard": TransformerConfig(channels=(32, 64, 128), residual_blocks=5),
    "light": TransformerConfig(channels=(16, 32, 48), residual_blocks=2),
}


class InstanceNorm(nn.InstanceNorm2d):
    """Affine InstanceNorm whose statistics are always computed in float32.

    In float16, the variance of a 1080p activation map overflows (65504 is fp16's maximum) and
    bf16 loses most of the mean's precision; normalizing in fp32 and casting back keeps half
    precision runs within a few 1e-3 of fp32.

    ``upcast`` (an attribute, not state) chooses how: True converts the activation map to float32
    and back (two extra passes over it); False hands the half-precision map to the kernel as it is,
    which is equally accurate where the kernel accumulates in float32 itself (PyTorch's CPU kernel
    does for bf16) and makes the whole bf16 network about 1.25x faster on CPU. The engine turns it off there.
    """

    def __init__(self, channels: int):
        super().__init__(channels, affine=True, track_running_stats=False)
        self.upcast = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32 or not self.upcast:
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        with torch.autocast(device_type=x.device.type, enabled=False):
            return F.instance_norm(x.float(), weight=self.weight.float(), bias=self.bias.float(), eps=self.eps).to(
                x.dtype
            )


def set_norm_upcast(net: nn.Module, upcast: bool) -> None:
    """Choose how every :class:`InstanceNorm` in ``net`` treats half-precision maps (see ``InstanceNorm.upcast``)."""
    for module in net.modules():
        if isinstance(module, InstanceNorm):
            module.upcast = upcast


class ConvLayer(nn.Sequential):
    """Reflection padding followed by a convolution (no zero-padding borders)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__(
            nn.ReflectionPad2d(kernel_size // 2),
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride),
        )


class ConvNormReLU(nn.Sequential):
    """ConvLayer, InstanceNorm, ReLU: the network's basic unit."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__(
            ConvLayer(in_channels, out_channels, kernel_size, stride),
            InstanceNorm(out_channels),
            nn.ReLU(inplace=True),
        )


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with InstanceNorm and an identity shortcut (He et al.)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            ConvNormReLU(channels, channels, 3),
            ConvLayer(channels, channels, 3),
            InstanceNorm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpsampleConv(nn.Module):
    """Nearest-neighbour x2 upsampling, then a convolution: no transposed conv, no checkerboard."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = ConvNormReLU(in_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class TransformerNet(nn.Module):
    """Feed-forward style network: downsample x4, residual blocks, resize-conv upsample x4."""

    def __init__(self, config: TransformerConfig | None = None):
        super().__init__()
        self.config = config or ARCHITECTURES["standard"]
        c1, c2, c3 = self.config.channels
        k = self.config.outer_kernel
        self.encoder = nn.Sequential(
            ConvNormReLU(3, c1, k),
            ConvNormReLU(c1, c2, 3, stride=2),
            ConvNormReLU(c2, c3, 3, stride=2),
        )
        self.residuals = nn.Sequential(*(ResidualBlock(c3) for _ in range(self.config.residual_blocks)))
        self.decoder = nn.Sequential(
            UpsampleConv(c3, c2),
            UpsampleConv(c2, c1),
            ConvLayer(c1, 3, k),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad_h = max(-height % SIZE_MULTIPLE, MIN_SIDE - height)
        pad_w = max(-width % SIZE_MULTIPLE, MIN_SIDE - width)
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        y = self.decoder(self.residuals(self.encoder(x)))
        return y[..., :height, :width] if (pad_h or pad_w) else y
