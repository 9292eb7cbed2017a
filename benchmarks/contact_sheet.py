"""Contact sheet: every shipped style on a few photos, as one labelled PNG grid (docs/contact_sheet.png).

Rows are model files (``mosaic``, ``mosaic.light``, ...), led by a crop of the style image; the first row
shows the photos. Each photo is centre-cropped to 4:3, stylized at 512x384 in float32 (the metric's
scale: strokes look as they do on a 512-px image) and shown at the tile size. The PNG is palette-
quantized, then shrunk, until it fits the size budget.

    python -m benchmarks.contact_sheet                    # every shipped style -> docs/contact_sheet.png
    python -m benchmarks.contact_sheet --style mosaic --photo ../shared/data/content/nst_classics/lion.jpg

With ``--reference NET`` (a net of ``../shared/anchors``, e.g. ``johnson-mosaic``) the sheet gains a row of that
GPU-trained reference net, run by the anchors' own runner on the same crops, and the photos default to held-out
eval photos. Such a sheet is for looking only: the anchors' outputs may not enter the project, so it is written
to ``runs/reference_sheet.png`` (git-ignored) and never under ``docs/``::

    python -m benchmarks.contact_sheet --style mosaic --style runs/m.safetensors --reference johnson-mosaic
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from benchmarks.shared_data import ANCHORS, SHARED_DATA, held_out_photos
from realtime_style.demo import draw_label
from realtime_style.errors import InputError
from realtime_style.image_files import load_rgb
from realtime_style.media.images import StillImage, write_image
from realtime_style.metrics.style import resolve_style_image
from realtime_style.models.store import StyleModel, distinct_labels, list_styles, load_model
from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.runtime.process import configure_process
from benchmarks.entry import run_as_command

DEFAULT_PHOTOS = ("chicago", "golden_gate", "tubingen", "lion", "flowers")
PROCESS_SIZE = (512, 384)
TILE_SIZE = (256, 192)
GAP = 4
MAX_BYTES = 1_500_000
REFERENCE_SHEET = Path("runs/reference_sheet.png")
PROJECT_DOCS = Path(__file__).resolve().parents[1] / "docs"


def crop_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Centre crop to the aspect ratio of ``size`` (width, height), then resize to it."""
    h, w = image.shape[:2]
    target = size[0] / size[1]
    if w / h > target:
        cw = round(h * target)
        image = image[:, (w - cw) // 2 : (w - cw) // 2 + cw]
    else:
        ch = round(w / target)
        image = image[(h - ch) // 2 : (h - ch) // 2 + ch]
    interpolation = cv2.INTER_AREA if image.shape[1] > size[0] else cv2.INTER_CUBIC
    return cv2.resize(image, size, interpolation=interpolation)


def tile(image: np.ndarray, label: str | None = None) -> np.ndarray:
    small = crop_to(image, TILE_SIZE)
    return draw_label(small, label, scale=0.5) if label else small


def grid(rows: list[list[np.ndarray]]) -> np.ndarray:
    """Tiles (all TILE_SIZE) in rows, separated by white gaps."""
    tw, th = TILE_SIZE
    columns = max(len(row) for row in rows)
    sheet = np.full((len(rows) * (th + GAP) - GAP, columns * (tw + GAP) - GAP, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            sheet[r * (th + GAP) : r * (th + GAP) + th, c * (tw + GAP) : c * (tw + GAP) + tw] = image
    return sheet


def encode_png(sheet: np.ndarray, max_bytes: int = MAX_BYTES) -> bytes:
    """PNG bytes of ``sheet``: RGB if it fits, else 256-colour palette, shrinking until it fits."""
    image = Image.fromarray(sheet)
    while True:
        palette = image.quantize(256, method=Image.Quantize.MEDIANCUT)
        dithered = image.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)  # no banding in skies
        for candidate in (image, dithered):
            buffer = io.BytesIO()
            candidate.save(buffer, "PNG", optimize=True)
            if buffer.tell() <= max_bytes:
                return buffer.getvalue()
        image = image.resize((round(image.width * 0.9), round(image.height * 0.9)), Image.Resampling.LANCZOS)


def style_row(model: StyleModel, photos: list[np.ndarray], styles_dir: Path | None, label: str) -> list[np.ndarray]:
    engine = Engine(model, EngineOptions(device="cpu", precision="fp32"))
    try:
        first = tile(np.asarray(load_rgb(resolve_style_image(model.info, styles_dir=styles_dir))), label)
    except InputError:  # no style image at hand: a grey tile with the name
        first = draw_label(np.full((TILE_SIZE[1], TILE_SIZE[0], 3), 200, np.uint8), label, scale=0.5)
    return [first, *(tile(engine.stylize(crop_to(photo, PROCESS_SIZE))) for photo in photos)]


def reference_row(net: str, photos: list[np.ndarray], anchors: Path = ANCHORS) -> list[np.ndarray]:
    """A row of the reference net ``net``, run by ``anchors/stylize.py`` (a subprocess) on the same crops."""
    runner = anchors / "stylize.py"
    if not runner.is_file():
        raise InputError(f"no reference runner at {runner}: --reference needs ../shared/anchors beside the checkout")
    with tempfile.TemporaryDirectory(prefix="rtstyle-reference-") as folder:
        inputs, outputs = Path(folder) / "in", Path(folder) / "out"
        inputs.mkdir()
        for index, photo in enumerate(photos):
            write_image(inputs / f"{index:02d}.png", StillImage(rgb=crop_to(photo, PROCESS_SIZE)))
        done = subprocess.run([sys.executable, str(runner), "--net", net, "--input", str(inputs), "--output", str(outputs),
                               "--threads", "1"], capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise InputError(f"the reference runner failed for {net!r}: {last}")
        painted = [np.asarray(load_rgb(outputs / f"{index:02d}.png")) for index in range(len(photos))]
    label = draw_label(np.full((TILE_SIZE[1], TILE_SIZE[0], 3), 200, np.uint8), f"reference: {net}", scale=0.5)
    return [label, *(tile(image) for image in painted)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", action="append", help="style name or model file (default: every shipped style)")
    parser.add_argument("--photo", action="append", type=Path, help="photo (default: five nst_classics photos)")
    parser.add_argument("--styles-dir", type=Path, default=None, help="folder of the style images")
    parser.add_argument("--reference", action="append", default=[], metavar="NET",
                        help="add a row of a GPU-trained reference net from ../shared/anchors (for looking only)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"PNG to write (default docs/contact_sheet.png; {REFERENCE_SHEET} with --reference)")
    args = parser.parse_args(argv)
    out = args.out or (REFERENCE_SHEET if args.reference else Path("docs/contact_sheet.png"))
    if args.reference and out.resolve().is_relative_to(PROJECT_DOCS):
        print("a sheet with reference rows may not go under docs/: the anchors' outputs stay out of the project",
              file=sys.stderr)
        return 2
    configure_process()  # as rtstyle does: tuned malloc, cuDNN autotuning (the entry point's job)
    styles = args.style or [str(path) for path, _ in list_styles()]
    if not styles:
        print("no styles are shipped yet", file=sys.stderr)
        return 1
    photo_paths = args.photo or (held_out_photos(4) if args.reference else
                                 [SHARED_DATA / "content" / "nst_classics" / f"{name}.jpg" for name in DEFAULT_PHOTOS])
    photos = [np.asarray(load_rgb(path)) for path in photo_paths]
    header = [np.full((TILE_SIZE[1], TILE_SIZE[0], 3), 255, np.uint8)] + [
        tile(photo, path.stem) for photo, path in zip(photos, photo_paths)
    ]
    rows = [header]
    models = [load_model(style) for style in styles]
    for model, label in zip(models, distinct_labels(styles, [model.name for model in models])):
        print(f"{label} ...", file=sys.stderr, flush=True)
        rows.append(style_row(model, photos, args.styles_dir, label))
    try:
        for net in args.reference:
            print(f"reference {net} ...", file=sys.stderr, flush=True)
            rows.append(reference_row(net, photos))
    except InputError as error:
        print(error, file=sys.stderr)
        return 2
    data = encode_png(grid(rows))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(f"{out}: {len(rows) - 1} rows x {len(photos)} photos, {len(data) / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    run_as_command(main)
