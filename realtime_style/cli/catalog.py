"""``rtstyle styles`` and ``rtstyle info``: what is installed and what this machine offers."""

from __future__ import annotations

import argparse
import json
import platform

import torch

from realtime_style.runtime.backends.choices import ChoiceFile, cpu_label
from realtime_style.runtime.backends.int8 import int8_instructions, nncf_status
from realtime_style.runtime.backends.openvino_net import default_precision, openvino_status, openvino_version
from realtime_style.runtime.engine import cpu_has_fast_bf16, select_backend, select_device, select_precision
from realtime_style.runtime.process import describe_process
from realtime_style.models.store import ModelInfo, list_styles, model_folders


def register(subparsers: argparse._SubParsersAction) -> None:
    styles = subparsers.add_parser("styles", help="list the shipped styles and their metadata")
    styles.add_argument("--json", action="store_true", help="print the full metadata as JSON")
    styles.set_defaults(handler=run_styles)
    info = subparsers.add_parser("info", help="versions, devices, threads and model folders")
    info.set_defaults(handler=run_info)


def run_styles(args: argparse.Namespace) -> int:
    entries = list_styles()
    if args.json:
        print(json.dumps([{"path": str(p), **json.loads(i.to_json())} for p, i in entries], indent=2))
        return 0
    if not entries:
        print("no styles installed; folders searched: " + ", ".join(map(str, model_folders())))
        return 0
    print(f"{'STYLE':28s} {'NET':9s} {'STEPS':>7s}  STYLE IMAGE")
    for path, info in entries:
        name = path.name.removesuffix(".safetensors")
        print(f"{name:28s} {info.arch:9s} {training_steps(info):7d}  {info.style_image or '-'}")
    return 0


def training_steps(info: ModelInfo) -> int:
    """Steps of the whole training, fine-tunes it started from included (``training.total_iterations``)."""
    total = info.training.get("total_iterations") if isinstance(info.training, dict) else None
    return int(total) if isinstance(total, (int, float)) and total >= info.iterations else info.iterations


def run_info(args: argparse.Namespace) -> int:
    import av
    import cv2
    import numpy

    from realtime_style import __version__

    device = select_device("auto")
    lines = {
        "rtstyle": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "av": av.__version__,
        "platform": platform.platform(),
        "processor": f"{cpu_label()}, {platform.machine()}",
        "threads": describe_process(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not available",
        "cpu bf16": "native" if cpu_has_fast_bf16() else "emulated (fp32 used)",
        "default device": f"{device} ({str(select_precision(device)).removeprefix('torch.')})",
        "openvino": openvino_version() or str(openvino_status()),
        "backends": backends_line(device),
        "int8": int8_line(),
        "backend probes": probes_line(),
        "model folders": ", ".join(map(str, model_folders())),
        "styles": str(len(list_styles())),
    }
    for key, value in lines.items():
        print(f"{key:15s} {value}")
    return 0


def backends_line(device: torch.device) -> str:
    """Which backend and precision each device uses with ``--backend auto``."""
    cpu = torch.device("cpu")
    torch_cpu = f"torch {str(select_precision(cpu)).removeprefix('torch.')}"
    if select_backend(cpu, "auto") == "auto":
        cpu_line = f"cpu: {torch_cpu} or openvino {default_precision()}, the faster per net and frame size (probed)"
    else:
        cpu_line = f"cpu: {torch_cpu} (openvino unavailable)"
    if device.type == "cpu":
        return cpu_line
    return f"{device}: torch {str(select_precision(device)).removeprefix('torch.')}; {cpu_line}"


def int8_line() -> str:
    """Whether ``--precision int8`` runs here, and whether this CPU has the int8 instructions it pays on."""
    reason = openvino_status() or nncf_status()
    if reason is not None:
        return f"unavailable: {reason}"
    instructions = int8_instructions()
    if instructions:
        return f"--precision int8 available (CPU has {', '.join(instructions)})"
    return "--precision int8 available, but this CPU has no VNNI or AMX: expect little speed-up"


def probes_line() -> str:
    """How many backend choices ``auto`` remembers, and where."""
    choices = ChoiceFile()
    picked = [choices.get(key) for key in choices.entries()]
    counts = {name: sum(1 for c in picked if c and c.backend == name) for name in ("openvino", "torch")}
    return f"{len(picked)} in {choices.path} ({counts['openvino']} openvino, {counts['torch']} torch)"
