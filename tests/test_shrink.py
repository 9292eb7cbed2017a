"""Shrinking a trained net to a thinner one (``--init`` with a wider model)."""

from __future__ import annotations

import pytest
import torch

from realtime_style.models.transformer import ARCHITECTURES, TransformerConfig, TransformerNet
from realtime_style.training.shrink import can_shrink, shrink_state_dict

WIDE = TransformerConfig(channels=(8, 12, 16), residual_blocks=3)
THIN = TransformerConfig(channels=(6, 12, 10), residual_blocks=2)


def _net(config: TransformerConfig) -> TransformerNet:
    torch.manual_seed(0)
    net = TransformerNet(config)
    with torch.no_grad():  # non-trivial norm affines, as in a trained net
        for module in net.modules():
            if isinstance(module, torch.nn.InstanceNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return net.eval()


def test_same_size_is_the_same_net() -> None:
    net = _net(WIDE)
    shrunk = shrink_state_dict(net, WIDE)
    assert all(torch.equal(shrunk[k], v) for k, v in net.state_dict().items())


def test_unused_channels_and_blocks_are_what_goes() -> None:
    """A wide net whose extra channels are dead and whose last block adds nothing is the thin net exactly."""
    wide = _net(WIDE)
    with torch.no_grad():
        # Level 1: channels 6, 7 of both level-1 maps are never read.
        wide.encoder[1][0][1].weight[:, 6:] = 0
        wide.decoder[2][1].weight[:, 6:] = 0
        # Residual stream: channels 10..15 are never read (by any block or the decoder) ...
        for block in wide.residuals:
            block.body[0][0][1].weight[:, 10:] = 0
        wide.decoder[0].conv[0][1].weight[:, 10:] = 0
        # ... and each block's inner map keeps its first 10 channels only.
        for block in wide.residuals:
            block.body[1][1].weight[:, 10:] = 0
        # The last block is an identity: its output norm is zeroed.
        wide.residuals[2].body[2].weight.zero_()
        wide.residuals[2].body[2].bias.zero_()
    thin = TransformerNet(THIN).eval()
    thin.load_state_dict(shrink_state_dict(wide, THIN))
    x = torch.rand(2, 3, 24, 32)
    with torch.no_grad():
        assert torch.allclose(thin(x), wide(x), atol=1e-5)


def test_channels_kept_are_the_most_read_ones() -> None:
    wide = _net(WIDE)
    with torch.no_grad():
        wide.decoder[2][1].weight[:, 3] *= 100  # d1 channel 3 matters most
    shrunk = shrink_state_dict(wide, TransformerConfig(channels=(1, 12, 16), residual_blocks=3))
    assert torch.equal(shrunk["decoder.2.1.weight"][:, 0], wide.decoder[2][1].weight[:, 3])


@pytest.mark.parametrize(
    "target",
    [
        TransformerConfig(channels=(8, 12, 32), residual_blocks=2),
        TransformerConfig(channels=(8, 12, 16), residual_blocks=4),
        TransformerConfig(channels=(8, 12, 16), residual_blocks=3, outer_kernel=5),
    ],
)
def test_only_thinner_nets(target: TransformerConfig) -> None:
    assert not can_shrink(WIDE, target)
    with pytest.raises(ValueError):
        shrink_state_dict(_net(WIDE), target)


def test_standard_shrinks_to_light() -> None:
    assert can_shrink(ARCHITECTURES["standard"], ARCHITECTURES["light"])
