"""``rtstyle eval``: quality measurements. ``eval styles`` is the style metric (metrics/style.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from realtime_style.cli.argtypes import int_at_least
from realtime_style.cli.eval_flicker import register_flicker
from realtime_style.cli.speed import add_backend_argument
from realtime_style.runtime.engine import PRECISION_NAMES, select_device
from realtime_style.errors import StyleNotFoundError
from realtime_style.metrics import style as style_metric
from realtime_style.models.store import distinct_labels, list_styles
from realtime_style.progress import Progress


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval", help="measure style strength and temporal flicker")
    eval_subparsers = parser.add_subparsers(dest="eval_command", metavar="METRIC", required=True)
    _register_styles(eval_subparsers)
    register_flicker(eval_subparsers)


def _register_styles(eval_subparsers: argparse._SubParsersAction) -> None:
    parser = eval_subparsers.add_parser(
        "styles",
        help="style ratio and content distance of styles on photos",
        description=(
            "Stylize photos with each style and measure, at a long side of 512 px with VGG19 Gram matrices: "
            "style ratio = SD(output)/SD(photo) (lower = more of the style) and content distance at relu4_2. "
            "Prints a table with the mean and worst of both per style (--json: the full report as JSON)."
        ),
    )
    parser.add_argument(
        "--style",
        action="append",
        metavar="NAME",
        help="style name or model file (repeatable; default: every shipped style)",
    )
    parser.add_argument(
        "--photos",
        type=Path,
        metavar="DIR",
        help="folder of your photos (searched recursively; COUNT spread evenly over them); "
        "default: the held-out photos of the data folder $RTSTYLE_DATA names (content/bsds500/val_*)",
    )
    parser.add_argument(
        "--count", type=int_at_least(1), default=style_metric.DEFAULT_PHOTO_COUNT, help="photos to use (default 32)"
    )
    parser.add_argument(
        "--style-image", type=Path, metavar="PATH",
        help="measure every --style against this painting (default: the one each model names)",
    )
    parser.add_argument(
        "--styles-dir", type=Path, metavar="DIR", help="folder of the style images the models name (default: beside each model, then the shipped ones)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    add_backend_argument(parser, default="torch")  # torch: the reference figures; another backend scores its own output
    parser.add_argument(
        "--precision", choices=PRECISION_NAMES, default="fp32",
        help="fp32 (default, with --backend torch: the net as trained); another scores the CPU engine's output in it, e.g. int8",
    )
    parser.add_argument("--per-photo", action="store_true", help="include every photo's figures (table and JSON)")
    parser.add_argument(
        "--layers",
        action="store_true",
        help="add the style ratio of each VGG layer to the table, relu1_1 (colours, fine texture) to relu5_1 "
        "(the largest motifs): where a net misses the painting",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument("--output", "-o", type=Path, metavar="FILE", help="also write the JSON report to FILE")
    parser.set_defaults(handler=run_styles)


def run_styles(args: argparse.Namespace) -> int:
    styles = args.style or [str(path) for path, _ in list_styles()]
    if not styles:
        raise StyleNotFoundError("no styles are installed; pass --style NAME_OR_FILE")
    if args.photos is not None:
        photos = style_metric.select_photos(args.photos, args.count)
        source = str(args.photos)
    else:
        photos = style_metric.default_photos(args.count)
        source = str(photos[0].parent / style_metric.DEFAULT_PHOTO_PATTERN)
    device = select_device(args.device)
    progress = _StageProgress()
    try:
        scores = style_metric.evaluate_styles(
            styles,
            photos,
            style_image=args.style_image,
            styles_dir=args.styles_dir,
            device=device,
            backend=args.speed_backend,
            precision=args.precision,
            progress=progress,
            metric=style_metric.StyleMetric(device),
        )
    finally:
        progress.close()
    report = {
        "metric": {
            "long_side": style_metric.EVAL_LONG_SIDE,
            "style_layers": list(style_metric.STYLE_LAYERS),
            "content_layer": style_metric.CONTENT_LAYER,
            "style_ratio": "SD(output) / SD(photo), SD = mean over layers of |G(x)-G(style)|^2 / |G(style)|^2",
            "content_distance": "|F(output)-F(photo)|^2 / |F(photo)|^2 at relu4_2",
        },
        "photos": {"source": source, "count": len(photos), "files": [p.name for p in photos]},
        "device": str(device),
        "backend": args.speed_backend,
        "precision": args.precision,
        "styles": [score.to_dict(per_photo=args.per_photo) for score in scores],
    }
    text = json.dumps(report, indent=2)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
    print(text if args.json else styles_table(scores, source, per_photo=args.per_photo, layers=args.layers))
    return 0


def styles_table(
    scores: list[style_metric.StyleScore], source: str, per_photo: bool = False, layers: bool = False
) -> str:
    """The scores as a plain-text table: one row per style, its mean and worst (photo) figures
    (``layers``: then the style ratio per VGG layer)."""
    photos = scores[0].photos if scores else 0
    names = list(style_metric.STYLE_LAYERS) if layers else []
    rows = [("style", "style ratio", "worst", "content distance", "worst", *names)]
    labels = distinct_labels([score.model or score.style for score in scores], [score.style for score in scores])
    for score, label in zip(scores, labels):
        rows.append((label, f"{score.mean_style_ratio:.3f}",
                     f"{score.worst_style_ratio:.3f} ({Path(score.worst_style_ratio_photo).stem})",
                     f"{score.mean_content_distance:.3f}",
                     f"{score.worst_content_distance:.3f} ({Path(score.worst_content_distance_photo).stem})",
                     *(f"{score.mean_layer_ratios[name]:.3f}" for name in names)))
        if per_photo:
            rows += [(f"  {Path(pair.photo).stem}", f"{pair.style_ratio:.3f}", "", f"{pair.content_distance:.3f}", "",
                      *(f"{pair.layer_ratios[name]:.3f}" for name in names))
                     for pair in score.per_photo]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [f"{photos} photos of {source} at a long side of {style_metric.EVAL_LONG_SIDE} px; "
             "lower is better on both figures (style ratio: more of the painting; content distance: more of the photo)", ""]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


class _StageProgress:
    """``progress(stage, done, total)`` of :func:`evaluate_styles`: the photos' features, then each style in turn."""

    def __init__(self) -> None:
        self.bar: Progress | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.bar is None or self.bar.label != stage:
            self.close()
            self.bar = Progress(stage, total, unit="photo")
        self.bar.update(done - self.bar.done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
