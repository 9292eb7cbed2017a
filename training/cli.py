"""Command-line options of training, shared by ``python -m realtime_style.training`` and ``rtstyle train``."""

from __future__ import annotations

import argparse
import sys
import threading
from dataclasses import fields
from typing import TypeVar
from pathlib import Path

from realtime_style.cli.argtypes import bounded_float, int_at_least, non_negative, positive
from realtime_style.cli.outcome import run_reporting_errors
from realtime_style.cli.signals import stop_on_signals
from realtime_style.errors import InputError, OutputError
from realtime_style.image_files import IMAGE_SUFFIXES, is_image_file
from realtime_style.models.style_images import style_image_from_text
from realtime_style.models.transformer import ARCHITECTURES
from realtime_style.models.vgg import LAYER_NAMES, minimum_input_size
from realtime_style.runtime.process import ProcessOptions, configure_process
from .checkpoint import CHECKPOINT_NAME
from .config import Phase, TrainOptions, build_schedule, parse_schedule
from .distributed import cpu_threads_per_rank
from .loss import LossWeights

T = TypeVar("T")


DEFAULTS = LossWeights()


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Every option of a training run."""
    parser.add_argument("--style-image", required=True, help="the style image (JPEG/PNG), or a style's name for its painting")
    parser.add_argument("--dataset", required=True, help="folder tree of photos (e.g. COCO train2014/), searched recursively")
    parser.add_argument("--out", help="model file to write (default: STYLE.safetensors here, STYLE.light.safetensors "
                                      "for --arch light, STYLE named after the style image)")
    parser.add_argument("--style-name", help="style name in the model's metadata (default: the style image's stem)")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="skip dataset files matching GLOB relative to --dataset (repeatable), e.g. 'bsds500/val_*'")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="standard", help="network size")
    parser.add_argument("--image-size", type=int_at_least(1), default=256, help="training crop size (default 256)")
    parser.add_argument("--style-size", type=int_at_least(1), default=512, help="long side of the style image (default 512)")
    parser.add_argument("--scale-size", type=int_at_least(1), default=None,
                        help="short side photos are scaled to before cropping (default: the largest crop size)")
    parser.add_argument("--batch-size", type=int_at_least(1), default=4)
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--iterations", type=int_at_least(1), default=None, help="optimizer steps (default 2000)")
    length.add_argument("--epochs", type=positive(float), default=None, help="passes over the dataset instead of --iterations")
    length.add_argument("--schedule", help="explicit multi-resolution schedule SIZE:STEPS,..., e.g. 128:3000,256:500")
    parser.add_argument("--fast", action="store_true",
                        help="CPU recipe: most steps at --fast-size, the last --final-fraction at --image-size")
    parser.add_argument("--fast-size", type=int_at_least(1), default=128)
    parser.add_argument("--final-fraction", type=bounded_float(0, 1), default=0.15,
                        help="with --fast: the share of steps at --image-size (default 0.15)")
    parser.add_argument("--lr", type=positive(float), default=1e-3, help="Adam learning rate")
    parser.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant",
                        help="constant, or cosine decay from --lr to --lr-min over the run (default constant)")
    parser.add_argument("--lr-min", type=non_negative, default=0.0, help="the learning rate a cosine schedule ends at (default 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--content-layer", default=DEFAULTS.content_layer,
                        help="VGG19 layer of the content term; more than one adds shallower or deeper terms, each "
                             "with its weight against the first, e.g. relu4_2,relu2_2:0.2 (default relu2_2)")
    parser.add_argument("--style-layers", default=",".join(DEFAULTS.style_layers),
                        help="comma-separated VGG19 layers, each optionally with a weight in the style mean, "
                             "e.g. relu2_1,relu3_1,relu4_1:8 (default: all weigh 1)")
    parser.add_argument("--content-weight", type=non_negative, default=DEFAULTS.content_weight)
    parser.add_argument("--style-weight", type=non_negative, default=DEFAULTS.style_weight)
    parser.add_argument("--tv-weight", type=non_negative, default=DEFAULTS.tv_weight)
    parser.add_argument("--stability-weight", type=non_negative, default=DEFAULTS.stability_weight,
                        help="weight of the stability loss against flicker (training/stability.py; default 0 = off)")
    parser.add_argument("--clamp-output", action=argparse.BooleanOptionalAction, default=DEFAULTS.clamp_output,
                        help="score the output clamped to [0, 1], as it is shown (straight-through gradient; for fine-tuning a trained net)")
    parser.add_argument("--teacher", metavar="MODEL",
                        help="distill: train to reproduce this trained model (pixel L1; no VGG), e.g. a light net from the standard one")
    parser.add_argument("--init", metavar="MODEL",
                        help="start from this trained model's weights (fine-tune), e.g. another style's net: converges in fewer steps than a random init")
    parser.add_argument("--run-dir", help="checkpoints, logs and samples (default: runs/<style>-<arch>)")
    parser.add_argument("--resume", nargs="?", const="auto", default=None, metavar="CHECKPOINT",
                        help=f"continue from CHECKPOINT (default: <run-dir>/{CHECKPOINT_NAME})")
    parser.add_argument("--time-limit", type=positive(float), default=None, metavar="MINUTES",
                        help="stop after MINUTES of training in this run: checkpoint and model file at the step reached (--resume goes on)")
    parser.add_argument("--checkpoint-every", type=int_at_least(1), default=200, metavar="N")
    parser.add_argument("--log-every", type=int_at_least(1), default=20, metavar="N")
    parser.add_argument("--sample-images", nargs="*", default=None, metavar="PHOTO",
                        help="photos stylized at each checkpoint (default: 4 photos of the dataset)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--fast-step", action=argparse.BooleanOptionalAction, default=True,
                        help="compute each step the fastest measured way: same losses (training/step_options.py; default on)")
    parser.add_argument("--workers", type=int_at_least(0), default=1, help="DataLoader worker processes")
    parser.add_argument("--sources", help="SOURCES.md to take the style's source and licence from (default: found near the style image)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> tuple[TrainOptions, str | None]:
    """The run's configuration and the checkpoint to resume from (None for a fresh run)."""
    style = style_image_from_text(args.style_image)  # a file, or a style's name: its painting
    if not is_image_file(style):
        raise InputError(f"style image {style} is not an image file ({', '.join(IMAGE_SUFFIXES)})")
    if not args.lr_min <= args.lr:
        raise InputError(f"--lr-min must not exceed --lr ({args.lr}), got {args.lr_min}")
    style_name = args.style_name or style.stem
    run_dir = args.run_dir or str(Path("runs") / f"{style_name}-{args.arch}")
    out = args.out or default_model_file(style_name, args.arch, resuming=bool(args.resume))
    if args.schedule:
        try:
            schedule = parse_schedule(args.schedule)
        except ValueError as exc:
            raise InputError(f"--schedule: {exc}") from None
    else:
        iterations = args.iterations if args.iterations is not None else 2000
        if args.epochs is not None:
            from .data import dataset_images

            images = len(dataset_images(args.dataset, args.exclude))
            iterations = max(1, round(args.epochs * images / args.batch_size))
        schedule = build_schedule(iterations, args.image_size, args.fast, args.fast_size, args.final_fraction)
    style_layers, style_layer_weights = parse_layers(args.style_layers, "--style-layers")
    content_layer, extra_content_layers = parse_content_layers(args.content_layer)
    weights = from_args(
        LossWeights, args, style_layers=style_layers, style_layer_weights=style_layer_weights,
        content_layer=content_layer, extra_content_layers=extra_content_layers,
    )
    check_crop_sizes(schedule, weights, args.teacher)
    config = from_args(
        TrainOptions,
        args,
        style_image=str(style),
        run_dir=run_dir,
        style_name=style_name,
        out=out,
        exclude=tuple(args.exclude),
        schedule=schedule,
        weights=weights,
        sample_images=tuple(args.sample_images) if args.sample_images is not None else (),
        time_limit_s=args.time_limit * 60.0 if args.time_limit is not None else None,
    )
    resume = None
    if args.resume:
        resume = str(Path(run_dir) / CHECKPOINT_NAME) if args.resume == "auto" else args.resume
    else:
        refuse_used_run_dir(Path(run_dir))
    return config, resume


def parse_layers(text: str, flag: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """``relu1_1,relu4_1:8`` -> the layers and their weights (empty when no layer has one: all weigh the same)."""
    layers, weights, weighted = [], [], False
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        name, colon, weight = entry.partition(":")
        weighted = weighted or bool(colon)
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise InputError(f"{flag}: {entry!r}: the weight after ':' is not a number") from None
        if not 0 <= value < float("inf"):
            raise InputError(f"{flag}: {entry!r}: a weight must be a number of 0 or more")
        layers.append(name.strip())
        weights.append(value)
    if not layers:
        raise InputError(f"{flag}: no layer given")
    if not sum(weights) > 0:
        raise InputError(f"{flag}: every weight is 0")
    if len(set(layers)) != len(layers):
        raise InputError(f"{flag}: a layer is named twice in {text!r}")
    return tuple(layers), (tuple(weights) if weighted else ())


def parse_content_layers(text: str) -> tuple[str, tuple[tuple[str, float], ...]]:
    """``relu4_2,relu2_2:0.2`` -> the main content layer and the others with their weights against its 1."""
    layers, weights = parse_layers(text, "--content-layer")
    if weights and weights[0] != 1.0:
        raise InputError(
            f"--content-layer: the first layer weighs 1 (scale the whole term with --content-weight); got {text!r}"
        )
    return layers[0], tuple(zip(layers[1:], weights[1:] if weights else [1.0] * (len(layers) - 1)))


def from_args(options: type[T], args: argparse.Namespace, **derived: object) -> T:
    """The dataclass ``options`` from the command-line values named like its fields, ``derived`` values winning."""
    same_named = {f.name: getattr(args, f.name) for f in fields(options) if hasattr(args, f.name)}
    return options(**{**same_named, **derived})


def default_model_file(style_name: str, arch: str, resuming: bool) -> str:
    """Where a run without ``--out`` writes its model: named as shipped styles are (``candy``, ``candy.light``).

    A fresh run refuses to overwrite such a file that is already there (given ``--out``, it is the user's call).
    """
    out = f"{style_name}.safetensors" if arch == "standard" else f"{style_name}.{arch}.safetensors"
    if not resuming and Path(out).exists():
        raise OutputError(f"{out} already exists: give --out for this run's model file (or remove that file)")
    return out


def refuse_used_run_dir(run_dir: Path) -> None:
    """A fresh run must not overwrite another run's checkpoint or add to its log."""
    used = [name for name in (CHECKPOINT_NAME, "log.jsonl") if (run_dir / name).exists()]
    if used:
        raise OutputError(
            f"run folder {run_dir} already holds a run ({', '.join(used)}): continue it with --resume, "
            "or give another --run-dir (or remove that folder)"
        )


def check_crop_sizes(schedule: tuple[Phase, ...], weights: LossWeights, teacher: str | None) -> None:
    """Refuse crops too small for the loss network's deepest layer (each VGG pooling halves the crop)."""
    layers = (*weights.style_layers, *weights.content_layers)
    unknown = [layer for layer in layers if layer not in LAYER_NAMES]
    if unknown:
        raise InputError(f"unknown VGG19 layer(s) {', '.join(unknown)}; known: relu1_1 ... relu5_4 (see --help)")
    if teacher:  # distillation compares pixels: the transform network takes any size
        return
    smallest = minimum_input_size(layers)
    for phase in schedule:
        if phase.size < smallest:
            raise InputError(
                f"crop size {phase.size} is too small: the loss layers (deepest {max(layers, key=LAYER_NAMES.index)}) "
                f"need at least {smallest} pixels (--image-size / --fast-size / --schedule)"
            )


def run_train(args: argparse.Namespace) -> int:
    """Handler of ``rtstyle train`` / ``python -m realtime_style.training``."""
    from realtime_style.metrics.style import spread_evenly
    from .data import dataset_images
    from .train import TrainingInterrupted, train

    config, resume = config_from_args(args)
    if args.sample_images is None:
        files = dataset_images(config.dataset, config.exclude)
        config.sample_images = tuple(str(p) for p in spread_evenly(files, 4))
    try:
        with stop_on_signals(threading.Event()) as stop:  # Ctrl-C / SIGTERM: checkpoint, then stop
            result = train(config, resume, stop)
    except TrainingInterrupted as interrupted:
        print(f"training {interrupted}", file=sys.stderr)
        return interrupted.exit_code
    if result.out is not None:
        print(
            f"wrote {result.out}: {result.steps} steps in {result.wall_time_s / 60:.1f} min, "
            f"final loss {result.losses.get('total', float('nan')):.4f}"
            + (f", {result.skipped_images} unreadable images skipped" if result.skipped_images else "")
        )
        print(f"try it: rtstyle still PHOTO OUT.jpg --style {result.out}")
        if result.steps < config.iterations:
            print(f"time limit reached at step {result.steps}/{config.iterations}; continue with --resume")
    return 0


def process_options(args: argparse.Namespace) -> ProcessOptions:
    """Training's process settings: with ``--fast-step`` freed activation maps stay mapped (tuned malloc);
    torchrun ranks on CPUs share the host's cores; cuDNN autotuning stays off (PyTorch's default)."""
    return ProcessOptions(threads=cpu_threads_per_rank(args.device), tune_allocator=args.fast_step, cudnn_benchmark=False)


def main(argv: list[str] | None = None) -> int:
    """``python -m realtime_style.training ...`` (also what ``torchrun -m realtime_style.training`` runs): the entry point of its process."""
    parser = argparse.ArgumentParser(prog="python -m realtime_style.training", description="Train a style transform network.")
    add_train_arguments(parser)
    args = parser.parse_args(argv)

    def configured_run() -> int:
        configure_process(process_options(args))
        return run_train(args)

    return run_reporting_errors(configured_run, "training")
