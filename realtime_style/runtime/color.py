"""Colour operations on RGB [0, 1] tensors (N, 3, H, W): strength blending and colour preservation."""

from __future__ import annotations

from dataclasses import dataclass

import torch

# ITU-R BT.601 luma weights; the chroma axes are the matching (unscaled) colour differences.
_LUMA = (0.299, 0.587, 0.114)


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """Y channel (N, 1, H, W) of an RGB batch."""
    r, g, b = rgb.unbind(1)
    return (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b).unsqueeze(1)


def preserve_color(stylized: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """Keep ``original``'s colours and take only the luminance from ``stylized`` (Gatys et al. 2016).

    Adding the same value to R, G and B changes Y by exactly that value and leaves the colour
    differences R−Y, B−Y untouched, so shifting the original by ΔY swaps its luminance.
    """
    return original + (luminance(stylized) - luminance(original))


def blend(stylized: torch.Tensor, original: torch.Tensor, strength: float) -> torch.Tensor:
    """``strength`` 1 gives the stylized image, 0 the original, values between a linear mix."""
    if strength >= 1.0:
        return stylized
    if strength <= 0.0:
        return original
    return torch.lerp(original, stylized, strength)


@dataclass(frozen=True)
class Look:
    """How a stylized frame meets its original; travels with each frame (see Engine.stylize)."""

    #: 1 = fully stylized, 0 = the original frame, values between a linear mix.
    strength: float = 1.0
    #: Keep the original's colours and take only the luminance from the style.
    preserve_color: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"strength must be between 0 and 1, got {self.strength}")

    def apply(self, stylized: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
        """The frame to show: colour preservation, then the strength blend (may return ``original`` itself)."""
        out = preserve_color(stylized, original) if self.preserve_color else stylized
        return blend(out, original, self.strength)


#: The net's output as it is.
FULL_STYLE = Look()


def match_histogram(source: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Move each channel's mean and covariance of ``source`` to those of ``reference`` (per image).

    A linear colour transfer (Hertzmann-style mean/covariance match via matrix square roots); used
    to bring a style image's palette onto the content's before optimization.
    """
    out = []
    for src, ref in zip(source, reference):
        s = src.flatten(1).double()
        r = ref.flatten(1).double()
        mu_s, mu_r = s.mean(1, keepdim=True), r.mean(1, keepdim=True)
        cov_s = torch.cov(s) + 1e-5 * torch.eye(3, dtype=s.dtype, device=s.device)
        cov_r = torch.cov(r) + 1e-5 * torch.eye(3, dtype=s.dtype, device=s.device)
        transform = _sqrtm(cov_r) @ torch.linalg.inv(_sqrtm(cov_s))
        out.append((transform @ (s - mu_s) + mu_r).reshape(src.shape).to(src.dtype))
    return torch.stack(out)


def _sqrtm(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T
