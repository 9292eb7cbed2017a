"""Start a thinner TransformerNet from a trained wider one: keep the channels the net uses most.

Each feature map of the network (the encoder's and decoder's maps, the residual stream and each
residual block's inner map) keeps the channels that the layers reading it weigh most (squared
weights summed over the reading convolutions); the first residual blocks are kept. The result is
not the same function -- distillation (``--teacher``) then recovers it -- but it starts far closer
to it than a random init: the thin light network converges in a fraction of the steps.
"""

from __future__ import annotations

import torch

from realtime_style.models.transformer import TransformerConfig, TransformerNet


def _layer_maps(blocks: int) -> dict[str, tuple[str | None, str | None]]:
    """Module prefix -> (map it writes, map it reads) for a net with ``blocks`` residual blocks."""
    maps: dict[str, tuple[str | None, str | None]] = {
        "encoder.0.0.1": ("e1", None),
        "encoder.0.1": ("e1", None),
        "encoder.1.0.1": ("e2", "e1"),
        "encoder.1.1": ("e2", None),
        "encoder.2.0.1": ("stream", "e2"),
        "encoder.2.1": ("stream", None),
    }
    for i in range(blocks):
        maps[f"residuals.{i}.body.0.0.1"] = (f"r{i}", "stream")
        maps[f"residuals.{i}.body.0.1"] = (f"r{i}", None)
        maps[f"residuals.{i}.body.1.1"] = ("stream", f"r{i}")
        maps[f"residuals.{i}.body.2"] = ("stream", None)
    maps.update(
        {
            "decoder.0.conv.0.1": ("d2", "stream"),
            "decoder.0.conv.1": ("d2", None),
            "decoder.1.conv.0.1": ("d1", "d2"),
            "decoder.1.conv.1": ("d1", None),
            "decoder.2.1": (None, "d1"),
        }
    )
    return maps


def _map_sizes(config: TransformerConfig) -> dict[str, int]:
    c1, c2, c3 = config.channels
    sizes = {"e1": c1, "d1": c1, "e2": c2, "d2": c2, "stream": c3}
    sizes.update({f"r{i}": c3 for i in range(config.residual_blocks)})
    return sizes


def describe_config(config: TransformerConfig) -> str:
    """``16/32/48 x2 k9``: channels per level, residual blocks, outer kernel."""
    return f"{'/'.join(map(str, config.channels))} x{config.residual_blocks} k{config.outer_kernel}"


def can_shrink(source: TransformerConfig, target: TransformerConfig) -> bool:
    """True when ``target`` is ``source`` with fewer (or as many) channels and residual blocks."""
    return (
        source.outer_kernel == target.outer_kernel
        and target.residual_blocks <= source.residual_blocks
        and all(t <= s for t, s in zip(target.channels, source.channels))
    )


def shrink_state_dict(source: TransformerNet, target: TransformerConfig) -> dict[str, torch.Tensor]:
    """Weights for a ``target``-sized net taken from ``source``'s most-used channels."""
    if not can_shrink(source.config, target):
        raise ValueError(f"cannot shrink a {source.config} net to {target}")
    weights = {key: value.detach() for key, value in source.state_dict().items()}
    maps = _layer_maps(target.residual_blocks)
    importance: dict[str, torch.Tensor] = {}
    for prefix, (_, reads) in maps.items():
        if reads is not None:
            use = weights[f"{prefix}.weight"].float().pow(2).sum(dim=(0, 2, 3))
            importance[reads] = importance.get(reads, 0) + use
    keep = {
        name: importance[name].topk(size).indices.sort().values for name, size in _map_sizes(target).items()
    }
    shrunk = {}
    for prefix, (writes, reads) in maps.items():
        for kind in ("weight", "bias"):
            tensor = weights[f"{prefix}.{kind}"]
            if writes is not None:
                tensor = tensor.index_select(0, keep[writes])
            if reads is not None and kind == "weight":
                tensor = tensor.index_select(1, keep[reads])
            shrunk[f"{prefix}.{kind}"] = tensor.clone()
    return shrunk
