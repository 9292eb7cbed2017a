"""Arguments shared by the commands that stylize (style, device, look, size), and their parsing."""

from __future__ import annotations

import argparse
import sys

from realtime_style.api import Stylizer
from realtime_style.cli.argtypes import bounded_float, int_at_least, positive
from realtime_style.cli.parser import mark_advanced
from realtime_style.cli.person import add_person_arguments, person_from_args
from realtime_style.cli.speed import add_speed_arguments, speed_options
from realtime_style.runtime.engine import PRECISION_NAMES, EngineOptions
from realtime_style.media.geometry import Resize
from realtime_style.models.transformer import ARCHITECTURES


#: Said before a ``--compile`` run, whose first frames wait silently for torch.compile otherwise.
COMPILE_NOTE = "--compile: the first frames wait for torch.compile (20-60 s on a CPU; cached on disk for later runs)"


def add_style_arguments(parser: argparse.ArgumentParser, style_required: bool = True) -> None:
    """``--style`` and ``--arch``."""
    parser.add_argument(
        "--style", required=style_required, metavar="NAME", help="shipped style name (see `rtstyle styles`) or model file path"
    )
    parser.add_argument(
        "--arch",
        choices=sorted(ARCHITECTURES),
        default=None,
        help="which shipped variant of the style to use (default: standard; ignored for a file path)",
    )


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """``--device``, ``--precision``, ``--batch-size``."""
    group = parser.add_argument_group("engine")
    group.add_argument(
        "--device", default="auto", metavar="DEV", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps"
    )
    precision = group.add_argument(
        "--precision",
        choices=PRECISION_NAMES,
        default="auto",
        help="auto: fp16 on GPUs, bf16 on CPUs with native bf16, else fp32; int8: CPU, OpenVINO + NNCF "
        "(pip install 'rtstyle[int8]'), 1.5-2x faster on CPUs with VNNI or AMX, slightly changes the look",
    )
    batch = group.add_argument("--batch-size", type=positive(int), default=None, help="frames per batch (default per device)")
    mark_advanced(precision)
    mark_advanced(batch)
    add_speed_arguments(group)


def add_look_arguments(parser: argparse.ArgumentParser) -> None:
    """``--strength`` and ``--preserve-color``."""
    group = parser.add_argument_group("look")
    group.add_argument(
        "--strength", type=bounded_float(0.0, 1.0), metavar="S", default=1.0, help="0 = original, 1 = fully stylized"
    )
    group.add_argument(
        "--preserve-color", action="store_true", help="keep the input's colours, take only luminance from the style"
    )


def add_resize_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """``--max-size`` and ``--scale``; returns their group."""
    group = parser.add_argument_group("size")
    group.add_argument("--scale", type=positive(float), metavar="F", help="resize the input by this factor first")
    group.add_argument("--max-size", type=int_at_least(2), metavar="PX", help="cap the longer side at this many pixels")
    return group


def add_stylize_arguments(parser: argparse.ArgumentParser, style_required: bool = True) -> argparse._ArgumentGroup:
    """Every argument above, in the order ``--help`` shows them; returns the ``size`` group, where a command
    adds its own size options. ``style_required=False`` where another mode needs no model (``still --optimize``)."""
    add_style_arguments(parser, style_required)
    add_look_arguments(parser)
    add_person_arguments(parser)
    size = add_resize_arguments(parser)
    add_engine_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.add_argument("-v", "--verbose", action="store_true", help="also report the engine's settings")
    return size


def resize_from_args(args: argparse.Namespace) -> Resize:
    return Resize(max_size=args.max_size, scale=args.scale)


def stylizer_from_args(args: argparse.Namespace, probe_backends: bool = True) -> Stylizer:
    """Load the model and prepare the engine the arguments ask for (``probe_backends``: see :class:`EngineOptions`)."""
    if getattr(args, "speed_compile", None):
        report(args, COMPILE_NOTE)
    engine = EngineOptions(
        device=args.device,
        precision=args.precision,
        batch_size=args.batch_size,
        probe_backends=probe_backends,
        **speed_options(args),
    )
    return Stylizer(
        args.style,
        arch=args.arch,
        strength=args.strength,
        preserve_color=args.preserve_color,
        engine=engine,
        person=person_from_args(args),
    )


def describe_stylizer(args: argparse.Namespace, stylizer: Stylizer) -> str:
    """``mosaic on cpu``; with ``--verbose`` also precision, layout, batch and fast paths (``rtstyle info`` has the machine)."""
    if getattr(args, "verbose", False):
        return stylizer.describe()
    int8 = ", int8" if stylizer.engine.options.precision == "int8" else ""
    return f"{stylizer.engine.name} on {stylizer.engine.device}{int8}"


def report(args: argparse.Namespace, message: str) -> None:
    """A status line on stderr, unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(f"rtstyle: {message}", file=sys.stderr, flush=True)


def warn(message: str) -> None:
    """A warning line on stderr, shown even with ``--quiet`` (something the user must know)."""
    print(f"rtstyle: warning: {message}", file=sys.stderr, flush=True)
