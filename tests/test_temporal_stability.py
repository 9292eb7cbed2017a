"""The stability loss of training/stability.py: zero for a motion-equivariant net, positive for a flickery one."""

from __future__ import annotations

import torch
from torch import nn

from realtime_style.training.stability import StabilityOptions, random_affine, stability_loss, transform


class Pointwise(nn.Module):
    """A per-pixel colour map: commutes with any resampling, so only noise can change its output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.0 - x


def photos() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.nn.functional.avg_pool2d(torch.rand(2, 3, 40, 40), 5, 1, 2)


def test_identity_transform_keeps_images() -> None:
    images = photos()
    theta = random_affine(2, 40, 40, StabilityOptions(max_shift=0.0, max_zoom=0.0))
    moved, inside = transform(images, theta)
    torch.testing.assert_close(moved, images, atol=1e-5, rtol=0)
    assert inside.all()


def test_shift_moves_content_by_whole_pixels() -> None:
    images = photos()
    theta = torch.tensor([[[1.0, 0.0, 2 * 3 / 40], [0.0, 1.0, 0.0]]]).repeat(2, 1, 1)  # sample 3 px to the right
    moved, inside = transform(images, theta)
    torch.testing.assert_close(moved[..., :-3], images[..., 3:], atol=1e-5, rtol=0)
    assert not inside[..., -2:].any() and inside[..., :-3].all()


def test_loss_is_zero_for_an_equivariant_net_without_noise() -> None:
    net, images = Pointwise(), photos()
    config = StabilityOptions(noise_std=0.0, max_shift=2.0, max_zoom=0.02)
    loss = stability_loss(net, images, net(images), config, torch.Generator().manual_seed(1))
    assert loss.item() < 1e-8


def test_loss_is_positive_and_differentiable_for_a_conv_net() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1), nn.Sigmoid())
    images = photos()
    loss = stability_loss(net, images, net(images), StabilityOptions(), torch.Generator().manual_seed(2))
    assert loss.item() > 0
    loss.backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_optimizer_step_adds_the_weighted_stability_term() -> None:
    from realtime_style.training.loss import DistillationLoss
    from realtime_style.training.train import optimizer_step

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Sigmoid())
    loss = DistillationLoss(Pointwise())
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    terms = optimizer_step(net, loss, optimizer, scaler, photos(), None, stability_weight=5.0)
    assert terms["stability"].item() > 0
    torch.testing.assert_close(terms["total"], terms["distill"] + terms["stability"])
    assert "stability" not in optimizer_step(net, loss, optimizer, scaler, photos(), None)


def test_stability_weight_option_reaches_the_recipe(tmp_path) -> None:
    import argparse

    from PIL import Image

    from realtime_style.training.cli import add_train_arguments, config_from_args

    style = tmp_path / "style.png"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(style)
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    argv = ["--style-image", str(style), "--dataset", str(tmp_path), "--out", str(tmp_path / "m.safetensors")]
    args = parser.parse_args([*argv, "--stability-weight", "2.5"])
    config, _ = config_from_args(args)
    assert config.weights.stability_weight == 2.5 and config.weights.to_dict()["stability_weight"] == 2.5
