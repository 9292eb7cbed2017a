"""Engine fast paths: each one on its own against the plain fp32 path, with stated tolerances.

Tolerances (uint8 output levels, random-weight `light` nets, whose outputs are rougher than a
trained model's): a float32 rewrite (phase-split conv, fused conversions, channels_last) changes no
level by more than 1; bf16 paths stay within a mean of 1.5 levels and a max of 32 levels of fp32.
"""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from realtime_style.runtime import allocator
from realtime_style.runtime.allocator import tune_glibc_malloc
from realtime_style.runtime.color import Look, preserve_color
from realtime_style.runtime.engine import Engine, EngineOptions, cpu_has_fast_bf16
from realtime_style.models.inference import FoldedUpsampleConv, PhaseSplitConv, prepare_for_inference
from realtime_style.models.transformer import ARCHITECTURES, InstanceNorm, TransformerNet

PLAIN = dict(device="cpu", precision="fp32", fast_norm=False, split_output_conv=False, fold_upsample=False)


@pytest.fixture(scope="module")
def net() -> TransformerNet:
    torch.manual_seed(0)
    return TransformerNet(ARCHITECTURES["light"]).eval()


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    smooth = F.interpolate(torch.from_numpy(rng.random((2, 3, 10, 13), np.float32)), size=(45, 62), mode="bicubic")
    return (smooth.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


@pytest.fixture(scope="module")
def plain(net: TransformerNet, images: np.ndarray) -> np.ndarray:
    return Engine(net, EngineOptions(**PLAIN)).stylize(images)


def level_error(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return float(diff.mean()), int(diff.max())


@pytest.mark.parametrize("kernel, size", [(9, (40, 52)), (9, (37, 51)), (3, (10, 11)), (5, (8, 9))])
def test_phase_split_conv_is_the_same_convolution(kernel: int, size: tuple[int, int]) -> None:
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(6, 3, kernel)
    x = torch.randn(2, 6, *size)
    with torch.no_grad():
        assert torch.allclose(PhaseSplitConv(conv)(x), conv(x), atol=1e-5)


def test_inference_copy_leaves_the_trained_net_alone(net: TransformerNet) -> None:
    keys = {k: v.shape for k, v in net.state_dict().items()}
    fast = prepare_for_inference(net)
    assert {k: v.shape for k, v in net.state_dict().items()} == keys
    assert all(m.upcast for m in net.modules() if isinstance(m, InstanceNorm))
    assert not any(m.upcast for m in fast.modules() if isinstance(m, InstanceNorm))
    assert isinstance(fast.decoder[-1][1], PhaseSplitConv) and not isinstance(net.decoder[-1][1], PhaseSplitConv)


@pytest.mark.parametrize(
    "option",
    [
        dict(split_output_conv=True),
        dict(fold_upsample=True),
        dict(channels_last=True),
    ],
)
def test_float32_fast_paths_match_the_plain_path(net, images, plain, option) -> None:
    out = Engine(net, EngineOptions(**{**PLAIN, **option})).stylize(images)
    assert out.shape == images.shape
    assert level_error(out, plain)[1] <= 1


@pytest.mark.parametrize("option", [dict(fast_norm=False), dict(fast_norm=True), dict()])
def test_bf16_paths_stay_close_to_fp32(net, images, plain, option) -> None:
    out = Engine(net, EngineOptions(**{**PLAIN, "precision": "bf16", **option})).stylize(images)
    mean, worst = level_error(out, plain)
    assert mean < 1.5 and worst <= 32


def test_fast_norm_is_as_accurate_as_the_fp32_round_trip(net, images, plain) -> None:
    bf16 = {**PLAIN, "precision": "bf16"}
    upcast = level_error(Engine(net, EngineOptions(**bf16)).stylize(images), plain)[0]
    direct = level_error(Engine(net, EngineOptions(**{**bf16, "fast_norm": True})).stylize(images), plain)[0]
    assert direct < 1.5 * upcast + 0.1


def test_default_path_matches_plain_fp32(net, images, plain) -> None:
    engine = Engine(net, EngineOptions(device="cpu"))
    assert engine.fast_norm and engine.split_output_conv
    assert engine.dtype == (torch.bfloat16 if cpu_has_fast_bf16() else torch.float32)
    mean, worst = level_error(engine.stylize(images), plain)
    assert mean < 1.5 and worst <= 32
    assert "split-conv" in engine.describe()


def test_fused_conversions_round_trip_exactly(net, images) -> None:
    engine = Engine(net, EngineOptions(**PLAIN))
    x = engine.to_tensor(images)
    assert x.shape == (2, 3, 45, 62) and x.dtype == torch.float32 and x.is_contiguous()
    assert torch.equal(x, torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255)
    assert np.array_equal(engine.to_frames(x), images)
    assert np.array_equal(engine.to_frames(torch.full((1, 3, 2, 2), 1.7)), np.full((1, 2, 2, 3), 255, np.uint8))


def test_strength_zero_returns_the_input_and_leaves_it_untouched(net, images) -> None:
    engine = Engine(net, EngineOptions(device="cpu"))
    original = Look(strength=0.0)
    assert np.array_equal(engine.stylize(images, original), images)
    x = engine.to_tensor(images)
    before = x.clone()
    engine.run_tensor(x, original)
    assert torch.equal(x, before)


@pytest.mark.parametrize("strength, keep_colour", [(1.0, True), (0.3, False), (0.6, True)])
def test_the_look_given_with_the_frames_is_the_blend_computed_by_hand(net, images, strength, keep_colour) -> None:
    """Strength and colour preservation travel with each call: the engine's output is the hand-made blend
    of its full-style output and the input, and a later plain call is unaffected (nothing was stored)."""
    engine = Engine(net, EngineOptions(**PLAIN, backend="torch"))
    x = engine.to_tensor(images)
    with torch.inference_mode():
        styled = engine.net(x)  # the net's own output, before any look or clamping
    difference = styled - x
    luminance_kept = x + (0.299 * difference[:, :1] + 0.587 * difference[:, 1:2] + 0.114 * difference[:, 2:])
    shown = luminance_kept if keep_colour else styled
    by_hand = engine.to_frames((x + strength * (shown - x)).clamp(0, 1))
    before = engine.stylize(images)
    out = engine.stylize(images, Look(strength, keep_colour))
    assert level_error(out, by_hand)[1] <= 1
    assert np.array_equal(engine.stylize(images), before)
    assert torch.allclose(preserve_color(styled, x), luminance_kept, atol=1e-6)


def test_a_look_outside_0_to_1_is_refused() -> None:
    with pytest.raises(ValueError, match="strength must be between 0 and 1"):
        Look(strength=1.5)


def test_making_an_engine_changes_no_process_wide_setting(net, monkeypatch) -> None:
    """Threads, malloc and cuDNN are the entry point's (configure_process): an engine never touches them."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("an engine changed a process-wide setting")

    monkeypatch.setattr(torch, "set_num_threads", refuse)
    monkeypatch.setattr(allocator, "tune_glibc_malloc", refuse)
    monkeypatch.setattr(allocator, "_set_glibc_thresholds", refuse)
    threads, benchmark, tuned = torch.get_num_threads(), torch.backends.cudnn.benchmark, allocator.malloc_tuned()
    for options in (EngineOptions(device="cpu"), EngineOptions(**PLAIN), EngineOptions(device="cpu", backend="torch")):
        engine = Engine(net, options)
        engine.stylize(np.zeros((1, 8, 8, 3), np.uint8))
        engine.describe()
    assert (torch.get_num_threads(), torch.backends.cudnn.benchmark, allocator.malloc_tuned()) == (threads, benchmark, tuned)


def test_folded_upsample_equals_upsample_then_conv(net) -> None:
    """Odd sizes and non-trivial norms: the folded decoder step (and its transposed-convolution form for export)
    is the same function, to float32 rounding."""
    torch.manual_seed(1)
    step = copy.deepcopy(net.decoder[0]).requires_grad_(False)
    with torch.no_grad():
        step.conv[1].weight.uniform_(0.5, 1.5)
        step.conv[1].bias.uniform_(-0.2, 0.2)
    x = torch.randn(2, step.conv[0][1].in_channels, 7, 11)
    transposed = FoldedUpsampleConv(step)
    transposed.use_transposed_conv()
    with torch.inference_mode():
        expected, folded, as_transposed = step(x), FoldedUpsampleConv(step)(x), transposed(x)
    assert folded.shape == as_transposed.shape == expected.shape == (2, step.conv[0][1].out_channels, 14, 22)
    torch.testing.assert_close(folded, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(as_transposed, expected, atol=1e-5, rtol=1e-5)
    fast = prepare_for_inference(net, fold_upsample=True)
    assert [type(m) for m in fast.decoder[:2]] == [FoldedUpsampleConv] * 2 and type(net.decoder[0]) is not FoldedUpsampleConv


def test_allocator_tuning_reports_whether_it_applied() -> None:
    import platform

    expected = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert tune_glibc_malloc() is expected


def test_set_model_keeps_the_fast_paths(net, images, plain) -> None:
    engine = Engine(TransformerNet(ARCHITECTURES["light"]), EngineOptions(**{**PLAIN, "split_output_conv": True}))
    engine.set_model(net)
    assert isinstance(engine.net.decoder[-1][1], PhaseSplitConv)
    assert level_error(engine.stylize(images), plain)[1] <= 1


def test_compiled_graph_matches_eager(net, images, plain) -> None:
    """torch.compile traces the inference net (incl. the phase-split conv) into one graph; the
    aot_eager backend checks the tracing in seconds, without inductor's C++ code generation."""
    engine = Engine(net, EngineOptions(**{**PLAIN, "compile": True, "compile_backend": "aot_eager"}))
    assert level_error(engine.stylize(images[:1]), plain[:1])[1] <= 1


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("RTSTYLE_TEST_INDUCTOR"), reason="set RTSTYLE_TEST_INDUCTOR=1 (minutes on 2 cores)")
def test_inductor_compiled_path_matches_eager(net, images, plain) -> None:
    out = Engine(net, EngineOptions(**{**PLAIN, "compile": True})).stylize(images[:1])
    assert level_error(out, plain[:1])[1] <= 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("option", [dict(), dict(channels_last=False, pinned_buffers=False)])
def test_cuda_fp16_matches_fp32(net, images, plain, option) -> None:
    engine = Engine(net, EngineOptions(device="cuda", precision="fp16", **option))
    mean, worst = level_error(engine.stylize(images), plain)
    assert mean < 1.5 and worst <= 32
    # reused staging buffers must not leak one batch into the next
    assert np.array_equal(engine.stylize(images[::-1]), engine.stylize(images)[::-1])


def test_speed_flags_map_to_engine_and_process_options() -> None:
    import argparse

    from realtime_style.cli.speed import add_speed_arguments, process_options, speed_options
    from realtime_style.runtime.process import ProcessOptions

    parser = argparse.ArgumentParser()
    add_speed_arguments(parser)
    assert speed_options(parser.parse_args([])) == {}
    assert process_options(parser.parse_args([])) == ProcessOptions()
    flags = ["--no-fast-norm", "--no-split-conv", "--no-tune-allocator", "--no-cudnn-benchmark", "--threads", "1"]
    args = parser.parse_args(flags)
    options = EngineOptions(device="cpu", **speed_options(args))
    assert (options.fast_norm, options.split_output_conv) == (False, False)
    assert process_options(args) == ProcessOptions(threads=1, tune_allocator=False, cudnn_benchmark=False)
    with pytest.raises(SystemExit):
        parser.parse_args(["--threads", "0"])


def test_speed_flags_reach_the_engine_from_the_command_line(random_model_file, tmp_path) -> None:
    """`rtstyle still --no-fast-norm --no-split-conv --threads N` builds an engine with those paths off
    and sets the process up with N threads."""
    import argparse

    from realtime_style.cli import build_parser
    from realtime_style.cli.common import stylizer_from_args
    from realtime_style.cli.speed import process_options

    threads = torch.get_num_threads()  # the option is process-wide: keep the suite's setting
    args = build_parser().parse_args(
        ["still", "in.jpg", "out.jpg", "--style", str(random_model_file), "--no-fast-norm", "--no-split-conv", "--threads", str(threads)]
    )
    assert isinstance(args, argparse.Namespace)
    options = stylizer_from_args(args).engine.options
    assert options.fast_norm is False and options.split_output_conv is False
    assert process_options(args).threads == threads
    default = stylizer_from_args(build_parser().parse_args(["still", "in.jpg", "out.jpg", "--style", str(random_model_file)]))
    assert default.engine.options.fast_norm is not False
