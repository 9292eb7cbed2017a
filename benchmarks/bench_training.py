"""Training step time: today's step against the fast one (training/step_options.py + tuned malloc), same run.

Each cell times the real training step of ``realtime_style.training.train.optimizer_step`` (content targets, transform
net, VGG19 perceptual loss, backward, Adam) on random photos, after warm-up steps, at the precision the
trainer picks (``--precision auto``: bf16 autocast on CPUs with native bf16, else fp32). The two steps
alternate step by step, so a noisy shared machine slows both alike; the table gives medians of wall time
and of this process's CPU time (the steadier figure where other processes compete for the cores).

The baseline runs with glibc's malloc thresholds at the most favourable values glibc reaches by itself
(``untune_glibc_malloc``), the fast step with the trainer's tuning; the setting is switched per step.

    python -m benchmarks.bench_training --sizes 256 --steps 4 --arch standard --batch-size 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
from realtime_style.runtime.allocator import tune_glibc_malloc, untune_glibc_malloc
from realtime_style.runtime.engine import select_device
from realtime_style.training.loss import LossWeights, PerceptualLoss
from realtime_style.runtime.backends.choices import cpu_label
from realtime_style.training.step_options import StepOptions, apply_step_options, make_adam
from realtime_style.training.train import autocast_dtype, optimizer_step
from benchmarks.entry import run_as_command


def make_step(
    arch: str, size: int, batch: int, amp_dtype: torch.dtype | None, options: StepOptions, device: torch.device
) -> Callable[[], None]:
    """One training setup (net, Adam, loss) and a function that runs one optimizer step on it."""
    torch.manual_seed(0)
    net = TransformerNet(ARCHITECTURES[arch]).to(device)
    optimizer = make_adam(net, 1e-3, options)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    loss = PerceptualLoss(torch.rand(3, 384, 512), LossWeights(content_layer="relu4_2", style_weight=5.0), device)
    apply_step_options(options, net, loss, amp_dtype)
    photos = torch.rand(batch, 3, size, size, device=device)
    channels_last = device.type == "cuda"

    def step() -> None:
        optimizer_step(net, loss, optimizer, scaler, photos, amp_dtype, channels_last)
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step


def time_alternately(steps: dict[str, tuple[Callable[[], None], Callable[[], object]]], rounds: int, warmup: int) -> dict:
    """Median wall and CPU seconds per step of each named (step, setup) pair, run in turns."""
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in steps}
    for round_index in range(warmup + rounds):
        for name, (step, setup) in steps.items():
            setup()
            wall, cpu = time.perf_counter(), time.process_time()
            step()
            if round_index >= warmup:
                times[name][0].append(time.perf_counter() - wall)
                times[name][1].append(time.process_time() - cpu)
    return {name: {"wall_s": statistics.median(w), "cpu_s": statistics.median(c)} for name, (w, c) in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="standard")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=4, help="timed steps of each kind (alternating)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)

    device = select_device(args.device)
    amp_dtype = autocast_dtype(device, args.precision)
    precision = str(amp_dtype).replace("torch.", "") if amp_dtype else "fp32"
    threads = torch.get_num_threads() if device.type == "cpu" else "-"
    where = cpu_label() if device.type == "cpu" else torch.cuda.get_device_name(device)
    if not args.json:
        print(f"training step, {args.arch} net, batch {args.batch_size}, {precision}, {device} (threads {threads}): {where}")
        print(f"{'size':>6} {'today s/it':>11} {'fast s/it':>10} {'speed-up':>9} {'today cpu-s':>12} {'fast cpu-s':>11} {'cpu ratio':>10}")
    rows = []
    for size in args.sizes:
        steps = {
            "today": (make_step(args.arch, size, args.batch_size, amp_dtype, StepOptions.plain(), device), untune_glibc_malloc),
            "fast": (make_step(args.arch, size, args.batch_size, amp_dtype, StepOptions.fast(device, amp_dtype), device), tune_glibc_malloc),
        }
        result = time_alternately(steps, args.steps, args.warmup)
        today, fast = result["today"], result["fast"]
        row = {"size": size, "today": today, "fast": fast,
               "speedup_wall": today["wall_s"] / fast["wall_s"], "speedup_cpu": today["cpu_s"] / fast["cpu_s"]}
        rows.append(row)
        if not args.json:  # row by row: a slow machine still shows the sizes done so far
            print(f"{size:>5}² {today['wall_s']:>11.2f} {fast['wall_s']:>10.2f} {row['speedup_wall']:>8.2f}x "
                  f"{today['cpu_s']:>12.2f} {fast['cpu_s']:>11.2f} {row['speedup_cpu']:>9.2f}x", flush=True)
    if args.json:
        print(json.dumps({"device": str(device), "cpu": where, "threads": threads, "precision": precision,
                          "arch": args.arch, "batch": args.batch_size, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    run_as_command(main)
