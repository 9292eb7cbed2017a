"""Gatys optimization: time to reach a given total loss at the final size, multi-scale vs single-scale.

Both runs start from the same init (the content image), optimize the same objective at the same
final size and are timed in the same process, one after the other. The targets are the totals the
single-scale run reached after 25 %, 50 % and 100 % of its iterations; for each, the table gives the
seconds each run needed to first get there (the multi-scale clock includes its coarse phase; only
losses measured at the final size count) and the same in "full-size evaluations" (an evaluation at
256 px costs (256/512)² of one at 512 px): a work measure that the load of a shared machine does
not move.

    python -m benchmarks.bench_optimize                      # 512 px, CPU, tubingen + starry_night
    python -m benchmarks.bench_optimize --size 256 --threads 1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from realtime_style.media.images import StillImage, read_image, write_image
from realtime_style.optimize import OptimizeOptions, OptimizeResult, StepRecord, optimize_image
from benchmarks.entry import run_as_command

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass
class Reached:
    target: float
    single_s: float | None
    multi_s: float | None
    single_work: float | None
    multi_work: float | None


def work_curve(history: list[StepRecord], final_size: int) -> list[tuple[float, float, float]]:
    """(seconds, full-size evaluations so far, best final-size total so far) after each evaluation."""
    curve, work, best = [], 0.0, math.inf
    for record in history:
        work += (record.size / final_size) ** 2
        if record.size == final_size:
            best = min(best, record.losses.total)
        curve.append((record.seconds, work, best))
    return curve


def first_reach(curve: list[tuple[float, float, float]], target: float) -> tuple[float | None, float | None]:
    for seconds, work, best in curve:
        if best <= target:
            return seconds, work
    return None, None


def compare(single: OptimizeResult, multi: OptimizeResult, size: int) -> list[Reached]:
    single_curve, multi_curve = work_curve(single.history, size), work_curve(multi.history, size)
    finals = [best for _, _, best in single_curve]
    targets = [finals[max(0, round(len(finals) * share) - 1)] for share in (0.25, 0.5, 1.0)]
    rows = []
    for target in targets:
        s_time, s_work = first_reach(single_curve, target)
        m_time, m_work = first_reach(multi_curve, target)
        rows.append(Reached(target, s_time, m_time, s_work, m_work))
    return rows


def _fmt(value: float | None, digits: int = 0) -> str:
    return "not reached" if value is None else f"{value:.{digits}f}"


def table(rows: list[Reached]) -> str:
    lines = [
        "| target total | single-scale s | multi-scale s | speed-up | single evals | multi evals (full-size equiv.) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        speedup = f"{row.single_s / row.multi_s:.2f}x" if row.single_s and row.multi_s else "-"
        lines.append(
            f"| {row.target:.4g} | {_fmt(row.single_s)} | {_fmt(row.multi_s)} | {speedup} | "
            f"{_fmt(row.single_work, 1)} | {_fmt(row.multi_work, 1)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--content", default=str(SHARED / "content" / "nst_classics" / "tubingen.jpg"))
    parser.add_argument("--style", default=str(SHARED / "styles" / "starry_night.jpg"))
    parser.add_argument("--size", type=int, default=512, help="final long side (default 512)")
    parser.add_argument("--iterations", type=int, default=40, help="single-scale iterations (default 40)")
    parser.add_argument("--coarse-iterations", type=int, default=60, help="multi-scale: iterations at size/2")
    parser.add_argument("--fine-iterations", type=int, default=20, help="multi-scale: iterations at the final size")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", type=Path, default=None, help="write the curves and the table here")
    parser.add_argument("--save", type=Path, default=None, help="save the multi-scale result here (e.g. a .jpg)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    content, style = read_image(args.content).rgb, read_image(args.style).rgb
    base = dict(size=args.size, device=args.device)
    runs = {
        "single": OptimizeOptions(scales=(args.size,), iterations=args.iterations, **base),
        "multi": OptimizeOptions(
            scales=(args.size // 2, args.size), iterations=(args.coarse_iterations, args.fine_iterations), **base
        ),
    }
    results: dict[str, OptimizeResult] = {}
    for name, config in runs.items():
        print(f"{name}: scales {config.schedule()} (size, iterations) on {args.device}, {torch.get_num_threads()} threads", flush=True)
        started = time.perf_counter()
        results[name] = optimize_image(content, style, config)
        result = results[name]
        print(f"  {time.perf_counter() - started:.0f} s, {len(result.history)} evaluations, final {result.losses.describe()}")
        print(f"  saved as 8-bit: total {result.saved_losses.total:.4g} ({result.saved_losses.total / result.losses.total - 1:+.3%})")

    rows = compare(results["single"], results["multi"], args.size)
    print()
    print(table(rows))
    if args.save:
        write_image(args.save, StillImage(rgb=results["multi"].to_uint8()))
    if args.json:
        payload = {
            "args": {k: str(v) for k, v in vars(args).items()},
            "threads": torch.get_num_threads(),
            "rows": [row.__dict__ for row in rows],
            "curves": {
                name: [(r.size, r.iteration, r.seconds, r.losses.total) for r in result.history]
                for name, result in results.items()
            },
        }
        args.json.write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    run_as_command(main)
