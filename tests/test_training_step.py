"""The fast training step (training/step_options.py) computes today's losses and gradients, only faster."""

from __future__ import annotations

import pytest
import torch

from realtime_style.losses import gram_matrix
from realtime_style.models.transformer import ARCHITECTURES, InstanceNorm, TransformerNet
from realtime_style.training.loss import LossWeights, PerceptualLoss
from realtime_style.training.step_options import StepOptions, apply_step_options, keep_adam_fused, make_adam, output_conv
from realtime_style.training.train import optimizer_step

#: Float32 summation order differs between memory layouts; the terms agree to this relative tolerance.
LOSS_RTOL = 1e-4
#: Gradient differences relative to the norm of the whole net's gradient (measured: ~1e-6). Not per parameter:
#: a conv bias followed by InstanceNorm has a true gradient of zero, so its computed one is rounding noise.
GRAD_RTOL = 1e-5


def one_step(options: StepOptions, amp_dtype: torch.dtype | None) -> tuple[dict[str, torch.Tensor], TransformerNet]:
    """One optimizer step of a seeded light net on fixed photos; the net keeps its gradients."""
    torch.manual_seed(0)
    style, photos = torch.rand(3, 48, 64), torch.rand(2, 3, 48, 48)
    net = TransformerNet(ARCHITECTURES["light"])
    loss = PerceptualLoss(style, LossWeights(content_layer="relu4_2", style_weight=5.0, tv_weight=1.0), torch.device("cpu"))
    apply_step_options(options, net, loss, amp_dtype)
    optimizer = make_adam(net, 1e-3, options)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    terms = optimizer_step(net, loss, optimizer, scaler, photos, amp_dtype)
    return {k: v.detach().float() for k, v in terms.items()}, net


@pytest.mark.parametrize(
    "options",
    [StepOptions.fast(torch.device("cpu"), None), StepOptions(output_conv_channels_last=True), StepOptions(vgg_channels_last=True)],
    ids=["fast-fp32", "output-conv-only", "vgg-only"],
)
def test_fp32_fast_step_matches_todays_losses_and_gradients(options):
    torch.set_num_threads(1)
    plain_terms, plain_net = one_step(StepOptions.plain(), None)
    fast_terms, fast_net = one_step(options, None)
    assert plain_terms.keys() == fast_terms.keys()
    for key in plain_terms:
        torch.testing.assert_close(fast_terms[key], plain_terms[key], rtol=LOSS_RTOL, atol=0)
    scale = float(torch.cat([p.grad.flatten() for p in plain_net.parameters()]).norm())
    for (name, a), b in zip(plain_net.named_parameters(), fast_net.parameters()):
        assert float((a.grad - b.grad).norm()) <= GRAD_RTOL * scale, name


def test_bf16_fast_step_matches_todays_losses():
    """Under bf16 autocast the VGG held in bf16 and the Gram without a float32 round trip give autocast's numbers."""
    torch.set_num_threads(1)
    plain_terms, _ = one_step(StepOptions.plain(), torch.bfloat16)
    fast_terms, _ = one_step(StepOptions.fast(torch.device("cpu"), torch.bfloat16), torch.bfloat16)
    for key in plain_terms:
        torch.testing.assert_close(fast_terms[key], plain_terms[key], rtol=1e-2, atol=0)


def test_bf16_norm_without_the_float32_copy_is_as_close_to_float32():
    """InstanceNorm on bf16 maps (float32 accumulation in the kernel) is as close to the float32 step as the copy."""
    torch.set_num_threads(1)

    def gradient(net: TransformerNet) -> torch.Tensor:
        return torch.cat([p.grad.flatten() for p in net.parameters()])

    _, float32_net = one_step(StepOptions.plain(), None)
    upcast_terms, upcast_net = one_step(StepOptions.plain(), torch.bfloat16)
    direct_terms, direct_net = one_step(StepOptions(norm_in_autocast_dtype=True), torch.bfloat16)
    assert not any(m.upcast for m in direct_net.modules() if isinstance(m, InstanceNorm))
    for key in upcast_terms:
        torch.testing.assert_close(direct_terms[key], upcast_terms[key], rtol=1e-2, atol=0)
    reference = gradient(float32_net)
    upcast_error = float((gradient(upcast_net) - reference).norm() / reference.norm())
    direct_error = float((gradient(direct_net) - reference).norm() / reference.norm())
    assert direct_error <= 1.5 * upcast_error, (direct_error, upcast_error)


def test_only_bf16_on_the_cpu_skips_the_norms_float32_copy():
    assert StepOptions.fast(torch.device("cpu"), torch.bfloat16).norm_in_autocast_dtype
    assert not StepOptions.fast(torch.device("cpu"), None).norm_in_autocast_dtype
    assert not StepOptions.fast(torch.device("cuda"), torch.float16).norm_in_autocast_dtype


def test_the_fast_step_leaves_the_nets_saved_state_as_it_was():
    """A checkpoint of the fast step loads into the plain one and back: parameters keep their layout."""
    torch.manual_seed(0)
    net = TransformerNet(ARCHITECTURES["light"])
    before = {k: v.clone() for k, v in net.state_dict().items()}
    loss = PerceptualLoss(torch.rand(3, 32, 32), LossWeights(), torch.device("cpu"))
    apply_step_options(StepOptions.fast(torch.device("cpu"), None), net, loss, None)
    after = net.state_dict()
    assert after.keys() == before.keys()
    for key, value in after.items():
        assert value.is_contiguous() and torch.equal(value, before[key]), key
    assert output_conv(net) is net.decoder[-1][1]


def test_channels_last_gram_equals_the_plain_gram():
    torch.manual_seed(0)
    features = torch.rand(2, 16, 9, 7)
    torch.testing.assert_close(gram_matrix(features.contiguous(memory_format=torch.channels_last)), gram_matrix(features))


def test_adam_stays_fused_after_loading_a_checkpoint_of_the_plain_step():
    net = TransformerNet(ARCHITECTURES["light"])
    plain = make_adam(net, 1e-3, StepOptions.plain())
    fast_options = StepOptions.fast(torch.device("cpu"), None)
    fast = make_adam(net, 1e-3, fast_options)
    fast.load_state_dict(plain.state_dict())
    keep_adam_fused(fast, fast_options)
    assert all(group["fused"] for group in fast.param_groups)


def test_fused_adam_updates_as_the_plain_one():
    torch.manual_seed(0)
    nets = [TransformerNet(ARCHITECTURES["light"]) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    optimizers = [make_adam(nets[0], 1e-3, StepOptions.plain()), make_adam(nets[1], 1e-3, StepOptions(fused_adam=True))]
    for _ in range(3):
        for a, b in zip(*(net.parameters() for net in nets)):
            a.grad = torch.randn_like(a)
            b.grad = a.grad.clone()
        for optimizer in optimizers:
            optimizer.step()
    for a, b in zip(*(net.parameters() for net in nets)):
        torch.testing.assert_close(b.detach(), a.detach(), rtol=1e-6, atol=1e-7)


def test_the_fast_step_keeps_channels_last_off_under_bf16_on_amx_only(monkeypatch):
    """Channels-last measured 1.11x for the bf16 step on Zen 4 (no AMX) and neutral to slower on the AMX Xeon."""
    from realtime_style.training import step_options

    cpu = torch.device("cpu")
    for flags, expected in ((frozenset({"avx512_bf16", "amx_bf16"}), False), (frozenset({"avx512_bf16"}), True)):
        monkeypatch.setattr(step_options, "cpu_flags", lambda flags=flags: flags)
        bf16 = StepOptions.fast(cpu, torch.bfloat16)
        assert bf16.vgg_channels_last is expected and bf16.output_conv_channels_last is expected
        assert StepOptions.fast(cpu, None).vgg_channels_last  # fp32 CPUs: on everywhere
    assert not StepOptions.fast(torch.device("cuda"), torch.float16).vgg_channels_last
