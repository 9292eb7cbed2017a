"""CPU inference backends: the same transform net run by PyTorch or by OpenVINO.

A backend's net is a callable from a float (N, 3, H, W) RGB [0, 1] CPU tensor to the stylized
tensor (see :class:`InferenceNet`); the engine applies strength, colour preservation and the uint8
conversions around it, so those work the same on every backend.

``torch``     PyTorch eager (the engine's own rewrites; the only backend on CUDA/MPS, for training
              and for ``still --optimize``)
``openvino``  the net exported to OpenVINO in memory, compiled once per input shape
              (:mod:`.openvino_net`)
``auto``      torch on CUDA/MPS; on a CPU the faster of the two for this machine, net and frame
              size, measured once by a short probe and remembered on disk (:mod:`.auto`)
"""

from __future__ import annotations

from typing import Protocol

import torch

#: The values ``--backend`` accepts.
BACKENDS = ("auto", "torch", "openvino")


class InferenceNet(Protocol):
    """What the engine calls: float (N, 3, H, W) RGB [0, 1] in, stylized RGB (N, 3, H, W) out."""

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...

    def describe(self) -> str:
        """The backend and precision in a few words, e.g. ``openvino f32``."""
        ...
