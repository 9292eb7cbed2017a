"""``rtstyle train`` (the training package's options) and ``rtstyle export`` (checkpoint/model -> model file, ONNX)."""

from __future__ import annotations

import argparse
from pathlib import Path

from realtime_style.cli.argtypes import int_at_least
from realtime_style.cli.parser import mark_advanced_flags
from realtime_style.errors import InputError, OutputError

#: The oldest ONNX opset that exports the net's size-dependent padding.
MIN_ONNX_OPSET = 11

#: Options of the training recipe that ``rtstyle train --help`` leaves to ``--help-all``.
TRAIN_TUNING = (
    "--style-size", "--scale-size", "--schedule", "--fast-size", "--final-fraction", "--lr-schedule", "--lr-min",
    "--seed", "--content-layer", "--style-layers", "--content-weight", "--tv-weight", "--stability-weight",
    "--clamp-output", "--teacher", "--checkpoint-every", "--log-every", "--sample-images", "--precision",
    "--channels-last", "--workers", "--sources",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    from realtime_style.training.cli import add_train_arguments, process_options, run_train

    train = subparsers.add_parser(
        "train",
        help="train a style model from a style image and a folder of photos",
        description="Train a transform network (Johnson et al.) with a VGG19 perceptual loss. "
        "Same options as `python -m realtime_style.training`; for several GPUs use "
        "`torchrun --nproc_per_node=N -m realtime_style.training`.",
    )
    add_train_arguments(train)
    mark_advanced_flags(train, TRAIN_TUNING)
    train.set_defaults(handler=run_train, default_process=process_options)

    export = subparsers.add_parser(
        "export",
        help="turn a training checkpoint into a model file, or a model into ONNX",
        description="MODEL is a model file, a shipped style name or a training checkpoint (.pt). "
        "--out writes a model file: from a checkpoint, or a model file rewritten in the current storage format (float16).",
    )
    export.add_argument("model", metavar="MODEL")
    export.add_argument("--out", help="model file to write (from a checkpoint, or a model file rewritten as float16)")
    export.add_argument("--onnx", metavar="OUT.onnx", help="also export to ONNX (dynamic batch, height, width)")
    export.add_argument("--opset", type=int_at_least(MIN_ONNX_OPSET), default=17,
                        help=f"ONNX opset ({MIN_ONNX_OPSET} or later; default 17)")
    export.add_argument("--no-check", dest="check", action="store_false", help="skip the onnxruntime comparison")
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from realtime_style.training.export import export_checkpoint, export_onnx, rewrite_model

    model = args.model
    if model.endswith(".pt") and not args.out:
        raise InputError("exporting a checkpoint needs --out MODEL.safetensors")
    if not args.out and not args.onnx:
        raise InputError("nothing to do: give --onnx OUT.onnx and/or --out MODEL.safetensors")
    for out in filter(None, (args.out, args.onnx)):
        if not Path(out).parent.is_dir():
            raise OutputError(f"{out}: folder {Path(out).parent} does not exist")
    if args.onnx and Path(args.onnx).suffix.lower() != ".onnx":
        raise OutputError(f"{args.onnx}: an ONNX file's name ends in .onnx, e.g. {Path(args.onnx).with_suffix('.onnx')}")
    if args.out:
        model = str(export_checkpoint(model, args.out) if model.endswith(".pt") else rewrite_model(model, args.out))
        print(f"wrote {model}")
    if args.onnx:
        difference = export_onnx(model, args.onnx, opset=args.opset, check=args.check)
        check = "" if difference is None else f" (max |onnxruntime - torch| = {difference:.2e})"
        print(f"wrote {Path(args.onnx)}{check}")
    return 0
