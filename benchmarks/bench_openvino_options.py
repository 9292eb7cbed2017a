"""OpenVINO's CPU options and int8 quantization against today's ``--backend openvino``, in one run.

Every variant is timed in the same process, round by round (each twice a round, the order reversed
every other round, medians), so machine noise hits all alike; ratios are over today's OpenVINO
engine (``--backend openvino``, as :class:`~realtime_style.runtime.backends.openvino_net.OpenVINONet`
compiles it), uint8 frames in and out, on a real photo; today's torch engine is a row too. The last
column is each output's difference from today's OpenVINO output (8-bit levels, three held-out photos).

Variants:

- compile options: ``PERFORMANCE_HINT`` THROUGHPUT instead of LATENCY, no hints at all, CPU pinning,
  ``TBB_PARTITIONER`` STATIC, ``CPU_DENORMALS_OPTIMIZATION``, ``EXECUTION_MODE_HINT`` ACCURACY;
- ``convert_model``: OpenVINO's own PyTorch frontend instead of the in-memory ONNX export;
- ``upsample by pixel shuffle``: the export until session 28: each folded decoder step's four phases
  interleaved by stack + pixel shuffle instead of computed as one transposed convolution;
- ``uint8 in/out``: the uint8 NHWC -> float NCHW conversion, scale, rounding and uint8 NHWC output
  done inside the compiled model (``ov.preprocess.PrePostProcessor``) instead of by the engine
  (strength and colour preservation are not applied on this path: it only measures the conversions);
- ``--int8``: ``--precision int8`` (NNCF post-training quantization of each shape's model, calibrated
  on generated scenes: :mod:`realtime_style.runtime.backends.int8`), and int8 weights only (NNCF
  ``compress_weights``; the CPU computes in f32). Needs ``nncf`` (``pip install 'rtstyle[int8]'``).

    python -m benchmarks.bench_openvino_options                          # options, 360x640, 1 and 2 threads
    python -m benchmarks.bench_openvino_options --int8 --threads-list 1 --png /tmp/int8.png
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the rtstyle command does (see bench_engine)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from benchmarks.bench_engine import level_difference  # noqa: E402
from realtime_style.runtime.backends.choices import cpu_label  # noqa: E402
from benchmarks.contact_sheet import crop_to  # noqa: E402
from realtime_style.cli.argtypes import dimensions  # noqa: E402
from realtime_style.image_files import load_rgb  # noqa: E402
from realtime_style.metrics.style import select_photos  # noqa: E402
from realtime_style.models.inference import FoldedUpsampleConv  # noqa: E402
from realtime_style.models.store import StyleModel, load_model  # noqa: E402
from benchmarks.shared_data import SHARED_DATA  # noqa: E402
from realtime_style.runtime.backends.int8 import nncf_status  # noqa: E402
from realtime_style.runtime.backends.openvino_net import OpenVINONet, openvino_status, openvino_version, shared_core  # noqa: E402
from realtime_style.runtime.engine import Engine, EngineOptions  # noqa: E402
from benchmarks.entry import run_as_command  # noqa: E402

CONTENT = SHARED_DATA / "content"
#: label -> compile options changed from OpenVINONet's own (None: delete that option).
CONFIG_VARIANTS: dict[str, dict[str, object]] = {
    "throughput hint": {"PERFORMANCE_HINT": "THROUGHPUT"},
    "no hints": {"PERFORMANCE_HINT": None, "NUM_STREAMS": None, "ENABLE_CPU_PINNING": None},
    "cpu pinning": {"ENABLE_CPU_PINNING": True},
    "tbb static": {"TBB_PARTITIONER": "STATIC"},
    "denormals opt": {"CPU_DENORMALS_OPTIMIZATION": True},
    "accuracy mode": {"EXECUTION_MODE_HINT": "ACCURACY"},
}


def photos(folder: str, pattern: str, count: int, height: int, width: int) -> list[np.ndarray]:
    """``count`` real photos (spread over the sorted files), centre-cropped and resized to ``height`` x ``width``."""
    return [crop_to(np.asarray(load_rgb(path)), (width, height)) for path in select_photos(CONTENT / folder, count, pattern)]


class DirectConvertNet(OpenVINONet):
    """OpenVINONet read through OpenVINO's PyTorch frontend (``ov.convert_model``) instead of ONNX."""

    def convert(self, example: torch.Tensor):
        import openvino

        return openvino.convert_model(self.exported, example_input=example)


class ShuffleInterleavedUpsample(torch.nn.Module):
    """A :class:`FoldedUpsampleConv` whose four phases are shifted and interleaved by stack + pixel shuffle."""

    def __init__(self, folded: FoldedUpsampleConv):
        super().__init__()
        self.folded = folded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, height, width = x.shape
        phases = self.folded.phases(x)
        shifted = [phases[:, :, p, s, p : p + height, s : s + width] for p in range(2) for s in range(2)]
        return self.folded.tail(F.pixel_shuffle(torch.stack(shifted, dim=2).reshape(n, -1, height, width), 2))


class ShuffleInterleavedNet(OpenVINONet):
    """OpenVINONet exported as until session 28: the decoder's phases interleaved by pixel shuffle."""

    def __init__(self, net, **kwargs):
        super().__init__(net, **kwargs)
        decoder = self.exported.decoder
        for index, module in enumerate(decoder):
            if isinstance(module, FoldedUpsampleConv):
                decoder[index] = ShuffleInterleavedUpsample(module)


def import_nncf():
    if (missing := nncf_status()) is not None:
        sys.exit(missing.replace("--precision int8", "--int8"))
    import nncf

    return nncf


class Int8WeightsNet(OpenVINONet):
    """OpenVINONet with int8 weights only (NNCF ``compress_weights``, symmetric, per channel); computes in f32."""

    def convert(self, example: torch.Tensor):
        nncf = import_nncf()
        return nncf.compress_weights(super().convert(example), mode=nncf.CompressWeightsMode.INT8_SYM)

    def describe(self) -> str:
        return "openvino f32 with int8 weights (NNCF)"


class Uint8Model:
    """Today's exported model with uint8 NHWC in and out, the conversions compiled into it."""

    def __init__(self, net: OpenVINONet):
        self.net = net
        self.requests: dict[tuple[int, ...], object] = {}

    def compiled(self, shape: tuple[int, ...]):
        import openvino
        import openvino.opset13 as ops
        from openvino.preprocess import PrePostProcessor

        n, h, w, c = shape
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's tracer warnings, as in OpenVINONet
            steps = PrePostProcessor(self.net.convert(torch.zeros(n, c, h, w)))
        steps.input().tensor().set_element_type(openvino.Type.u8).set_layout(openvino.Layout("NHWC"))
        steps.input().model().set_layout(openvino.Layout("NCHW"))
        steps.input().preprocess().convert_element_type(openvino.Type.f32).scale(255.0)
        steps.output().model().set_layout(openvino.Layout("NCHW"))
        # The engine's rounding: x * 255 + 0.5, clamped to [0, 255], truncated.
        steps.output().postprocess().custom(
            lambda node: ops.floor(ops.clamp(ops.add(ops.multiply(node, np.float32(255)), np.float32(0.5)), 0.0, 255.0)).output(0)
        )
        steps.output().tensor().set_layout(openvino.Layout("NHWC")).set_element_type(openvino.Type.u8)
        return shared_core().compile_model(steps.build(), "CPU", self.net.config).create_infer_request()

    def stylize(self, frames: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(frames[None] if frames.ndim == 3 else frames)
        if batch.shape not in self.requests:
            self.requests[batch.shape] = self.compiled(batch.shape)
        out = self.requests[batch.shape].infer({0: batch}, share_inputs=True, share_outputs=False)[0]
        return out[0] if frames.ndim == 3 else out


def openvino_engine(model: StyleModel, runner: OpenVINONet | None = None, changes: dict[str, object] | None = None) -> Engine:
    """An engine on today's OpenVINO backend, its runner replaced or its compile options changed."""
    engine = Engine(model, EngineOptions(device="cpu", backend="openvino"))
    if runner is not None:
        engine.runner = runner
    for key, value in (changes or {}).items():
        if value is None:
            engine.runner.config.pop(key, None)
        else:
            engine.runner.config[key] = value
    return engine


def variants(model: StyleModel, args: argparse.Namespace) -> dict[str, Callable[[], object]]:
    """label -> a maker of something with ``stylize(frames)``; built after ``torch.set_num_threads``."""
    made: dict[str, Callable[[], object]] = {
        "openvino today": lambda: openvino_engine(model),
        "torch engine": lambda: Engine(model, EngineOptions(device="cpu", backend="torch")),
    }
    made.update({label: (lambda c=changes: openvino_engine(model, changes=c)) for label, changes in CONFIG_VARIANTS.items()})
    made["convert_model"] = lambda: openvino_engine(model, DirectConvertNet(model.net))
    made["upsample by pixel shuffle"] = lambda: openvino_engine(model, ShuffleInterleavedNet(model.net))
    made["uint8 in/out"] = lambda: Uint8Model(OpenVINONet(model.net))
    if args.int8:
        made["int8 (rtstyle)"] = lambda: Engine(model, EngineOptions(device="cpu", backend="openvino", precision="int8"))
        made["int8 weights only"] = lambda: openvino_engine(model, Int8WeightsNet(model.net))
    return {label: make for label, make in made.items() if not args.only or label in args.only or label == "openvino today"}


def measure(model: StyleModel, size: tuple[int, int], threads: int, args: argparse.Namespace) -> list[tuple[str, float, float, str]]:
    """(label, ms per frame, speed-up over today's OpenVINO, difference from its output) per variant."""
    torch.set_num_threads(threads)  # OpenVINONet takes its threads from here, the torch engine too
    frame = photos("nst_classics", "chicago*", 1, *size)[0]
    held_out = photos("bsds500", "val_*", 3, *size)
    runners, first = {}, {}
    for label, make in variants(model, args).items():
        start = time.perf_counter()
        runners[label] = make()
        runners[label].stylize(frame)
        first[label] = time.perf_counter() - start
    times: dict[str, list[float]] = {label: [] for label in runners}
    for round_ in range(args.rounds):
        # Forward then backward order, round by round: a load that rises or falls during the run hits all alike.
        for label, runner in list(runners.items())[:: 1 if round_ % 2 == 0 else -1]:
            for _ in range(2):
                start = time.perf_counter()
                runner.stylize(frame)
                times[label].append(time.perf_counter() - start)
    reference = np.stack([runners["openvino today"].stylize(p) for p in held_out])
    today_ms = 1000 * statistics.median(times["openvino today"])
    rows = []
    for label, runner in runners.items():
        ms = 1000 * statistics.median(times[label])
        outputs = np.stack([runner.stylize(p) for p in held_out])
        rows.append((label, ms, today_ms / ms, f"{level_difference(outputs, reference)}; first call {first[label]:.1f} s"))
        if args.png and label == "int8 (rtstyle)":
            save_side_by_side(args.png, model.name, held_out[0], reference[0], outputs[0])
    return rows


def save_side_by_side(path: Path, name: str, photo: np.ndarray, fp32: np.ndarray, int8: np.ndarray) -> None:
    from PIL import Image

    target = path.with_name(f"{path.stem}-{name}{path.suffix}")
    Image.fromarray(np.concatenate([photo, fp32, int8], axis=1)).save(target)
    print(f"  photo | openvino f32 | int8: {target}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", nargs="+", choices=["standard", "light"], default=["standard", "light"], help="the shipped mosaic nets")
    parser.add_argument("--sizes", nargs="+", type=dimensions(), default=[(360, 640)], help="HEIGHTxWIDTH ...")
    parser.add_argument("--threads-list", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of 2 calls per variant")
    parser.add_argument("--int8", action="store_true", help="add NNCF int8 post-training quantization (needs nncf)")
    parser.add_argument("--png", type=Path, default=None, help="--int8: save photo | f32 | int8 side by side (one file per net)")
    parser.add_argument("--only", nargs="+", default=None, help="only these variants (labels as printed), besides today's")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if openvino_status() is not None:
        print(f"bench_openvino_options: {openvino_status()}", file=sys.stderr)
        return 1
    if args.int8:
        import_nncf()
    print(f"# OpenVINO {openvino_version()} options, {cpu_label()}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at start; ms/frame uint8 in -> out, medians of {2 * args.rounds} calls\n")
    print("| net | size | threads | variant | ms/frame | vs openvino today | output vs openvino today |")
    print("|---|---|---|---|---|---|---|")
    for arch in args.arch:
        model = load_model("mosaic", None if arch == "standard" else "light")
        for size in args.sizes:
            for threads in args.threads_list:
                for label, ms, ratio, difference in measure(model, size, threads, args):
                    print(f"| {arch} | {size[0]}x{size[1]} | {threads} | {label} | {ms:.0f} | {ratio:.2f}x | {difference} |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at end")
    return 0


if __name__ == "__main__":
    run_as_command(main)
