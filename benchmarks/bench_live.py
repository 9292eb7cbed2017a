"""Live latency and frame rate per model size, resolution and number of engine workers (same run).

For each architecture and resolution: the baseline is the engine alone stylizing one in-memory
frame at a time (batch 1, no capture, no output); then one live run per ``--workers`` count:
:class:`LiveSession` fed by a source faster than the engine (default 60 fps), so frames are
dropped, never queued, and the numbers are capture-to-output latency p50/p95, output fps and the
share of frames dropped. Every worker runs ``--threads`` intra-op threads (default 1).

CPU time holds on a shared, overloaded machine where wall times do not, so each run also reports
``w cpu`` (CPU ms a worker thread spent on a frame: its wall time on an idle core) and ``p cpu``
(CPU ms of the whole process per frame out: capture, loop, late frames included), and projects
the idle figures from them: ``fps* = min(source fps, workers x 1000 / w cpu, cores x 1000 / p cpu)``
and ``lat* = w cpu + one source interval`` (a frame waits at most one interval for a free worker).
The projection ignores two workers competing for memory bandwidth and cache: measure idle to know.
Random weights (cost does not depend on the weights). Targets on a 2-core CPU at 360x640: >= 15 fps
with p95 latency < 150 ms, for ``light`` and (issue 24, with OpenVINO) for ``standard``.
Each ``--backend`` (default torch and openvino) gets its own rows in the same run.

    python -m benchmarks.bench_live                      # light + standard, 240x426 + 360x640, 1 and 2 workers
    python -m benchmarks.bench_live --arch light --resolution 360x640 --workers 1 2 --seconds 20
    python -m benchmarks.bench_live --arch standard --resolution 360x640 --workers 2 --backend torch openvino
    python -m benchmarks.bench_live --arch light --resolution 360x640 --workers 2 --keep person --repeats 3

``--keep person`` (or ``background``) runs every configuration with and without that person mode,
alternating ``--repeats`` times, on frames of the shared clip with people in it, and prints the
person mode's cost as ratios against the runs without it (same run: fps, CPU ms per frame out).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from realtime_style.runtime.backends import BACKENDS
from realtime_style.runtime.backends.openvino_net import openvino_status
from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.runtime.process import ProcessOptions, configure_process
from realtime_style.cli.argtypes import dimensions
from realtime_style.live.outputs import OutputMeta
from realtime_style.live.session import LiveOptions, LiveSession
from realtime_style.live.styles import StyleBank
from realtime_style.runtime.process import usable_cores
from realtime_style.models.store import ModelInfo, save_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerConfig, TransformerNet
from realtime_style.person import KEEP_CHOICES, PersonOptions
from realtime_style.person.live import LivePerson
from benchmarks.entry import run_as_command

TARGETS = ({"arch": "light", "resolution": (360, 640), "fps": 15.0, "p95_ms": 150.0},
           {"arch": "standard", "resolution": (360, 640), "fps": 15.0, "p95_ms": 150.0})
SHARED_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "bikes.mp4"
#: Frames with a person in them (at 10 s a person stands in the room), for ``--keep``.
PERSON_CLIP = SHARED_CLIP.with_name("one-by-one-person-detection.mp4")
PERSON_CLIP_START_S = 10.0


class MemorySource:
    """A camera faster than the engine: a few real frames, cycled at ``fps``."""

    def __init__(self, frames: list[np.ndarray], fps: float):
        self.frames, self.fps = frames, fps
        self.description = f"memory source ({fps:g} fps)"
        self.size = (frames[0].shape[1], frames[0].shape[0])
        self._count = 0
        self._start = 0.0

    def open(self) -> None:
        self._start, self._count = time.monotonic(), 0

    def read(self) -> np.ndarray:
        due = self._start + self._count / self.fps
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._count += 1
        return self.frames[self._count % len(self.frames)]

    def close(self) -> None:
        pass


class NullSink:
    """Discards frames; notes the process CPU time at the first and the last one."""

    name = "null"

    def __init__(self) -> None:
        self.first_cpu: float | None = None
        self.last_cpu = 0.0

    def open(self, width: int, height: int, fps: float) -> None:
        pass

    def write(self, frame: np.ndarray, meta: OutputMeta) -> None:
        self.last_cpu = time.process_time()
        self.first_cpu = self.last_cpu if self.first_cpu is None else self.first_cpu

    def close(self) -> None:
        pass


def load_frames(height: int, width: int, count: int = 8, person: bool = False) -> list[np.ndarray]:
    """Frames of the shared bikes clip (``person``: of the clip with people) at this size, or smooth
    synthetic ones without shared data."""
    clip = PERSON_CLIP if person else SHARED_CLIP
    if clip.is_file():
        from realtime_style.media.sources import VideoFileSource

        with VideoFileSource(clip, size=(width, height)) as source:
            skip = round(PERSON_CLIP_START_S * float(source.info.fps)) if person else 0
            images = [frame.image for _, frame in zip(range(skip + count), source)]
        return images[skip:]
    yy, xx = np.mgrid[0:height, 0:width]
    return [np.stack([(xx + 9 * i) % 256, (yy + 5 * i) % 256, (xx + yy) % 256], -1).astype(np.uint8) for i in range(count)]


def engine_baseline(engine: Engine, frames: list[np.ndarray], seconds: float) -> tuple[float, float]:
    """Median wall and CPU seconds per frame of the engine alone.

    The CPU time (of this thread; with ``--threads 1`` all the work runs on it) is what a frame costs
    on an idle core: on a shared, overloaded machine it stays put while wall time balloons.
    """
    for frame in frames[:3]:
        engine.stylize(frame)
    walls, cpus = [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end or len(walls) < 5:
        wall, cpu = time.perf_counter(), time.thread_time()
        engine.stylize(frames[len(walls) % len(frames)])
        walls.append(time.perf_counter() - wall)
        cpus.append(time.thread_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def person_baseline(frames: list[np.ndarray], keep: str, seconds: float) -> float:
    """Median CPU seconds of one frame's person work alone: segment, smooth, feather, compose (one thread)."""
    person = LivePerson(PersonOptions(keep=keep))
    size = (frames[0].shape[1], frames[0].shape[0])
    cpus = []
    end = time.monotonic() + seconds
    while time.monotonic() < end or len(cpus) < 20:
        frame = frames[len(cpus) % len(frames)]
        cpu = time.thread_time()
        work = person.work(0, size)
        assert work is not None
        person.compose(work.mode, frame, frame, work.segmenter(frame), None)
        cpus.append(time.thread_time() - cpu)
    return statistics.median(cpus[3:])


def live_run(
    model_path: Path,
    options: EngineOptions,
    frames: list[np.ndarray],
    fps: float,
    seconds: float,
    workers: int,
    keep: str | None = None,
) -> dict:
    height, width = frames[0].shape[:2]
    bank = StyleBank([model_path], options)
    live = LiveOptions(size=(width, height), duration=seconds, crossfade_frames=0, workers=workers)
    sink = NullSink()
    person = LivePerson(PersonOptions(keep=keep)) if keep else None
    session = LiveSession(MemorySource(frames, fps), bank, [sink], live, log=lambda _m: None, person=person)
    summary = session.run().summary()
    # CPU seconds of the whole process (capture thread, late frames included) per frame out, from the
    # first frame out to the last (so without the start-up and warm-up): what a frame costs on idle
    # cores, whatever the machine's load.
    frames_out = summary["frames_out"]
    spent = (sink.last_cpu - (sink.first_cpu or 0.0)) / (frames_out - 1) if frames_out > 1 else float("nan")
    summary["cpu_ms_per_frame"] = round(spent * 1000, 1)
    return summary


def projection(live: dict, workers: int, source_fps: float, cores: int) -> tuple[float, float]:
    """Idle-machine fps and latency projected from CPU time (see the module docstring)."""
    worker_ms = live["work_cpu_p50_ms"] or float("nan")
    limits = (source_fps, workers * 1000 / worker_ms, cores * 1000 / live["cpu_ms_per_frame"])
    fps = float("nan") if any(math.isnan(v) for v in limits) else min(limits)  # nan: too few frames out to tell
    return round(fps, 2), round(worker_ms + 1000 / source_fps, 1)


def arch_spec(text: str) -> str:
    """argparse type: an architecture name or ``C1/C2/C3xBLOCKS``."""
    try:
        arch_config(text)
    except (KeyError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r}: use {', '.join(sorted(ARCHITECTURES))} or C1/C2/C3xBLOCKS") from None
    return text


def arch_config(arch: str) -> TransformerConfig:
    """The TransformerConfig of a name in ARCHITECTURES or of ``C1/C2/C3xBLOCKS``."""
    if arch in ARCHITECTURES:
        return ARCHITECTURES[arch]
    channels, blocks = arch.split("x")
    c1, c2, c3 = (int(c) for c in channels.split("/"))
    return TransformerConfig(channels=(c1, c2, c3), residual_blocks=int(blocks))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--arch", nargs="+", type=arch_spec, default=["standard", "light"],
        help=f"{', '.join(sorted(ARCHITECTURES))} or a size C1/C2/C3xBLOCKS, e.g. 16/32/64x3 (the earlier light net)",
    )
    parser.add_argument("--resolution", nargs="+", type=dimensions(), default=[(240, 426), (360, 640)], help="HxW")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each timed run")
    parser.add_argument("--source-fps", type=float, default=60.0, help="rate of the (faster than engine) source")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="engine worker counts to compare")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads per worker (default 1)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument(
        "--backend", nargs="+", choices=BACKENDS, default=default_backends(), help="backends to compare (each its rows)"
    )
    parser.add_argument(
        "--keep", choices=KEEP_CHOICES, default=None, help="also run each configuration in this person mode (needs rtstyle[person])"
    )
    parser.add_argument("--repeats", type=int, default=1, help="with --keep: alternate off/on runs this many times")
    args = parser.parse_args(argv)
    configure_process(ProcessOptions(threads=args.threads))  # process-wide: each worker thread runs this many
    cores = usable_cores()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for arch in args.arch:
            torch.manual_seed(0)
            config = arch_config(arch)
            name = arch if arch in ARCHITECTURES else "light"  # a model file's arch is a known name
            path = save_model(
                Path(folder) / f"bench.{arch.replace('/', '-')}.safetensors", TransformerNet(config), ModelInfo("bench", name, config)
            )
            for height, width in args.resolution:
                frames = load_frames(height, width, person=args.keep is not None)
                for backend in args.backend:
                    options = EngineOptions(device=args.device, precision=args.precision, batch_size=1, backend=backend)
                    rows += measure_backend(args, arch, path, frames, options, cores)
    print_tables([r for r in rows if r["person"] == "off"], cores)
    if args.keep:
        print_person_cost(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def default_backends() -> list[str]:
    """torch and, where it can run, openvino."""
    return ["torch"] if openvino_status() is not None else ["torch", "openvino"]


def measure_backend(
    args: argparse.Namespace, arch: str, path: Path, frames: list[np.ndarray], options: EngineOptions, cores: int
) -> list[dict]:
    """The engine alone, then one live run per worker count, on one backend."""
    height, width = frames[0].shape[:2]
    rows = []
    engine = StyleBank([path], options).engine(0)
    per_frame, cpu = engine_baseline(engine, frames, args.seconds / 2)
    person_cpu = person_baseline(frames, args.keep, args.seconds / 4) if args.keep else None
    modes = [None, args.keep] * args.repeats if args.keep else [None]
    for workers, keep in ((w, k) for w in args.workers for k in modes):
        live = live_run(path, options, frames, args.source_fps, args.seconds, workers, keep)
        fps_idle, latency_idle = projection(live, workers, args.source_fps, cores)
        row = {
            "arch": arch,
            "person": keep or "off",
            "resolution": f"{height}x{width}",
            "backend": options.backend,
            "engine": engine.describe(),
            "workers": workers,
            "threads_per_worker": args.threads,
            "engine_fps": round(1 / per_frame, 2),
            "engine_cpu_ms": round(cpu * 1000, 1),
            "person_cpu_ms": round(person_cpu * 1000, 2) if person_cpu is not None else None,
            "live_fps": live["output_fps"],
            "latency_p50_ms": live["latency_p50_ms"],
            "latency_p95_ms": live["latency_p95_ms"],
            "drop_rate": live["drop_rate"],
            "frames_late": live["frames_late"],
            "frames_out": live["frames_out"],
            "worker_cpu_ms": live["work_cpu_p50_ms"],
            "process_cpu_ms": live["cpu_ms_per_frame"],
            "projected_fps": fps_idle,
            "projected_latency_ms": latency_idle,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def print_tables(rows: list[dict], cores: int) -> None:
    """The measured table, the worker ratios (same run) and the verdict on the target."""
    print(f"\n{cores} cores; measured (wall) and projected idle (*, from CPU time)")
    print(
        f"{'arch':9s} {'HxW':8s} {'backend':8s} {'wk':>3s} {'fps':>6s} {'p50 ms':>7s} {'p95 ms':>7s} {'drop':>6s} {'late':>5s} "
        f"{'w cpu':>6s} {'p cpu':>6s} {'fps*':>6s} {'lat*':>6s}"
    )
    for r in rows:
        print(
            f"{r['arch']:9s} {r['resolution']:8s} {r['backend']:8s} {r['workers']:3d} {r['live_fps']:6.2f} {r['latency_p50_ms'] or 0:7.1f} "
            f"{r['latency_p95_ms'] or 0:7.1f} {r['drop_rate']:6.1%} {r['frames_late']:5d} {r['worker_cpu_ms'] or 0:6.1f} "
            f"{r['process_cpu_ms']:6.1f} {r['projected_fps']:6.2f} {r['projected_latency_ms']:6.1f}"
        )
    base = {(r["arch"], r["resolution"], r["backend"]): r for r in rows if r["workers"] == 1}
    others = [r for r in rows if r["workers"] > 1 and (r["arch"], r["resolution"], r["backend"]) in base]
    if others:
        print("\nN workers vs 1 (same run): fps ratio, p95 ratio, worker CPU ms ratio")
        for r in others:
            one = base[r["arch"], r["resolution"], r["backend"]]
            print(
                f"{r['arch']:9s} {r['resolution']:8s} {r['backend']:8s} {r['workers']} vs 1: fps x{_ratio(r['live_fps'], one['live_fps'])}, "
                f"p95 x{_ratio(r['latency_p95_ms'], one['latency_p95_ms'])}, w cpu x{_ratio(r['worker_cpu_ms'], one['worker_cpu_ms'])}"
            )
    torch_rows = {(r["arch"], r["resolution"], r["workers"]): r for r in rows if r["backend"] == "torch"}
    for r in rows:
        same = torch_rows.get((r["arch"], r["resolution"], r["workers"]))
        if r["backend"] != "torch" and same:
            print(
                f"{r['arch']:9s} {r['resolution']:8s} {r['workers']} worker(s) {r['backend']} vs torch: "
                f"fps x{_ratio(r['live_fps'], same['live_fps'])}, p95 x{_ratio(r['latency_p95_ms'], same['latency_p95_ms'])}"
            )
    for r, target in ((r, t) for r in rows for t in TARGETS):
        if r["arch"] == target["arch"] and r["resolution"] == "{}x{}".format(*target["resolution"]):
            met = r["live_fps"] >= target["fps"] and (r["latency_p95_ms"] or 1e9) < target["p95_ms"]
            print(
                f"target {r['arch']} 360x640 >= {target['fps']:g} fps, p95 < {target['p95_ms']:g} ms, {r['backend']}, "
                f"{r['workers']} worker(s): "
                f"{'met' if met else 'NOT met'} ({r['live_fps']} fps, p95 {r['latency_p95_ms']} ms; "
                f"projected idle {r['projected_fps']} fps, ~{r['projected_latency_ms']} ms)"
            )


def print_person_cost(rows: list[dict]) -> None:
    """Each person-mode run against the runs without it of the same configuration (medians, same run)."""
    print("\nperson work alone (one thread) against the engine alone, CPU ms per frame (same run):")
    for r in {(r["arch"], r["resolution"], r["backend"]): r for r in rows}.values():
        share = r["person_cpu_ms"] / (r["engine_cpu_ms"] + r["person_cpu_ms"])
        print(
            f"{r['arch']:9s} {r['resolution']:8s} {r['backend']:8s} person {r['person_cpu_ms']:.2f} ms vs engine {r['engine_cpu_ms']:.1f} ms: "
            f"{share:.1%} of a frame's CPU (the fps a CPU-bound session loses)"
        )
    print("\nperson mode vs off (same run, medians of the repeats): fps ratio, process CPU ms per frame ratio")
    configs = dict.fromkeys((r["arch"], r["resolution"], r["backend"], r["workers"]) for r in rows)
    for arch, resolution, backend, workers in configs:
        same = [r for r in rows if (r["arch"], r["resolution"], r["backend"], r["workers"]) == (arch, resolution, backend, workers)]
        off = [r for r in same if r["person"] == "off"]
        for mode in dict.fromkeys(r["person"] for r in same if r["person"] != "off"):
            on = [r for r in same if r["person"] == mode]
            fps_off, fps_on = (statistics.median(r["live_fps"] for r in group) for group in (off, on))
            cpu_off, cpu_on = (statistics.median(r["process_cpu_ms"] for r in group) for group in (off, on))
            print(
                f"{arch:9s} {resolution:8s} {backend:8s} {workers} wk keep {mode}: fps {fps_on:.2f} vs {fps_off:.2f} "
                f"(x{_ratio(fps_on, fps_off)}), p cpu {cpu_on:.1f} vs {cpu_off:.1f} ms (x{_ratio(cpu_on, cpu_off)}), "
                f"{len(on)} run(s) each"
            )


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "n/a"


if __name__ == "__main__":
    run_as_command(main)
