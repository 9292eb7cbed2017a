"""Off switches for the engine's fast paths and the process's settings, as command-line flags.

A command that stylizes adds them with :func:`add_speed_arguments` and passes
:func:`speed_options` (EngineOptions field overrides) on to the engine. ``--threads``,
``--no-tune-allocator`` and ``--no-cudnn-benchmark`` are the process's (ProcessOptions):
:func:`process_options` gathers them once for the whole run, at the entry point. Every flag
defaults to the engine's (or the command's) own choice, so only flags the user gives change anything.
"""

from __future__ import annotations

import argparse
from dataclasses import fields, replace

from realtime_style.cli.argtypes import positive
from realtime_style.cli.parser import mark_advanced
from realtime_style.runtime.backends import BACKENDS
from realtime_style.runtime.engine import EngineOptions
from realtime_style.runtime.process import ProcessOptions

BACKEND_HELP = (
    "who runs the net on a CPU: auto (default: torch on GPUs; on a CPU the faster of torch and openvino "
    "for this machine, net and frame size, probed once and remembered), torch or openvino"
)


def add_backend_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, default: str | None = None) -> argparse.Action:
    """``--backend auto|torch|openvino`` (stored as the EngineOptions field ``backend``)."""
    return parser.add_argument("--backend", dest="speed_backend", choices=BACKENDS, default=default, help=BACKEND_HELP)


#: Switches a user meets in ``--help``; the others are tuning switches listed by ``--help-all``.
EVERYDAY = ("--compile",)
#: Destination prefixes: ``speed_<EngineOptions field>`` and ``process_<ProcessOptions field>``.
ENGINE, PROCESS = "speed_", "process_"
#: flag -> (destination: prefix + field, value it sets, help)
SWITCHES: dict[str, tuple[str, bool, str]] = {
    "--no-fast-norm": (ENGINE + "fast_norm", False, "InstanceNorm via a float32 round trip (slower on CPU)"),
    "--no-split-conv": (ENGINE + "split_output_conv", False, "plain 9x9 output convolution (slower on CPU)"),
    "--no-fold-upsample": (ENGINE + "fold_upsample", False, "upsample, then 3x3 convolution (slower on CPU)"),
    "--no-tune-allocator": (PROCESS + "tune_allocator", False, "leave glibc malloc's thresholds alone"),
    "--channels-last": (ENGINE + "channels_last", True, "NHWC activations (default on CUDA only)"),
    "--no-channels-last": (ENGINE + "channels_last", False, "NCHW activations"),
    "--no-pinned-buffers": (ENGINE + "pinned_buffers", False, "CUDA: pin each batch anew"),
    "--no-cudnn-benchmark": (PROCESS + "cudnn_benchmark", False, "CUDA: no cuDNN autotuning"),
    "--no-copy-streams": (ENGINE + "copy_streams", False, "CUDA: transfers on the compute stream (no overlap)"),
    "--cuda-graphs": (ENGINE + "cuda_graphs", True, "CUDA: replay the network as a CUDA graph (off: not yet measured)"),
    "--no-cuda-graphs": (ENGINE + "cuda_graphs", False, "CUDA: no CUDA graphs"),
    "--compile": (ENGINE + "compile", True, "torch.compile the network (slow first frame, cached on disk)"),
}


def add_speed_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--backend``, ``--threads``, ``--compile-mode`` and the switches in :data:`SWITCHES`."""
    mark_advanced(add_backend_argument(parser))  # auto does the right thing: a tuning switch (--help-all)
    for flag, (dest, value, help_text) in SWITCHES.items():
        action = parser.add_argument(flag, dest=dest, action="store_const", const=value, default=None, help=help_text)
        if flag not in EVERYDAY:
            mark_advanced(action)
    parser.add_argument(
        "--threads", dest=PROCESS + "threads", metavar="N", type=positive(int), default=None, help="CPU threads"
    )
    mark_advanced(
        parser.add_argument("--compile-mode", dest="speed_compile_mode", metavar="MODE", default=None, help="torch.compile mode")
    )


def speed_options(args: argparse.Namespace) -> dict:
    """The EngineOptions fields the user set: ``EngineOptions(**base, **speed_options(args))``."""
    return _given(args, ENGINE, EngineOptions)


def process_options(args: argparse.Namespace) -> ProcessOptions:
    """The process settings for this run: the command's own (``args.default_process(args)``, set by
    ``set_defaults``; else ProcessOptions' defaults), with the flags the user gave on top."""
    default = getattr(args, "default_process", None)
    return replace(default(args) if default else ProcessOptions(), **_given(args, PROCESS, ProcessOptions))


def _given(args: argparse.Namespace, prefix: str, options: type) -> dict:
    """The ``prefix``-ed arguments the user set that name fields of ``options``, without the prefix."""
    names = {f.name for f in fields(options)}
    return {
        key[len(prefix) :]: value
        for key, value in vars(args).items()
        if key.startswith(prefix) and value is not None and key[len(prefix) :] in names
    }
