"""The engine: a transform net on a device, batch of uint8 frames in, batch of uint8 frames out.

It knows nothing of files or cameras. It chooses the device (CUDA, then MPS, then CPU) and the
precision (fp16 on CUDA, bf16 on CPUs with native bf16 support, else fp32), and applies each call's
:class:`~realtime_style.runtime.color.Look` (strength, colour preservation) on the device. It changes
nothing process-wide: threads, malloc tuning and cuDNN autotuning are set once per process by
:func:`realtime_style.runtime.process.configure_process`, at the program's entry point.

Every speed-up is on by default where it was measured to help and has an off switch in
:class:`EngineOptions` (and a test that its output matches the plain fp32 path):

- precision ``auto``: bf16 weights and activations on CPUs with avx512_bf16/AMX, fp16 on GPUs;
  ``int8`` (asked for, CPU): OpenVINO's model quantized by NNCF (:mod:`realtime_style.runtime.backends.int8`);
- ``fast_norm``: InstanceNorm without the float32 round trip (CPU; the kernel accumulates in fp32);
- ``split_output_conv``: the 9x9 convolution to 3 channels as a phase-split convolution (CPU);
- ``fold_upsample``: upsample + 3x3 convolution as one 2x2 convolution on the small map (CPU);
- fused uint8 HWC <-> float CHW conversion (one pass each way, always on);
- GPU only (not measured on hardware yet): channels_last, page-locked staging
  buffers reused between batches, ``copy_streams`` (uploads and downloads on side streams, so
  :meth:`Engine.submit` returns while the batch is still on the GPU and transfers overlap compute;
  see :mod:`realtime_style.runtime.cuda_streams`), ``cuda_graphs`` (off until measured; see
  :mod:`realtime_style.runtime.cuda_graphs`); ``compile`` (torch.compile, off by default: on CPU it measured
  no faster than this eager path and costs a minute of compilation on first use).

``backend`` (CPU only): ``torch`` is everything above; ``openvino`` runs the net compiled by OpenVINO;
``auto`` (the default) takes torch on CUDA/MPS and, on a CPU, whichever of the two a short probe found
faster for this machine, net and frame size (see :mod:`realtime_style.runtime.backends`). The look
and the uint8 conversions stay here, the same for every backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from realtime_style.runtime.color import FULL_STYLE, Look
from realtime_style.runtime.cuda_graphs import GraphCache
from realtime_style.runtime.cuda_streams import CopyStreams, PinnedStaging
from realtime_style.runtime.memory import free_memory, largest_batch
from realtime_style.errors import DeviceError, UsageError
from realtime_style.models.inference import prepare_for_inference
from realtime_style.models.store import StyleModel
from realtime_style.models.transformer import TransformerNet
from realtime_style.runtime.backends import BACKENDS, InferenceNet
from realtime_style.runtime.backends.auto import AutoNet, TorchNet, probe_key
from realtime_style.runtime.backends.choices import ChoiceFile
from realtime_style.runtime.backends.int8 import nncf_status
from realtime_style.runtime.backends.openvino_net import OpenVINONet, openvino_status
from realtime_style.runtime.pending import Pending, Ready, in_order
from realtime_style.runtime.process import describe_process

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
#: What ``--precision`` accepts: ``auto`` (per device), a torch dtype, or ``int8`` (CPU, OpenVINO + NNCF).
PRECISION_NAMES = ("auto", *PRECISIONS, "int8")


@dataclass
class EngineOptions:
    """How to run the network. ``auto``/``None`` values are resolved per device by :class:`Engine`."""

    device: str = "auto"
    precision: str = "auto"
    #: NHWC activations; None: on CUDA only (on CPU it measured slower: InstanceNorm copies to NCHW).
    channels_last: bool | None = None
    batch_size: int | None = None
    #: torch.compile the network; ``compile_mode`` e.g. "max-autotune" on CUDA. Inductor caches
    #: compiled graphs on disk (TORCHINDUCTOR_CACHE_DIR), so later runs skip most of the work.
    compile: bool = False
    compile_mode: str | None = None
    compile_backend: str = "inductor"
    #: InstanceNorm on the bf16/fp16 map directly; None: on CPU only.
    fast_norm: bool | None = None
    #: Final 9x9 conv as a space-to-depth conv (12 output channels instead of 3); None: on CPU only.
    split_output_conv: bool | None = None
    #: Decoder upsampling folded into its convolution (2.25x fewer MACs); None: on CPU only.
    fold_upsample: bool | None = None
    #: CUDA: reuse page-locked host buffers for uploads instead of pinning each batch anew.
    pinned_buffers: bool = True
    #: CUDA: uploads and downloads on side streams, overlapping compute; None: on CUDA.
    copy_streams: bool | None = None
    #: CUDA: replay the network as a CUDA graph per batch shape. None: off for now -- not yet
    #: measured on a GPU; a session with one should measure it and make it the default if it helps.
    #: torch.compile's "reduce-overhead"/"max-autotune" modes use CUDA graphs themselves: not with ``compile``.
    cuda_graphs: bool | None = None
    #: Who runs the net: auto, torch or openvino (CPU only; see the module docstring).
    backend: str = "auto"
    #: ``auto``: time both backends on a frame size this machine never timed. Off for a few frames (one
    #: photo), where the probe would cost more than it saves: the nearest size timed before decides, else torch.
    probe_backends: bool = True
    #: ``auto`` for live use: never make a frame wait for OpenVINO; see backends/auto.py (no probe; a size
    #: not compiled yet runs on torch while a side thread compiles it).
    compile_in_background: bool = False


def select_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an explicit device that is absent is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {name!r} requested but CUDA is not available")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceError(f"device {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceError("device 'mps' requested but MPS is not available")
    return device


def cpu_has_fast_bf16() -> bool:
    """True where oneDNN runs bf16 convolutions natively (avx512_bf16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def select_precision(device: torch.device, name: str = "auto") -> torch.dtype:
    """The torch net's dtype. ``auto``: fp16 on CUDA and MPS, bf16 on CPUs with native bf16 (measured 1.8x faster
    here), else fp32. ``int8`` is OpenVINO's (:mod:`.backends.int8`); the torch copy then takes ``auto``'s dtype."""
    if name not in PRECISION_NAMES:
        raise ValueError(f"precision must be one of {', '.join(PRECISION_NAMES)}; got {name!r}")
    if name == "int8" and device.type != "cpu":
        raise DeviceError(f"--precision int8 runs on the CPU (OpenVINO); the device is {device} (use --device cpu)")
    if name in PRECISIONS:
        return PRECISIONS[name]
    if device.type in ("cuda", "mps"):
        return torch.float16
    return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32


def select_backend(device: torch.device, name: str = "auto", compile: bool = False, precision: str = "auto") -> str:
    """``torch``, ``openvino`` or ``auto`` (CPU with OpenVINO present: probed per frame size).

    ``auto`` means torch on CUDA/MPS, with ``compile`` (torch.compile is a torch path) and wherever
    OpenVINO is missing or broken; an explicit ``openvino`` that cannot run here is an error. ``int8``
    precision is OpenVINO's alone: it needs ``openvino`` or ``auto`` (then no probe) and NNCF.
    """
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}")
    if precision == "int8":
        if name == "torch" or compile:
            raise UsageError(f"--precision int8 runs on OpenVINO: it does not go with {'--compile' if compile else '--backend torch'}")
        name = "openvino"
    if name == "torch":
        return name
    if name == "openvino":
        flag = "--precision int8" if precision == "int8" else "--backend openvino"
        if device.type != "cpu":
            raise DeviceError(f"{flag} runs on the CPU; the device is {device} (use --device cpu)")
        if compile:
            raise UsageError("--compile is torch.compile: it needs --backend torch (or auto)")
        reason = openvino_status()
        if reason is not None:
            raise DeviceError(f"{flag}: {reason}")
        if precision == "int8" and (missing := nncf_status()) is not None:
            raise DeviceError(missing)
        return name
    return "auto" if device.type == "cpu" and not compile and openvino_status() is None else "torch"


def default_batch_size(device: torch.device) -> int:
    """Batches amortize launch overhead on GPUs; on CPUs batching buys nothing and adds latency."""
    return 8 if device.type == "cuda" else 1


class Engine:
    """Runs a transform net on batches of frames. Thread-compatible: one caller at a time."""

    def __init__(self, model: StyleModel | TransformerNet, options: EngineOptions | None = None):
        self.options = options or EngineOptions()
        if self.options.cuda_graphs and self.options.compile:  # refused on any device: asked for, it is a mistake
            raise UsageError("--cuda-graphs and --compile do not go together (torch.compile brings its own CUDA graphs)")
        self.device = select_device(self.options.device)
        #: The torch net's dtype.
        self.dtype = select_precision(self.device, self.options.precision)
        self.backend = select_backend(self.device, self.options.backend, self.options.compile, self.options.precision)
        #: The dtype frames reach the backend in: float32 unless torch runs alone (the others choose their own).
        self.frame_dtype = self.dtype if self.backend == "torch" else torch.float32
        on_cpu, on_cuda = self.device.type == "cpu", self.device.type == "cuda"
        self.channels_last = _auto(self.options.channels_last, on_cuda)
        self.fast_norm = _auto(self.options.fast_norm, on_cpu)
        self.split_output_conv = _auto(self.options.split_output_conv, on_cpu)
        self.fold_upsample = _auto(self.options.fold_upsample, on_cpu)
        self.batch_size = self.options.batch_size or default_batch_size(self.device)
        self.copy_streams = on_cuda and _auto(self.options.copy_streams, True)
        self.cuda_graphs = on_cuda and _auto(self.options.cuda_graphs, False)
        self._staging = PinnedStaging() if on_cuda and self.options.pinned_buffers else None
        self._streams = CopyStreams(self.device, self._staging) if self.copy_streams else None
        self.set_model(model)

    @property
    def graphs_failed(self) -> bool:
        """Whether CUDA graphs were asked for but capture failed (the net then runs eagerly)."""
        return self._graphs is not None and self._graphs.failed is not None

    @property
    def name(self) -> str:
        return self.style_model.name if self.style_model else "custom"

    def _prepare(self, net: TransformerNet) -> torch.nn.Module:
        """An inference copy of ``net`` on our device and dtype; ``net`` itself is left as it is."""
        fast = prepare_for_inference(
            net, fast_norm=self.fast_norm, split_output_conv=self.split_output_conv, fold_upsample=self.fold_upsample
        )
        fast = fast.to(self.device, self.dtype)
        if self.channels_last:
            fast = fast.to(memory_format=torch.channels_last)
        if self.options.compile:
            return torch.compile(fast, mode=self.options.compile_mode, backend=self.options.compile_backend)
        return fast

    def set_model(self, model: StyleModel | TransformerNet) -> None:
        """Swap the network (e.g. a style switch in a live session)."""
        self.style_model = model if isinstance(model, StyleModel) else None
        source = model.net if isinstance(model, StyleModel) else model
        #: The torch inference module (what the torch backend runs).
        self.net = self._prepare(source)
        self._graphs = GraphCache(self.net) if self.cuda_graphs else None
        #: What runs the net when the backend is not plain torch: an OpenVINONet or an AutoNet.
        self.runner: InferenceNet | None = self._backend_net(source)

    def _backend_net(self, net: TransformerNet) -> InferenceNet | None:
        """The net as our backend runs it: None for torch, an OpenVINONet, or an AutoNet of both."""
        if self.backend == "torch":
            return None
        threads = torch.get_num_threads()  # as the program's entry point set it (configure_process)

        def openvino() -> OpenVINONet:
            return OpenVINONet(net, threads=threads, precision=self.options.precision)

        # Live int8: a new size's calibration takes seconds (5 s, standard net at 360x640): torch bridges it, as in auto.
        bridge = self.options.precision == "int8" and self.options.compile_in_background
        if self.backend == "openvino" and not bridge:
            return openvino()
        config = net.config
        size = f"{'/'.join(map(str, config.channels))}x{config.residual_blocks} k{config.outer_kernel}"
        key = probe_key(size, threads, self.options.precision)
        return AutoNet(
            TorchNet(self.net, self.dtype), openvino, key, ChoiceFile(), self.options.probe_backends,
            self.options.compile_in_background,
        )

    def to_tensor(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 (N, H, W, 3) RGB host frames -> RGB [0, 1] (N, 3, H, W) on the device, in ``frame_dtype``.

        The uint8 frames cross to the device as they are (a quarter of the bytes of float32); the
        HWC -> CHW transpose and the uint8 -> float conversion happen in one copy kernel, then one
        in-place scale. With channels_last the NHWC buffer already *is* that layout: no transpose.
        """
        frames = np.ascontiguousarray(frames)
        # Read-only arrays (e.g. np.asarray of a PIL image) are only read here; torch warns about them anyway.
        batch = torch.from_numpy(frames if frames.flags.writeable else frames.copy())
        if self.device.type != "cpu":
            batch = self._upload(batch)
        nchw = batch.permute(0, 3, 1, 2)
        if self.channels_last:
            x = nchw.to(self.frame_dtype)
        else:
            x = torch.empty(nchw.shape, dtype=self.frame_dtype, device=self.device)
            x.copy_(nchw)
        return x.div_(255.0)

    def _upload(self, batch: torch.Tensor) -> torch.Tensor:
        """Host uint8 batch -> the device, readable by the current stream."""
        if self._streams is not None:
            return self._streams.upload(batch)
        if self._staging is not None:
            return self._staging.upload(batch, self.device, torch.cuda.current_stream(self.device))
        return batch.to(self.device)

    def to_frames(self, images: torch.Tensor) -> np.ndarray:
        """RGB [0, 1] (N, 3, H, W) device tensor -> uint8 (N, H, W, 3) RGB host frames."""
        return self._device_frames(images).cpu().numpy()

    def _device_frames(self, images: torch.Tensor) -> torch.Tensor:
        """RGB [0, 1] (N, 3, H, W) -> uint8 (N, H, W, 3) on the same device.

        Scale, clamp and round in one temporary, then convert to uint8 and transpose to HWC in one
        copy kernel (truncation after +0.5 rounds half up).
        """
        n, c, h, w = images.shape
        scaled = images.float().mul(255.0) if images.dtype != torch.float32 else images.mul(255.0)
        scaled.add_(0.5).clamp_(0.0, 255.0)
        frames = torch.empty((n, h, w, c), dtype=torch.uint8, device=images.device)
        frames.copy_(scaled.permute(0, 2, 3, 1))
        return frames

    @torch.inference_mode()
    def run_tensor(self, images: torch.Tensor, look: Look = FULL_STYLE) -> torch.Tensor:
        """Stylize a device batch of RGB [0, 1] images, showing them with ``look``."""
        if self._graphs is not None:
            out = self._graphs(images)
        else:
            out = self.runner(images) if self.runner is not None else self.net(images)
        out = look.apply(out, images)
        return out.clamp(0.0, 1.0) if out is images else out.clamp_(0.0, 1.0)

    @torch.inference_mode()
    def submit(self, frames: np.ndarray, look: Look = FULL_STYLE) -> Pending:
        """Start stylizing one batch of uint8 (N, H, W, 3) RGB frames (all N of them at once) with ``look``.

        With ``copy_streams`` (CUDA) this returns once the batch is queued on the GPU, so the
        caller can prepare and submit the next batch while this one computes and downloads;
        elsewhere the batch is computed before it returns. ``result()`` gives the frames.
        """
        _check_batch(frames, frames.shape)
        on_device = self._device_frames(self.run_tensor(self.to_tensor(frames), look))
        if self._streams is not None:
            return self._streams.download(on_device)
        return Ready(on_device.cpu().numpy())

    def stylize(self, frames: np.ndarray, look: Look = FULL_STYLE) -> np.ndarray:
        """uint8 (N, H, W, 3) or (H, W, 3) RGB frames -> stylized frames of the same shape and size.

        Frames go through :meth:`submit` in batches of ``batch_size``, two batches in flight.
        """
        single = frames.ndim == 3
        batch = frames[None] if single else frames
        _check_batch(batch, frames.shape)
        chunks = (batch[i : i + self.batch_size] for i in range(0, len(batch), self.batch_size))
        outputs = [result for _, result in in_order(lambda chunk: self.submit(chunk, look), chunks, depth=2)]
        result = np.concatenate(outputs) if len(outputs) > 1 else outputs[0]
        return result[0] if single else result

    def probes_backends(self, width: int, height: int) -> bool:
        """Whether the first batch of ``width`` x ``height`` frames will first time torch against OpenVINO
        (``--backend auto`` on a CPU, a size never probed on this machine): several frames' work, once."""
        return isinstance(self.runner, AutoNet) and self.runner.needs_probe((self.batch_size, 3, height, width))

    def calibrates_int8(self, width: int, height: int) -> bool:
        """Whether the first batch of ``width`` x ``height`` frames waits while the net is quantized to int8 for that
        size (``--precision int8``: seconds, once per size)."""
        shape = (self.batch_size, 3, height, width)
        return isinstance(self.runner, OpenVINONet) and self.runner.quantizes and not self.runner.is_compiled(shape)

    @property
    def compiling(self) -> bool:
        """Whether OpenVINO compiles a frame size aside (``compile_in_background``): frames run slower meanwhile."""
        return isinstance(self.runner, AutoNet) and self.runner.compiling

    def largest_batch(self, width: int, height: int) -> int | None:
        """The most ``width`` x ``height`` frames a batch may hold in this device's free memory (None: unknown)."""
        return largest_batch(width, height, free_memory(self.device))

    def describe(self) -> str:
        """One line for logs: model, device, precision, layout, batch, the fast paths in use."""
        if isinstance(self.runner, OpenVINONet):
            return f"{self.name} on cpu ({self.runner.describe()}, batch {self.batch_size}, {self.runner.threads} threads)"
        layout = "channels_last" if self.channels_last else "contiguous"
        dtype = {v: k for k, v in PRECISIONS.items()}[self.dtype]
        paths = [
            name
            for name, on in (
                ("fast-norm", self.fast_norm and self.dtype != torch.float32),
                ("split-conv", self.split_output_conv),
                ("fold-upsample", self.fold_upsample),
                ("compiled", self.options.compile),
                ("copy streams", self.copy_streams),
                ("CUDA graphs", self.cuda_graphs and not self.graphs_failed),
                ("CUDA graphs failed: eager", self.graphs_failed),
            )
            if on
        ]
        if self.device.type == "cpu":
            paths.append(describe_process())
        extra = f"; {', '.join(paths)}" if paths else ""
        backend = f"{self.runner.describe()}, " if self.runner is not None else ""
        return f"{self.name} on {self.device} ({backend}{dtype}, {layout}, batch {self.batch_size}{extra})"


def _check_batch(batch: np.ndarray, given: tuple[int, ...]) -> None:
    """Frames as every source delivers them; anything else would be misread, not refused, further on."""
    if batch.ndim != 4 or batch.shape[-1] != 3 or 0 in batch.shape[1:3]:
        raise ValueError(f"frames must be (N, H, W, 3) or (H, W, 3) uint8, got shape {given}")
    if batch.dtype != np.uint8:
        hint = " (from floats in [0, 1]: (frames * 255).round().astype(np.uint8))" if batch.dtype.kind == "f" else ""
        raise ValueError(f"frames must be uint8 (0-255), got {batch.dtype}{hint}")


def _auto(value: bool | None, default: bool) -> bool:
    return default if value is None else bool(value)
