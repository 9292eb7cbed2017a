"""``rtstyle eval flicker IN OUT``: the warping error of a stylized video, as a summary or JSON."""

from __future__ import annotations

import argparse
import json

from realtime_style.metrics.flicker import EVAL_SHORT_SIDE, evaluate_files


def register_flicker(eval_subparsers: argparse._SubParsersAction) -> None:
    """Add the ``flicker`` subcommand to the ``eval`` command's subparsers."""
    parser = eval_subparsers.add_parser(
        "flicker",
        help="warping error (Lai et al. 2018) of a stylized video against its input",
        description=(
            "Warping error of OUT along the optical flow of IN (frames at a short side of "
            f"{EVAL_SHORT_SIDE} px, DIS medium flow, forward-backward occlusion test), the same "
            "figure for IN itself (the floor) and their ratio (--json: as JSON). Compare lossless "
            "or high-quality encodes: compression blur hides flicker."
        ),
    )
    parser.add_argument("input", metavar="IN", help="the source video")
    parser.add_argument("output", metavar="OUT", help="the stylized video (same frames, same aspect ratio)")
    parser.add_argument("--max-frames", type=_frame_count, default=None, metavar="N", help="use only the first N frames of both")
    parser.add_argument("--per-pair", action="store_true", help="also list E_t for every frame pair")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a summary")
    parser.set_defaults(handler=run_flicker)


def _frame_count(text: str) -> int:
    value = int(text) if text.isdigit() else -1
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 2, got {text!r}")
    return value


def run_flicker(args: argparse.Namespace) -> int:
    result = evaluate_files(args.input, args.output, args.max_frames)
    report = {"input": args.input, "output": args.output, **result.to_dict(per_pair=args.per_pair)}
    print(json.dumps(report, indent=2) if args.json else flicker_summary(report))
    return 0


def flicker_summary(report: dict) -> str:
    """The report as a few lines of text: the ratio first (lower is steadier), then what it came from."""
    width, height = report["size"]
    lines = [
        f"flicker: {report['ratio']:.2f}x the input's own warping error (lower is steadier; 1 = as steady as the input)",
        f"warping error: output {report['warping_error']:.6f}, input {report['input_warping_error']:.6f}",
        f"{report['frames']} frames, {report['pairs']} pairs at {width}x{height}"
        + (f", {report['skipped_pairs']} pairs skipped (fully occluded)" if report["skipped_pairs"] else ""),
    ]
    lines += [f"  pair {index}: {value:.6f}" for index, value in enumerate(report.get("per_pair", []))]
    return "\n".join(lines)
