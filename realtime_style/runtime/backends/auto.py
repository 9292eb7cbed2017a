"""``--backend auto`` on a CPU: per input shape, the faster of torch and OpenVINO, probed once.

The first batch of a new shape looks up :class:`~.choices.ChoiceFile`; when this machine, net and
shape were never probed, both backends stylize that batch a few times (one warm-up, then the best
of :data:`PROBE_RUNS`) and the faster one is written down -- like ``cudnn.benchmark``, but kept
across runs. Later batches of that shape go straight to the chosen backend. If OpenVINO fails to
build or run, torch is chosen.

A probe costs several frames' work, which a video earns back and one photo does not: with
``probe_new_shapes=False`` (``rtstyle still`` on one file) an unprobed shape takes the choice of the nearest
size probed before on this machine (:meth:`~.choices.ChoiceFile.nearest`), else torch, and probes nothing.

A live session cannot stop for seconds at each size its adaptive resolution tries: with
``compile_in_background`` nothing is probed (timings taken beside the live workers would be wrong), an
unprobed shape takes the nearest probed choice, else OpenVINO (as fast as torch or faster on every CPU
measured, docs/performance.md), and a shape OpenVINO has not compiled yet runs on torch while a side thread
compiles it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import torch

from realtime_style.runtime.backends.choices import Choice, ChoiceFile, cpu_name
from realtime_style.runtime.backends.openvino_net import EXPORT_REVISION, openvino_version

#: Frames smaller than this stay on torch unprobed: there a frame takes milliseconds, and OpenVINO's
#: export and compilation (about 1.5 s a shape on the 2-core EPYC) would need hundreds of frames to pay back.
MIN_PROBE_PIXELS = 128 * 128
#: Timed runs per backend in a probe, after one warm-up (the best counts: a busy machine only adds time).
PROBE_RUNS = 2


def best_ms(run: Callable[[], object], runs: int = PROBE_RUNS) -> float:
    """Milliseconds of the fastest of ``runs`` calls, after one warm-up call."""
    run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


class TorchNet:
    """The engine's torch module as an :class:`~realtime_style.runtime.backends.InferenceNet`."""

    def __init__(self, module: torch.nn.Module, dtype: torch.dtype):
        self.module = module
        self.dtype = dtype

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.module(images.to(self.dtype))

    def describe(self) -> str:
        return f"torch {str(self.dtype).removeprefix('torch.')}"


class AutoNet:
    """Dispatch each batch to the backend chosen for its shape (see the module docstring)."""

    def __init__(
        self,
        torch_net: TorchNet,
        make_openvino: Callable[[], Callable],
        key: str,
        choices: ChoiceFile,
        probe_new_shapes: bool = True,
        compile_in_background: bool = False,
    ):
        self.torch_net = torch_net
        self.probe_new_shapes = probe_new_shapes and not compile_in_background
        self.compile_in_background = compile_in_background
        self._compiling: threading.Thread | None = None
        self._make_openvino = make_openvino
        self._openvino: Callable | None = None
        self._openvino_failed = False
        self.key = key
        self.choices = choices
        self.chosen: dict[tuple[int, ...], Choice] = {}

    def _openvino_net(self) -> Callable | None:
        if self._openvino is None and not self._openvino_failed:
            try:
                self._openvino = self._make_openvino()
            except Exception:  # noqa: BLE001 -- any failure to build means torch
                self._openvino_failed = True
        return self._openvino

    def choice(self, images: torch.Tensor) -> Choice:
        """The backend for this batch's shape: remembered, on disk, or probed now (small frames: torch)."""
        shape = tuple(images.shape)
        if shape not in self.chosen:
            self.chosen[shape] = Choice("torch", None, None) if shape[-1] * shape[-2] < MIN_PROBE_PIXELS else self._probed(images)
        return self.chosen[shape]

    def needs_probe(self, shape: tuple[int, ...]) -> bool:
        """Whether the first batch of ``shape`` (N, C, H, W) will be timed on both backends before it is stylized."""
        if shape in self.chosen or not self.probe_new_shapes or shape[-1] * shape[-2] < MIN_PROBE_PIXELS:
            return False
        return self.choices.get(self._choice_key(shape)) is None

    def _choice_key(self, shape: tuple[int, ...]) -> str:
        return f"{self.key}|{'x'.join(map(str, shape))}"

    def _probed(self, images: torch.Tensor) -> Choice:
        key = self._choice_key(tuple(images.shape))
        choice = self.choices.get(key)
        if choice is None and not self.probe_new_shapes:
            unknown = Choice("openvino" if self.compile_in_background else "torch", None, None)
            return self.choices.nearest(self.key, tuple(images.shape)) or unknown
        if choice is None:
            choice = self.probe(images)
            self.choices.put(key, choice)
        return choice

    def probe(self, images: torch.Tensor) -> Choice:
        torch_ms = best_ms(lambda: self.torch_net(images))
        openvino_ms = None
        net = self._openvino_net()
        if net is not None:
            try:
                openvino_ms = best_ms(lambda: net(images))
            except Exception:  # noqa: BLE001 -- an OpenVINO failure on this shape means torch
                openvino_ms = None
        faster = "openvino" if openvino_ms is not None and openvino_ms < torch_ms else "torch"
        return Choice(faster, round(torch_ms, 1), None if openvino_ms is None else round(openvino_ms, 1))

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if self.choice(images).backend == "openvino":
            net = self._openvino_net()
            if net is not None:
                try:
                    if not self.compile_in_background or net.is_compiled(tuple(images.shape)):
                        return net(images)
                    self._compile_aside(net, tuple(images.shape))
                except Exception:  # noqa: BLE001 -- OpenVINO broke mid-run (a remembered choice, a new library): torch
                    self._openvino, self._openvino_failed = None, True
        return self.torch_net(images).float()

    def _compile_aside(self, net: Callable, shape: tuple[int, ...]) -> None:
        """Compile ``shape`` on a side thread, one shape at a time (a later frame of another shape asks again)."""
        if self._compiling is not None and self._compiling.is_alive():
            return

        def compile_shape() -> None:
            try:
                net.compile(shape)
            except Exception:  # noqa: BLE001 -- this shape stays on torch
                self.chosen[shape] = Choice("torch", None, None)

        # Not a daemon: a process that ended while OpenVINO compiled aborted ("terminate called without an active
        # exception"); Python's exit waits for this thread instead (a compile takes seconds at most). Said explicitly:
        # a thread takes its daemon flag from the one that starts it, here a live worker (a daemon).
        self._compiling = threading.Thread(target=compile_shape, name="openvino-compile", daemon=False)
        self._compiling.start()

    @property
    def compiling(self) -> bool:
        """Whether a side compile is running (frames meanwhile run on torch, next to it: not this size's speed)."""
        return self._compiling is not None and self._compiling.is_alive()

    def wait_for_compiles(self, timeout: float | None = None) -> None:
        """Let a side compile finish."""
        if self._compiling is not None:
            self._compiling.join(timeout)

    def describe(self) -> str:
        if not self.chosen:
            how = (
                "probed per frame size" if self.probe_new_shapes
                else "as probed before for the nearest frame size"
                + (", else openvino, compiled aside" if self.compile_in_background else "")
            )
            return f"auto: torch or openvino, {how}"
        picks = sorted({c.backend for c in self.chosen.values()})
        detail = {"openvino": self._openvino.describe() if self._openvino is not None else "openvino"}
        return "auto: " + ", ".join(detail.get(p, self.torch_net.describe()) for p in picks)


def probe_key(config_text: str, threads: int, precision: str) -> str:
    """The part of a choice's key that is not the shape: CPU, versions, the export, net size, threads, precision."""
    versions = f"torch {torch.__version__}|openvino {openvino_version()}|export {EXPORT_REVISION}"
    return f"{cpu_name()}|{versions}|{config_text}|{threads} threads|{precision}"
