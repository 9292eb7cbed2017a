"""Painting a large photo at a long side of 1024 and scaling back up, against painting it at full size (issue 25).

A transform net paints strokes of a fixed size in pixels, so on a large photo the style turns into a
faint texture. Each held-out photo is enlarged to ``--long-side`` (Lanczos; the project has no large
camera photos, so this is a stand-in), stylized with each ``--paint-size`` (0 = full size) and scored
with the style metric at its long side of 512, i.e. as the whole picture looks on a screen:
style ratio (lower = more of the style), content distance, and seconds per photo.

    python -m benchmarks.bench_paint_size --style mosaic --count 3 --long-side 2048
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from PIL import Image

from realtime_style.runtime.process import configure_process
from realtime_style.api import Stylizer
from realtime_style.image_files import load_rgb
from realtime_style.media.paint_scale import PaintAtScale
from realtime_style.metrics.style import StyleMetric, resolve_style_image
from benchmarks.shared_data import held_out_photos
from benchmarks.entry import run_as_command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", default="mosaic")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--long-side", type=int, default=2048)
    parser.add_argument("--paint-size", type=int, nargs="+", default=[0, 1024, 512])
    args = parser.parse_args()
    configure_process()  # as rtstyle does: tuned malloc, cuDNN autotuning (the entry point's job)
    stylizer = Stylizer(args.style, device="cpu")
    model = stylizer.engine.style_model
    style_image = resolve_style_image(model.info, model_path=model.path)
    metric = StyleMetric("cpu")
    photos = held_out_photos(args.count)
    rows: dict[int, list[tuple[float, float, float]]] = {size: [] for size in args.paint_size}
    for path in photos:
        photo = load_rgb(path)
        scale = args.long_side / max(photo.size)
        big = np.asarray(photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS))
        for size in args.paint_size:
            started = time.perf_counter()
            output = PaintAtScale(stylizer.stylize_frames, size)(big)
            seconds = time.perf_counter() - started
            score = metric.score(big, output, style_image)
            rows[size].append((score.style_ratio, score.content_distance, seconds))
            print(f"{path.name} paint {size or 'full'}: ratio {score.style_ratio:.3f} content {score.content_distance:.3f} {seconds:.1f} s", flush=True)
    print(f"\n{args.style}, {len(photos)} photos enlarged to a long side of {args.long_side}, style image {style_image.name}")
    for size, values in rows.items():
        ratio, content, seconds = np.mean(values, axis=0)
        print(f"paint size {size or 'full':>5}: style ratio {ratio:.3f}  content distance {content:.3f}  {seconds:.1f} s/photo")


if __name__ == "__main__":
    run_as_command(main)
