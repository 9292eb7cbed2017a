"""Roofline account of the engine: work per frame, the machine's ceilings, where the time goes.

- :func:`conv_macs`: multiply-accumulates per frame of a TransformerNet at a size (convolutions;
  normalization, padding and upsampling add < 0.5% arithmetic), counted on the ``meta`` device.
- :func:`ceilings`: the machine's compute ceiling (a large matmul, fp32 and bf16) and copy
  bandwidth, measured now, in this process: on a shared machine they move with the load.
- :func:`time_shares`: torch.profiler's self time per operator, grouped into convolution,
  normalization, padding, upsampling, copies, colour conversion, activation/residual and other.

    python -m benchmarks.roofline --arch standard --size 360x640
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile, record_function

from realtime_style.runtime.process import configure_process
from realtime_style.cli.argtypes import dimensions
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
from benchmarks.entry import run_as_command

#: The label the profiler run puts around uint8 <-> float conversion (to_tensor, to_frames).
COLOUR = "colour conversion"

#: Operator-name fragments per category, first match wins; anything else is "other".
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("convolution", ("conv",)),
    ("normalization", ("batch_norm", "instance_norm")),
    ("padding", ("pad",)),
    ("upsampling", ("upsample", "interpolate")),
    ("copies", ("copy", "clone", "contiguous", "pixel_shuffle", "pixel_unshuffle", "cat", "slice")),
    ("activation/residual", ("relu", "clamp", "add", "lerp", "mul", "div")),
)
CATEGORY_NAMES = [name for name, _ in CATEGORIES] + [COLOUR, "other"]


def conv_macs(arch: str, height: int, width: int) -> int:
    """Multiply-accumulates of every convolution of one ``height`` x ``width`` frame."""
    with torch.device("meta"):
        net = TransformerNet(ARCHITECTURES[arch])
    total = 0

    def count(module: torch.nn.Conv2d, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += output.numel() * (module.in_channels // module.groups) * kh * kw

    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(count)
    with torch.no_grad():
        net(torch.empty(1, 3, height, width, device="meta"))
    return total


def _best_seconds(fn, repeats: int = 5) -> tuple[float, float]:
    """Best wall-clock and best process-CPU seconds of ``repeats`` calls after a warm-up."""
    fn()
    wall = cpu = float("inf")
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


def ceilings(size: int = 1536) -> dict[str, float]:
    """Matmul GFLOP/s in fp32 and bf16 and copy GB/s (read + write), per wall-clock second and per
    CPU-second (all threads' CPU time summed; on a shared machine the CPU figure moves less)."""
    result = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a = torch.randn(size, size).to(dtype)
        b = torch.randn(size, size).to(dtype)
        wall, cpu = _best_seconds(lambda: torch.mm(a, b))
        result[f"matmul {name} GFLOP/s"] = 2 * size**3 / wall / 1e9
        result[f"matmul {name} GFLOP/CPU-s"] = 2 * size**3 / cpu / 1e9
    src = torch.empty(64 * 2**20, dtype=torch.float32).fill_(1.0)
    dst = torch.empty_like(src)
    wall, _ = _best_seconds(lambda: dst.copy_(src))
    result["copy GB/s"] = 2 * src.numel() * 4 / wall / 1e9
    return result


def category_of(name: str) -> str:
    lowered = name.lower()
    for category, fragments in CATEGORIES:
        if any(fragment in lowered for fragment in fragments):
            return category
    return "other"


def time_shares(engine, frames: np.ndarray, runs: int = 2) -> dict[str, float]:
    """Share of profiled self time per category over ``runs`` calls (after one warm-up call)."""

    def once() -> None:
        with record_function(COLOUR):
            x = engine.to_tensor(frames)
        y = engine.run_tensor(x)
        with record_function(COLOUR):
            engine.to_frames(y)

    with torch.inference_mode():
        once()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(runs):
                once()
    totals: dict[str, float] = defaultdict(float)
    for event in prof.events():
        if event.device_type != torch.autograd.DeviceType.CPU:
            continue
        ancestor, inside_colour = event, False
        while ancestor is not None:
            if ancestor.name == COLOUR:
                inside_colour = True
                break
            ancestor = ancestor.cpu_parent
        totals[COLOUR if inside_colour else category_of(event.name)] += event.self_cpu_time_total
    grand = sum(totals.values()) or 1.0
    return {name: totals.get(name, 0.0) / grand for name in CATEGORY_NAMES}


def main(argv: list[str] | None = None) -> None:
    from realtime_style.runtime.engine import Engine, EngineOptions

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="standard")
    parser.add_argument("--size", type=dimensions(), default="360x640", help="HEIGHTxWIDTH")
    args = parser.parse_args(argv)
    configure_process()  # as rtstyle does: tuned malloc, cuDNN autotuning (the entry point's job)
    height, width = args.size
    print(f"{args.arch} {height}x{width}: {conv_macs(args.arch, height, width) / 1e9:.2f} GMAC/frame")
    for key, value in ceilings().items():
        print(f"{key}: {value:.0f}")
    engine = Engine(TransformerNet(ARCHITECTURES[args.arch]), EngineOptions(device="cpu"))
    frames = np.random.default_rng(0).integers(0, 256, (1, height, width, 3), dtype=np.uint8)
    for name, share in time_shares(engine, frames).items():
        print(f"{name:>20}: {100 * share:5.1f}%")


if __name__ == "__main__":
    run_as_command(main)
