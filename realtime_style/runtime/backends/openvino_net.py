"""A transform net compiled by OpenVINO for the CPU, one compiled model per input shape.

The torch net (with the engine's inference rewrites) is exported to ONNX in memory at the exact
input shape and read by OpenVINO's ONNX frontend (no file, no network). A static shape lets the
net's size-dependent padding stay plain Python, and OpenVINO compiles a static graph best. A new
frame size (adaptive resolution, a second video) exports and compiles once -- about 1-5 s on a
2-core EPYC -- and the compiled model is kept, up to :data:`MAX_SHAPES` shapes, least recently
used dropped first.

``openvino`` is imported lazily: where it is missing or broken, :func:`openvino_status` says why and
the engine stays on torch. Every net of the process compiles on one :func:`shared_core`.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections import OrderedDict
from functools import lru_cache

import torch

from realtime_style.models.inference import FoldedUpsampleConv, prepare_for_inference
from realtime_style.models.transformer import TransformerNet
from realtime_style.runtime.backends.int8 import quantize

#: Compiled models kept per net (frame sizes of an adaptive-resolution session, batch sizes).
MAX_SHAPES = 8
#: What :func:`export_net` hands OpenVINO; a new value makes ``--backend auto`` probe again (its choices on disk name it).
EXPORT_REVISION = 2  # 2: the decoder's folded steps as transposed convolutions (session 28)
#: Engine precision -> OpenVINO inference precision hint; ``auto`` leaves OpenVINO's own choice
#: (bf16 on CPUs with native bf16, else f32), as does ``int8`` for what stays unquantized (see :mod:`.int8`).
PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16", "auto": None, "int8": None}
#: The ONNX exporter traces through module-global state: live workers export one at a time.
_EXPORT_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def shared_core():
    """The process's one ``openvino.Core``, made at first use and kept until exit.

    One Core is OpenVINO's own advice (the CPU plugin loads once); here it is also what keeps the
    process alive. Each Core's CPU plugin gives the thread that loads it a signal stack of its own and,
    when that Core dies, unmaps it and puts back the stack it found. Two Cores that die in the order
    they were made leave the thread on an unmapped signal stack, and the next Python signal handler
    that runs there (Ctrl-C, SIGCHLD) kills the process with SIGSEGV, no traceback (openvino 2026.4;
    tests/test_backends.py reproduces it).
    """
    import openvino

    return openvino.Core()


@lru_cache(maxsize=1)
def openvino_status() -> str | None:
    """None when OpenVINO can run here, else one line saying why not (missing, broken, no CPU plugin)."""
    try:
        if "CPU" not in shared_core().available_devices:
            return "OpenVINO has no CPU device here"
    except Exception as exc:  # noqa: BLE001 -- an import error, a broken wheel, a missing library: all mean "use torch"
        return f"OpenVINO unavailable ({type(exc).__name__}: {exc})".splitlines()[0]
    return None


def openvino_version() -> str | None:
    if openvino_status() is not None:
        return None
    import openvino

    return openvino.__version__.split("-")[0]


def default_precision() -> str | None:
    """The precision OpenVINO's CPU plugin computes in unless told otherwise (bf16 where native, else f32)."""
    if openvino_status() is not None:
        return None
    return shared_core().get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()


def export_net(net: TransformerNet) -> torch.nn.Module:
    """The copy of ``net`` that exports best: upsampling folded into transposed convolutions, the output conv phase-split, fp32.

    Measured on the 2-core EPYC (Zen 2), light net, 360x640, one thread: 362 ms plain, 291 ms with the
    split output conv, 214 ms with the folded upsampling too (its phases interleaved by pixel shuffle; the
    engine's strided writes become ScatterND in ONNX and cost more than they save). On Zen 4 (session 28)
    the folded step as one transposed convolution instead of that interleave: light 1.15x, standard 1.13x (bf16,
    `bench_openvino_options`, variant "upsample by pixel shuffle"; not yet measured on other CPUs).
    """
    fast = prepare_for_inference(net, fast_norm=False, split_output_conv=True, fold_upsample=True).float()
    for module in fast.modules():
        if isinstance(module, FoldedUpsampleConv):
            module.use_transposed_conv()
    return fast


class OpenVINONet:
    """``net`` run by OpenVINO on the CPU: float (N, 3, H, W) tensor in, float32 tensor out."""

    def __init__(self, net: TransformerNet, threads: int | None = None, precision: str = "auto"):
        reason = openvino_status()
        if reason is not None:
            raise RuntimeError(reason)
        if precision not in PRECISION_HINTS:
            raise ValueError(f"precision must be one of {', '.join(PRECISION_HINTS)}; got {precision!r}")
        self._core = shared_core()
        #: The torch copy that is exported (see :func:`export_net`).
        self.exported = export_net(net)
        self.threads = threads or torch.get_num_threads()
        #: The compile options (the OpenVINO CPU properties); measured alternatives: benchmarks/bench_openvino_options.py.
        self.config: dict[str, object] = {
            "INFERENCE_NUM_THREADS": self.threads,
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
            # Live workers each run their own net on one thread: pinning would stack them on one core.
            "ENABLE_CPU_PINNING": False,
        }
        if PRECISION_HINTS[precision]:
            self.config["INFERENCE_PRECISION_HINT"] = PRECISION_HINTS[precision]
        self._requests: OrderedDict[tuple[int, ...], object] = OrderedDict()
        #: Guards ``_requests``: a live session compiles a new size on a side thread while frames run.
        self._requests_lock = threading.Lock()
        #: The inference precision of the compiled models (known after the first compile).
        self.precision: str | None = None
        self._requested = precision

    @property
    def quantizes(self) -> bool:
        """Whether each shape's model is quantized to int8 before it compiles (seconds more, :mod:`.int8`)."""
        return self._requested == "int8"

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        """Input shapes compiled so far, least recently used first."""
        with self._requests_lock:
            return list(self._requests)

    def is_compiled(self, shape: tuple[int, ...]) -> bool:
        """Whether a batch of ``shape`` runs at once (else it first exports and compiles: seconds)."""
        with self._requests_lock:
            return shape in self._requests

    def compile(self, shape: tuple[int, ...]):
        """Export and compile the net for ``shape`` and keep it (thread-safe); returns its infer request."""
        with _EXPORT_LOCK, warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python branches on sizes: fixed by design
            model = self.convert(torch.zeros(shape))
        if self.quantizes:
            model = quantize(model, shape)
        compiled = self._core.compile_model(model, "CPU", self.config)
        precision = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        self.precision = f"int8 ({precision} between)" if self.quantizes else precision
        request = compiled.create_infer_request()
        with self._requests_lock:
            self._requests[shape] = request
            while len(self._requests) > MAX_SHAPES:
                self._requests.popitem(last=False)
        return request

    def _request(self, shape: tuple[int, ...]):
        with self._requests_lock:
            request = self._requests.get(shape)
            if request is not None:
                self._requests.move_to_end(shape)
                return request
        return self.compile(shape)

    def convert(self, example: torch.Tensor):
        """The net at ``example``'s shape as an OpenVINO model: via ONNX in memory (about 2x quicker
        than OpenVINO's own PyTorch frontend here), or that frontend where the ``onnx`` package is missing."""
        import openvino

        try:
            buffer = io.BytesIO()
            torch.onnx.export(self.exported, example, buffer, opset_version=17, dynamo=False)
        except (ImportError, torch.onnx.OnnxExporterError):
            return openvino.convert_model(self.exported, example_input=example)
        return self._core.read_model(buffer.getvalue(), b"")

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float().contiguous()
        request = self._request(tuple(x.shape))
        result = request.infer({0: x.numpy()}, share_inputs=True, share_outputs=False)
        return torch.from_numpy(result[0])

    def describe(self) -> str:
        return f"openvino {self.precision}" if self.precision else f"openvino, precision {self._requested} (compiles at the first frame)"
