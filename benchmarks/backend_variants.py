"""The CPU backends side by side, for ``bench_engine --backends``: each as an engine variant.

Every column is the same engine (uint8 frames in, uint8 frames out, strength and colour code
included) with another runner of the net:

- ``engine (torch)``: today's engine, eager PyTorch with its rewrites (``--backend torch``);
- ``torch.compile``: the same with ``compile=True`` (inductor; the first call compiles);
- ``openvino``: ``--backend openvino`` with OpenVINO's default precision (f32 without native bf16);
- ``openvino bf16 hint``: the same asked for bf16 inference precision (honoured only where the CPU
  has bf16 instructions; the table says what the compiled model reported);
- ``openvino int8``: ``--precision int8`` (NNCF quantization, calibrated on generated scenes; needs
  ``rtstyle[int8]``, else the column stays empty);
- ``onnxruntime``: the net exported to ONNX in memory and run by ONNX Runtime's CPU provider, fp32
  (benchmark only: it measured slower than the engine here, so it is no backend of rtstyle).
"""

from __future__ import annotations

import io
import warnings

import torch

from realtime_style.models.inference import prepare_for_inference
from realtime_style.models.transformer import TransformerNet

#: label -> EngineOptions fields (``runner`` is this module's, popped before EngineOptions).
BACKEND_VARIANTS: dict[str, dict] = {
    "engine (torch)": {"backend": "torch"},
    "torch.compile": {"backend": "torch", "compile": True},
    "openvino": {"backend": "openvino"},
    "openvino bf16 hint": {"backend": "openvino", "precision": "bf16"},
    "openvino int8": {"backend": "openvino", "precision": "int8"},
    "onnxruntime": {"backend": "torch", "runner": "onnxruntime"},
}
BACKEND_SIZES = ((256, 256), (360, 640), (720, 1280))


class OnnxRuntimeNet:
    """``net`` exported to ONNX at each new input shape and run by ONNX Runtime (CPU, fp32)."""

    def __init__(self, net: TransformerNet, threads: int):
        import onnxruntime

        self._ort = onnxruntime
        self._net = prepare_for_inference(net, fast_norm=False, split_output_conv=True, fold_upsample=False).float()
        self._threads = threads
        self._sessions: dict[tuple[int, ...], object] = {}

    def _session(self, shape: tuple[int, ...]):
        if shape not in self._sessions:
            buffer = io.BytesIO()
            with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(self._net, torch.zeros(shape), buffer, opset_version=17, dynamo=False)
            options = self._ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = self._threads, 1
            self._sessions[shape] = self._ort.InferenceSession(
                buffer.getvalue(), options, providers=["CPUExecutionProvider"]
            )
        return self._sessions[shape]

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float().contiguous()
        session = self._session(tuple(x.shape))
        return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])

    def describe(self) -> str:
        return f"onnxruntime {self._ort.__version__} fp32"


def attach_runner(engine, net: TransformerNet, runner: str | None, threads: int) -> None:
    """Give ``engine`` the benchmark-only runner named ``runner`` (None: keep its own)."""
    if runner == "onnxruntime":
        engine.runner = OnnxRuntimeNet(net, threads)
    elif runner is not None:
        raise ValueError(f"unknown runner {runner!r}")


def backends_table(rows: list[tuple[str, tuple[int, int], int, dict[str, float], dict[str, float]]]) -> str:
    """ms/frame per backend (the 4th item of a row) and its speed-up over today's engine, one row per
    (net, size, threads)."""
    labels = list(BACKEND_VARIANTS)
    lines = [
        "| net | size | threads | " + " | ".join(labels) + " |",
        "|---|---|---|" + "---|" * len(labels),
    ]
    for arch, (h, w), threads, ms, _ in rows:
        base = ms.get(labels[0])
        cells = []
        for label in labels:
            value = ms.get(label)
            if value is None:
                cells.append("-")
            else:
                ratio = f" ({base / value:.2f}x)" if base and label != labels[0] else ""
                cells.append(f"{value:.0f}{ratio}")
        lines.append(f"| {arch} | {h}x{w} | {threads} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
