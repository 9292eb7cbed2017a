"""Training throughput: optimizer steps per second at 128² and 256², fp32 against bf16/fp16 autocast (same run).

Each cell times the real training step of ``training.train.optimizer_step`` (content targets, transform
net, VGG19 perceptual loss, backward, Adam) on random photos, after warm-up steps; fp32 is the baseline
measured in the same process, so the speed-up column holds on a noisy shared machine too.

    python -m benchmarks.bench_training --sizes 128 256 --steps 5 --arch standard --batch-size 4
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from realtime_style.runtime.engine import select_device
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
from training.loss import LossWeights, PerceptualLoss
from training.train import autocast_dtype, optimizer_step


def steps_per_second(
    arch: str, size: int, batch: int, amp_dtype: torch.dtype | None, steps: int, warmup: int, device: torch.device
) -> float:
    """Median-free simple mean: ``steps`` timed steps after ``warmup`` untimed ones."""
    torch.manual_seed(0)
    net = TransformerNet(ARCHITECTURES[arch]).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    loss = PerceptualLoss(torch.rand(3, 384, 512), LossWeights(), device)
    photos = torch.rand(batch, 3, size, size, device=device)
    channels_last = device.type == "cuda"
    for _ in range(warmup):
        optimizer_step(net, loss, optimizer, scaler, photos, amp_dtype, channels_last)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        optimizer_step(net, loss, optimizer, scaler, photos, amp_dtype, channels_last)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="standard")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)

    device = select_device(args.device)
    fast = autocast_dtype(device, "auto") or (torch.bfloat16 if device.type == "cpu" else torch.float16)
    fast_name = str(fast).replace("torch.", "")
    threads = torch.get_num_threads() if device.type == "cpu" else "-"
    if not args.json:
        print(f"training steps/s, {args.arch} net, batch {args.batch_size}, {device} (threads {threads})")
        print(f"{'size':>6} {'fp32 it/s':>10} {fast_name + ' it/s':>14} {'s/it (' + fast_name + ')':>14} {'speed-up':>9}")
    rows = []
    for size in args.sizes:
        base = steps_per_second(args.arch, size, args.batch_size, None, args.steps, args.warmup, device)
        quick = steps_per_second(args.arch, size, args.batch_size, fast, args.steps, args.warmup, device)
        rows.append({"size": size, "fp32_it_s": base, f"{fast_name}_it_s": quick, "speedup": quick / base})
        if not args.json:  # row by row: a slow machine still shows the sizes done so far
            print(f"{size:>5}² {base:>10.3f} {quick:>14.3f} {1 / quick:>14.2f} {quick / base:>8.2f}x", flush=True)
    if args.json:
        print(json.dumps({"device": str(device), "arch": args.arch, "batch": args.batch_size, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
