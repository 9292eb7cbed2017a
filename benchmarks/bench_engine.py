"""The engine's default path against a plain fp32, batch-1, eager baseline, in one run.

For each model size and frame size it prints ms/frame and fps of both paths and their ratio
(wall clock, and CPU time, which moves less when other jobs share the machine), then a roofline
account: multiply-accumulates per frame, achieved GFLOP/s against the machine's measured matmul
ceiling, and the share of time per kind of operator (torch.profiler).

The glibc allocator tuning is process-wide, so the paths run in two worker processes -- one that
never tunes its allocator (the baseline, and ablations without tuning), one that does -- and
the parent alternates requests between them round by round, so machine noise hits both alike.
Medians over rounds are reported. At 360x640 the full run adds ablations: each fast path off,
fp32 with the fast paths, and batches.

    python -m benchmarks.bench_engine            # full run (about 5-10 min on 2 cores)
    python -m benchmarks.bench_engine --quick    # 256x256 and 360x640 only, fewer rounds
    python -m benchmarks.bench_engine --backends --quick   # torch, torch.compile, OpenVINO, ONNX Runtime
    python -m benchmarks.bench_engine --backends --no-compile --sizes 360x640 --threads-list 1

``--backends`` compares the CPU backends instead (see :mod:`benchmarks.backend_variants`): at 256x256,
360x640 and 720x1280, 1 and 2 threads, each net; ms/frame and the speed-up over today's engine, and
at 360x640 each backend's 8-bit difference from the engine's output.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

# As the `rtstyle` command does (realtime_style/cli/__init__.py): sleeping OpenMP waits, so a 2-thread torch row
# measures torch, not threads spinning for a core another process holds. Set before torch loads; the spawned
# workers inherit it. OMP_WAIT_POLICY=ACTIVE in the environment measures spinning.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.backend_variants import BACKEND_SIZES, BACKEND_VARIANTS, attach_runner, backends_table
from benchmarks.roofline import CATEGORY_NAMES, ceilings, conv_macs, time_shares
from realtime_style.cli.argtypes import dimensions
from realtime_style.runtime.backends.choices import cpu_label
from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.runtime.process import ProcessOptions, configure_process
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
from benchmarks.entry import run_as_command

SIZES = ((256, 256), (360, 640), (720, 1280), (1080, 1920))
QUICK_SIZES = ((256, 256), (360, 640))
ABLATION_SIZE = (360, 640)

#: The plain path: fp32 weights and activations, eager, batch 1, none of the fast paths.
BASELINE = dict(device="cpu", precision="fp32", fast_norm=False, split_output_conv=False, tune_allocator=False)
DEFAULT = dict(device="cpu")
#: Variant keys that are not EngineOptions fields: the backend runner (benchmarks.backend_variants), and the
#: process's settings, which pick the worker (tune_allocator) or are set per request (threads).
NOT_ENGINE = ("runner", "threads", "tune_allocator")


@dataclass(frozen=True)
class Variant:
    """One way of running the engine: a label, EngineOptions fields (and :data:`NOT_ENGINE` keys), frames per call."""

    label: str
    options: dict
    batch: int = 1

    @property
    def tunes_allocator(self) -> bool:
        return self.options.get("tune_allocator", ProcessOptions().tune_allocator)


def ablations() -> list[Variant]:
    """At 360x640: every fast path switched off in turn, fp32 with fast paths, and batches."""
    return [
        Variant("default, batch 4", DEFAULT, 4),
        Variant("default, fast_norm off", {**DEFAULT, "fast_norm": False}),
        Variant("default, split_output_conv off", {**DEFAULT, "split_output_conv": False}),
        Variant("default, tune_allocator off", {**DEFAULT, "tune_allocator": False}),
        Variant("bf16 only (no other fast path)", {**BASELINE, "precision": "bf16"}),
        Variant("fp32 with fast paths", {**DEFAULT, "precision": "fp32"}),
        Variant("fp32 with fast paths, batch 4", {**DEFAULT, "precision": "fp32"}, 4),
    ]


@dataclass
class Timing:
    """Per-call wall and CPU seconds of one variant at one size, over all rounds."""

    variant: Variant
    first_call_s: float = 0.0
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def ms_per_frame(self, which: str = "wall") -> float:
        return 1000 * statistics.median(getattr(self, which)) / self.variant.batch


def frames_for(batch: int, height: int, width: int) -> np.ndarray:
    """Smooth random uint8 frames (speed does not depend on content; this is only realistic)."""
    rng = np.random.default_rng(height * 7 + width)
    low = torch.from_numpy(rng.random((batch, 3, max(2, height // 16), max(2, width // 16)), np.float32))
    up = torch.nn.functional.interpolate(low, size=(height, width), mode="bilinear", align_corners=False)
    return (up * 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def worker(conn, process: ProcessOptions) -> None:
    """Serve timing and profiling requests; keeps one engine per (arch, options). The process's entry point."""
    configure_process(process)
    engines: dict[str, Engine] = {}

    def engine_for(arch: str, options: dict) -> Engine:
        key = json.dumps([arch, options], sort_keys=True)
        if key not in engines:
            torch.manual_seed(0)
            net = TransformerNet(ARCHITECTURES[arch])
            fields = {k: v for k, v in options.items() if k not in NOT_ENGINE}
            engines[key] = Engine(net, EngineOptions(**fields))
            attach_runner(engines[key], net, options.get("runner"), options.get("threads") or torch.get_num_threads())
        return engines[key]

    while True:
        try:
            request = conn.recv()
        except EOFError:  # the parent is gone
            return
        if request is None:
            return
        kind, arch, options, batch, height, width, calls = request
        try:
            serve(kind, engine_for(arch, options), options, frames_for(batch, height, width), calls, conn)
        except Exception as exc:  # noqa: BLE001 -- a variant that cannot run here (no compiler, no OpenVINO)
            conn.send(RuntimeError(f"{type(exc).__name__}: {exc}".splitlines()[0]))


def serve(kind: str, engine: Engine, options: dict, frames: np.ndarray, calls: int, conn) -> None:
    """Answer one request of :func:`worker` on ``engine``."""
    if options.get("threads"):
        torch.set_num_threads(options["threads"])  # process-wide: set again for each variant's request
    if kind == "describe":
        conn.send(engine.describe())
    elif kind == "first":
        start = time.perf_counter()
        engine.stylize(frames)
        conn.send(time.perf_counter() - start)
    elif kind == "time":
        wall, cpu = [], []
        for _ in range(calls):
            start, start_cpu = time.perf_counter(), time.process_time()
            engine.stylize(frames)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        conn.send((wall, cpu))
    elif kind == "profile":
        conn.send(time_shares(engine, frames))
    elif kind == "ceilings":
        conn.send(ceilings())
    elif kind == "output":
        conn.send(engine.stylize(frames))


class Workers:
    """Two worker processes: allocator left alone (index 0) and tuned (index 1)."""

    def __init__(self, threads: int | None):
        context = mp.get_context("spawn")
        self.conns, self.procs = [], []
        for tuned in (False, True):
            parent, child = context.Pipe()
            process = ProcessOptions(threads=threads, tune_allocator=tuned)
            proc = context.Process(target=worker, args=(child, process), daemon=True)
            proc.start()
            self.conns.append(parent)
            self.procs.append(proc)

    def ask(self, variant: Variant, kind: str, arch: str, size: tuple[int, int], calls: int = 1):
        conn = self.conns[int(variant.tunes_allocator)]
        conn.send((kind, arch, variant.options, variant.batch, *size, calls))
        answer = conn.recv()
        if isinstance(answer, RuntimeError):
            raise answer
        return answer

    def close(self) -> None:
        for conn, proc in zip(self.conns, self.procs):
            conn.send(None)
            proc.join(timeout=30)


def measure(workers: Workers, arch: str, size: tuple[int, int], variants: list[Variant], rounds: int) -> list[Timing]:
    """First call of each variant (warm-up, compilation), then ``rounds`` alternating rounds."""
    timings = [Timing(v, first_call_s=workers.ask(v, "first", arch, size)) for v in variants]
    for _ in range(rounds):
        for timing in timings:
            wall, cpu = workers.ask(timing.variant, "time", arch, size)
            timing.wall += wall
            timing.cpu += cpu
    return timings


def speed_table(rows: list[tuple[str, tuple[int, int], list[Timing]]]) -> str:
    lines = [
        "| model | size | path | batch | ms/frame | fps | CPU ms/frame | speed-up (wall) | speed-up (CPU) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for arch, (h, w), timings in rows:
        base = timings[0]
        for t in timings:
            ms, cpu_ms = t.ms_per_frame(), t.ms_per_frame("cpu")
            lines.append(
                f"| {arch} | {h}x{w} | {t.variant.label} | {t.variant.batch} | {ms:.1f} | {1000 / ms:.1f} | "
                f"{cpu_ms:.1f} | {base.ms_per_frame() / ms:.2f}x | {base.ms_per_frame('cpu') / cpu_ms:.2f}x |"
            )
    return "\n".join(lines)


def roofline_table(rows: list[tuple[str, tuple[int, int], list[Timing]]], ceiling: dict[str, float]) -> str:
    """GFLOP/s per wall-clock second and per CPU-second; the CPU-second rate against the bf16 matmul's."""
    lines = [
        "| model | size | GMAC/frame | baseline GFLOP/s | default GFLOP/s | baseline GFLOP/CPU-s "
        "| default GFLOP/CPU-s | default % of bf16 matmul (per CPU-s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    top = ceiling["matmul bf16 GFLOP/CPU-s"]
    for arch, (h, w), timings in rows:
        macs = conv_macs(arch, h, w)
        rates = [2 * macs / t.ms_per_frame(which) / 1e6 for which in ("wall", "cpu") for t in timings[:2]]
        lines.append(
            f"| {arch} | {h}x{w} | {macs / 1e9:.2f} | {rates[0]:.0f} | {rates[1]:.0f} | {rates[2]:.0f} "
            f"| {rates[3]:.0f} | {100 * rates[3] / top:.0f}% |"
        )
    return "\n".join(lines)


def shares_table(shares: list[tuple[str, tuple[int, int], str, dict[str, float]]]) -> str:
    lines = [
        "| model | size | path | " + " | ".join(CATEGORY_NAMES) + " |",
        "|---|---|---|" + "---|" * len(CATEGORY_NAMES),
    ]
    for arch, (h, w), label, share in shares:
        cells = " | ".join(f"{100 * share[name]:.1f}%" for name in CATEGORY_NAMES)
        lines.append(f"| {arch} | {h}x{w} | {label} | {cells} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="256x256 and 360x640 only, 2 rounds")
    parser.add_argument("--arch", nargs="+", choices=sorted(ARCHITECTURES), default=["standard", "light"])
    parser.add_argument("--sizes", nargs="+", type=dimensions(), default=None, help="HEIGHTxWIDTH ...")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3, quick 2)")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads in both workers")
    parser.add_argument("--no-ablations", action="store_true", help="skip the 360x640 ablation rows")
    parser.add_argument("--no-profile", action="store_true", help="skip the torch.profiler time shares")
    parser.add_argument("--profile-all", action="store_true", help="time shares at every size, not only 360x640")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--backends", action="store_true", help="compare the CPU backends instead (see above)")
    parser.add_argument("--no-compile", action="store_true", help="--backends: skip torch.compile (slow to compile)")
    parser.add_argument("--threads-list", type=int, nargs="+", default=[1, 2], help="--backends: thread counts")
    return parser.parse_args(argv)


def level_difference(a: np.ndarray, b: np.ndarray) -> str:
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return f"mean {diff.mean():.2f}, max {diff.max()} levels"


def run_backends(args: argparse.Namespace, workers: Workers) -> list:
    """The CPU backends side by side (one table row per net, size and thread count)."""
    sizes = args.sizes or (QUICK_SIZES if args.quick else BACKEND_SIZES)
    rounds = args.rounds or 2
    labels = [label for label in BACKEND_VARIANTS if not (args.no_compile and label == "torch.compile")]
    rows = []
    for arch in args.arch:
        for size in sizes:
            for threads in args.threads_list:
                variants = [Variant(label, {**DEFAULT, **BACKEND_VARIANTS[label], "threads": threads}) for label in labels]
                timings, described = [], {}
                for variant in variants:
                    try:
                        first = workers.ask(variant, "first", arch, size)
                    except RuntimeError as exc:
                        print(f"{arch} {size} {variant.label}: cannot run here ({exc})", flush=True)
                        continue
                    timings.append(Timing(variant, first_call_s=first))
                    described[variant.label] = workers.ask(variant, "describe", arch, size)
                for _ in range(rounds):
                    for timing in timings:
                        wall, cpu = workers.ask(timing.variant, "time", arch, size)
                        timing.wall, timing.cpu = timing.wall + wall, timing.cpu + cpu
                ms = {t.variant.label: t.ms_per_frame() for t in timings}
                cpu_ms = {t.variant.label: t.ms_per_frame("cpu") for t in timings}
                rows.append((arch, size, threads, ms, cpu_ms))
                print(backends_table([rows[-1]]).splitlines()[-1], flush=True)
                if size == ABLATION_SIZE and threads == args.threads_list[0]:
                    reference = workers.ask(timings[0].variant, "output", arch, size)
                    for timing in timings[1:]:
                        out = workers.ask(timing.variant, "output", arch, size)
                        print(f"  {timing.variant.label}: {described[timing.variant.label]}; first call "
                              f"{timing.first_call_s:.1f} s; vs engine: {level_difference(out, reference)}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    rounds = args.rounds or (2 if args.quick else 3)
    workers = Workers(args.threads)
    started = time.perf_counter()
    if args.backends:
        try:
            print(f"# CPU backends: torch {torch.__version__}, {cpu_label()}, {mp.cpu_count()} CPUs, "
                  f"load average {os.getloadavg()[0]:.1f} at start; ms/frame, uint8 in -> uint8 out, medians")
            rows = run_backends(args, workers)
        finally:
            workers.close()
        print("\n## ms/frame, wall clock (speed-up over today's engine)\n")
        print(backends_table(rows))
        print("\n## CPU ms/frame of the worker process, all its threads (steadier than wall time on a busy machine)\n")
        print(backends_table([(arch, size, threads, cpu_ms, cpu_ms) for arch, size, threads, _, cpu_ms in rows]))
        print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.1f} at end")
        return
    try:
        base, default = Variant("baseline: fp32 eager", BASELINE), Variant("default", DEFAULT)
        print(f"# engine benchmark: torch {torch.__version__}, {cpu_label()}, {mp.cpu_count()} CPUs, "
              f"rounds {rounds}, load average {os.getloadavg()[0]:.1f} at start")
        print(f"baseline: {workers.ask(base, 'describe', 'light', (64, 64))}")
        print(f"default:  {workers.ask(default, 'describe', 'light', (64, 64))}")
        ceiling = workers.ask(default, "ceilings", "light", (64, 64))
        print("ceilings now: " + ", ".join(f"{k} {v:.0f}" for k, v in ceiling.items()), flush=True)
        rows, shares = [], []
        for arch in args.arch:
            for size in sizes:
                variants = [base, default]
                if size == ABLATION_SIZE and not args.quick and not args.no_ablations:
                    variants += ablations()
                timings = measure(workers, arch, size, variants, rounds)
                rows.append((arch, size, timings))
                print("\n".join(speed_table([rows[-1]]).splitlines()[2:]), flush=True)
                if not args.no_profile and (size == ABLATION_SIZE or args.profile_all):
                    for variant in (base, default):
                        shares.append((arch, size, variant.label, workers.ask(variant, "profile", arch, size)))
    finally:
        workers.close()
    print("\n## ms/frame and fps (medians over rounds)\n")
    print(speed_table(rows))
    print("\n## roofline: convolution work per frame and achieved rate (wall clock)\n")
    print(roofline_table(rows, ceiling))
    if shares:
        print("\n## share of profiled time per operator kind\n")
        print(shares_table(shares))
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.1f} at end")
    if args.json:
        args.json.write_text(json.dumps(
            {"ceilings": ceiling,
             "rows": [{"arch": a, "size": s, "timings": [{**asdict(t), "variant": asdict(t.variant)} for t in ts]}
                      for a, s, ts in rows],
             "shares": shares}, indent=1))


if __name__ == "__main__":
    run_as_command(main)
