"""What a compact checkpoint costs a resumed run: exact resume against float16/bfloat16 state and a restarted Adam.

Trains ``--first`` steps, then continues ``--then`` steps four ways from the same step, on the same batches
(the data position is a function of the step): from the full checkpoint (exact), from a compact copy with
bfloat16 moments, and from one without optimizer state, with and without the learning-rate ramp. Reports
the mean loss over the continued steps and over their first tenth (where a restart would show), as
ratios to the exact resume.

    python -m benchmarks.bench_resume --dataset ../shared/data/content --style-image ../shared/data/styles/mosaic.jpg
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from realtime_style.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from realtime_style.training.compact import compact_state
from realtime_style.training.config import Phase, TrainOptions
from realtime_style.training.loss import LossWeights
from realtime_style.training.train import train
from benchmarks.entry import run_as_command


def _losses(run_dir: Path) -> list[float]:
    return [json.loads(line)["total"] for line in (run_dir / "log.jsonl").read_text().splitlines()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--style-image", required=True)
    parser.add_argument("--arch", default="light")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--first", type=int, default=150)
    parser.add_argument("--then", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    work = Path(tempfile.mkdtemp(prefix="bench_resume_"))
    total = args.first + args.then
    base = TrainOptions(
        style_image=args.style_image, dataset=args.dataset, out=str(work / "first.safetensors"),
        run_dir=str(work / "first"), exclude=("bsds500/val_*",), arch=args.arch,
        schedule=(Phase(args.size, args.first),), scale_size=int(args.size * 4 / 3), lr=1e-3,
        lr_schedule="constant", weights=LossWeights(content_layer="relu4_2", style_weight=5.0),
        checkpoint_every=args.first, log_every=1, workers=1, progress=False,
    )
    train(base)
    full = work / "first" / CHECKPOINT_NAME
    state = load_checkpoint(full)
    sources = {
        "exact (full checkpoint)": full,
        "float16 weights, bfloat16 moments": save_checkpoint(work / "moments.pt", compact_state(state, True)),
        f"no optimizer state, {args.warmup}-step ramp": save_checkpoint(work / "ramp.pt", compact_state(state, False, args.warmup)),
        "no optimizer state, no ramp": save_checkpoint(work / "bare.pt", compact_state(state, False, 0)),
    }
    longer = replace(base, schedule=(Phase(args.size, total),))
    results = {}
    for index, (name, source) in enumerate(sources.items()):
        run = replace(longer, run_dir=str(work / f"run{index}"), out=str(work / f"run{index}.safetensors"))
        train(run, resume=str(source))
        results[name] = (_losses(work / f"run{index}"), source.stat().st_size / 1e6)

    exact = results["exact (full checkpoint)"][0]
    early = max(1, args.then // 10)
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    print(f"{args.arch} net, {args.size}² crops, batch {base.batch_size}: {args.first} steps, then {args.then} more "
          f"four ways ({torch.get_num_threads()} thread(s))")
    print(f"{'resumed from':42} {'file MB':>8} {'mean loss':>10} {'vs exact':>9} {'first ' + str(early):>9} {'vs exact':>9}")
    for name, (losses, size) in results.items():
        print(f"{name:42} {size:8.1f} {mean(losses):10.4f} {mean(losses) / mean(exact):9.3f} "
              f"{mean(losses[:early]):9.4f} {mean(losses[:early]) / mean(exact[:early]):9.3f}")
    return 0


if __name__ == "__main__":
    run_as_command(main)
