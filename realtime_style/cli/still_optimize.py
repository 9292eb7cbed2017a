"""``rtstyle still IN OUT --optimize``: Gatys optimization of one image (arguments and handler).

``cli/still.py`` adds these arguments to its parser and calls :func:`run_optimize` when
``--optimize`` is given. Where the style comes from, in order, for each ``--style-image`` value
(or the single ``--style`` value):

1. an existing image file: that painting;
2. a style name (see ``rtstyle styles``): the style image named in its model metadata, found by
   :func:`~realtime_style.models.style_images.find_style_image` (``--styles-dir``, beside the model
   file, where training read it, the shipped copies);
3. anything else is an error naming the shipped styles.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from realtime_style.cli.argtypes import non_negative, positive
from realtime_style.cli.common import report
from realtime_style.cli.parser import mark_advanced
from realtime_style.errors import InputError, OutputError, UsageError
from realtime_style.image_tensors import tensor_to_image
from realtime_style.media.images import StillImage, check_image_output, read_image, write_image
from realtime_style.models.style_images import style_image_from_text
from realtime_style.optimize import (
    INITS,
    OPTIMIZERS,
    PRESERVE_COLOR,
    OptimizeOptions,
    OptimizeResult,
    StepRecord,
    optimize_image,
    resize,
    to_image_tensor,
)
from realtime_style.runtime import color

DEFAULTS = OptimizeOptions()
#: The --optimize options ``--help`` shows; the recipe's tuning knobs are listed by ``--help-all``.
EVERYDAY_OPTIMIZE = ("optimize", "style_image", "size", "iterations")


def int_list(text: str) -> tuple[int, ...]:
    """argparse type: ``256,512,1024`` -> (256, 512, 1024), all positive."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def add_optimize_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--optimize`` group (``--style`` must be optional: :func:`check_fast_arguments` asks for it)."""
    group = parser.add_argument_group("optimize (Gatys et al.; no trained model needed)")
    actions: list[argparse.Action] = []

    def add(*flags: str, **options: Any) -> None:
        actions.append(group.add_argument(*flags, **options))

    add("--optimize", action="store_true", help="optimize the image itself: slow, best quality")
    add(
        "--style-image",
        nargs="+",
        metavar="IMAGE",
        help="style image file(s), or shipped style name(s) whose own style image to use",
    )
    add("--style-weights", nargs="+", type=non_negative, metavar="W", help="blend weights")
    add(
        "--color-mode",
        choices=PRESERVE_COLOR,
        default="luminance",
        help="how --preserve-color keeps the input's colours: luminance (default) takes only luminance from the "
        "style; histogram first matches the style image's colours to the input's (--optimize only)",
    )
    add(
        "--styles-dir", default=None, help="folder of the style images the models name (default: beside each model, then shipped)"
    )
    add(
        "--long-side", dest="size", type=positive(int), default=DEFAULTS.size, help="output long side (default 512)"
    )
    add(
        "--scales",
        type=int_list,
        default=None,
        help="coarse-to-fine long sides, e.g. 512,1024,2048 "
        "(default: one scale up to 512 px, else halve --long-side down to 512)",
    )
    add(
        "--iterations",
        type=int_list,
        default=None,
        help=f"iterations per scale: one number for every scale or one per scale (default {DEFAULTS.iterations})",
    )
    add("--init", default="content", help=f"{' | '.join(INITS)} | PATH of a start image")
    add("--optimizer", choices=OPTIMIZERS, default=DEFAULTS.optimizer, help="default lbfgs")
    add("--lr", type=positive(float), default=None, help="step size (default 1 for L-BFGS, 0.02 Adam)")
    add("--content-weight", type=non_negative, default=DEFAULTS.content_weight)
    add("--style-weight", type=non_negative, default=DEFAULTS.style_weight)
    add("--tv-weight", type=non_negative, default=DEFAULTS.tv_weight)
    add("--style-scale", type=positive(float), default=1.0, help="style image size / output size")
    add("--seed", type=int, default=0, help="seed of --init noise (default 0)")
    add("--save-every", type=positive(int), default=None, metavar="N", help="save every N iterations")
    for action in actions:
        if action.dest not in EVERYDAY_OPTIMIZE:
            mark_advanced(action)
    _defer_defaults(parser, actions)


#: The options of the optimize group that the fast networks do not take (style image, colour mode: checked apart).
_CHECKED_APART = ("optimize", "style_image", "color_mode")


def _defer_defaults(parser: argparse.ArgumentParser, actions: list[argparse.Action]) -> None:
    """Optimize-only options parse to None unless given, so the fast path can refuse them; ``run_optimize``
    puts their defaults back (``args.optimize_defaults``: dest -> (flag, default))."""
    deferred = {}
    for action in actions:
        if action.dest not in _CHECKED_APART:
            deferred[action.dest] = (action.option_strings[0], action.default)
            action.default = None
    parser.set_defaults(optimize_defaults=deferred)


def _fill_deferred_defaults(args: argparse.Namespace) -> None:
    for dest, (_flag, default) in args.optimize_defaults.items():
        if getattr(args, dest) is None:
            setattr(args, dest, default)


def check_fast_arguments(args: argparse.Namespace) -> None:
    """What the fast-network path needs from the arguments that :func:`add_optimize_arguments` widened."""
    optimize_only = [
        flag
        for flag, value in (("--style-image", args.style_image), ("--color-mode histogram", args.color_mode == "histogram"))
        if value
    ]
    optimize_only += [flag for dest, (flag, _default) in args.optimize_defaults.items() if getattr(args, dest) is not None]
    if optimize_only:
        verb = "applies" if len(optimize_only) == 1 else "apply"
        raise UsageError(f"{', '.join(optimize_only)} {verb} only to --optimize (see rtstyle still --help)")
    if not args.style:
        raise InputError("--style is required (or use --optimize with --style-image)")


def resolve_style_source(text: str, styles_dir: str | None = None) -> Path:
    """An image file, or the style image of the style ``text`` (see the module docstring)."""
    return style_image_from_text(text, styles_dir)


def options_from_args(args: argparse.Namespace) -> OptimizeOptions:
    size = args.size
    if args.scales and args.size != DEFAULTS.size and args.scales[-1] != args.size:
        raise InputError(f"--long-side {args.size} disagrees with the last of --scales {args.scales}")
    if args.scales:
        size = args.scales[-1]
    iterations = DEFAULTS.iterations if args.iterations is None else args.iterations
    if isinstance(iterations, tuple) and len(iterations) == 1:
        iterations = iterations[0]
    init = args.init
    if init not in INITS and not Path(init).expanduser().is_file():
        raise InputError(f"--init {init!r}: expected {' or '.join(INITS)} or an existing image file")
    try:
        options = OptimizeOptions(
            size=size,
            scales=args.scales,
            iterations=iterations,
            content_weight=args.content_weight,
            style_weight=args.style_weight,
            tv_weight=args.tv_weight,
            style_blend=tuple(args.style_weights) if args.style_weights else None,
            style_scale=args.style_scale,
            optimizer=args.optimizer,
            learning_rate=args.lr,
            init=init,
            seed=args.seed,
            preserve_color=args.color_mode if args.preserve_color else None,
            device=args.device,
        )
        options.schedule()
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return options


def _refuse_fast_only_flags(args: argparse.Namespace) -> None:
    fast_only = {
        "--max-size": args.max_size is not None,
        "--scale": args.scale is not None,
        "--batch-size": args.batch_size is not None,
        "--arch": args.arch is not None,
        "--precision": args.precision != "auto",
        "--backend openvino": getattr(args, "speed_backend", None) == "openvino",  # optimizing needs autograd: torch
        "--paint-size": getattr(args, "paint_size", None) is not None,
    }
    used = [flag for flag, given in fast_only.items() if given]
    if used:
        raise InputError(f"{', '.join(used)} does not apply to --optimize (use --long-side; it runs in float32)")
    if args.style and args.style_image:
        raise InputError("give the style with --style or --style-image, not both")
    if not args.style and not args.style_image:
        raise InputError("--optimize needs --style-image IMAGE (or --style with a shipped style name)")


def _check_output(path: Path, source: Path) -> None:
    """Fail before a long optimization, not after it."""
    from realtime_style.video import refuse_same_file

    if path.is_dir():
        raise OutputError(f"{path}: is a folder; --optimize writes one image file")
    check_image_output(path)
    refuse_same_file(source, path)


def intermediate_path(output: Path, record: StepRecord) -> Path:
    """``out.jpg`` -> ``out.512px.0050.jpg``."""
    return output.with_name(f"{output.stem}.{record.size}px.{record.iteration:04d}{output.suffix}")


class _IntermediateSaver:
    """The ``--save-every`` callback: writes the best image so far every N iterations of each scale."""

    def __init__(self, output: Path, every: int):
        self.output, self.every, self.saved = output, every, set()

    def __call__(self, record: StepRecord, image) -> None:
        key = (record.size, record.iteration)
        if record.iteration and record.iteration % self.every == 0 and key not in self.saved:
            self.saved.add(key)
            write_image(intermediate_path(self.output, record), StillImage(rgb=tensor_to_image(image)))


def run_optimize(args: argparse.Namespace) -> int:
    """The handler of ``rtstyle still IN OUT --optimize ...``."""
    _refuse_fast_only_flags(args)
    _fill_deferred_defaults(args)
    source, output = Path(args.input), Path(args.output)
    if source.is_dir():
        raise InputError(f"{source}: --optimize takes one image file, not a folder")
    _check_output(output, source)
    styles = [resolve_style_source(text, args.styles_dir) for text in (args.style_image or [args.style])]
    options = options_from_args(args)
    content = read_image(source)
    style_pixels = [read_image(path).rgb for path in styles]
    names = ", ".join(path.name for path in styles)
    report(args, f"{source} -> {output}: optimizing with {names}, scales {options.schedule()} (size, iterations)")
    callback = _IntermediateSaver(output, args.save_every) if args.save_every else None
    result = optimize_image(content.rgb, style_pixels, options, callback=callback, progress=not args.quiet)
    _write_result(output, result, content.rgb, args.strength)
    for note in result.notes:
        report(args, note)
    report(args, summary(result, output))
    return 0


def _write_result(output: Path, result: OptimizeResult, content_rgb: np.ndarray, strength: float) -> None:
    """Write the result; ``--strength`` below 1 blends it with the (resized) input first."""
    image = result.image
    if strength < 1.0:
        original = resize(to_image_tensor(content_rgb), tuple(image.shape[-2:]))
        image = color.blend(image, original, strength)
    write_image(output, StillImage(rgb=tensor_to_image(image)))


def summary(result: OptimizeResult, output: Path) -> str:
    change = result.saved_losses.total / result.losses.total - 1 if result.losses.total else 0.0
    return (
        f"wrote {output} in {result.seconds:.1f} s on {result.device}; final {result.losses.describe()}; "
        f"as saved (clipped, 8-bit) total {result.saved_losses.total:.4g} ({change:+.2%})"
    )
