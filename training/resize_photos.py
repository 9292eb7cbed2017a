"""Copy a photo folder at training scale: every photo resized to a short side, same folder tree.

Training scales each photo to ``--scale-size`` (a short side of 341 for the shipped styles) before
it crops, so a copy at that scale, or a spread-out subset of it at a lower JPEG quality, trains the
same while fitting a size budget: for moving a training set to another machine. Measured on the 1754
training photos of ``../shared/data/content`` (97 MB as they are, mostly photos of about that size
already): 88 MB at quality 90; 1000 of them 36 MB at quality 80. A COCO photo (640×480) keeps half its pixels.

    python -m realtime_style.training.resize_photos ../shared/data/content photos341 --short-side 341 \
        --exclude 'bsds500/val_*' [--max-photos 1000] [--quality 80]

Photos are never enlarged (a smaller one is copied at its size); the relative paths are kept, so
the same ``--exclude`` globs still apply to the copy. Unreadable files are skipped and counted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from realtime_style.errors import InputError, OutputError, RtStyleError
from realtime_style.image_files import load_rgb
from realtime_style.metrics.style import spread_evenly
from .data import dataset_images, resize_short_side


@dataclass(frozen=True)
class ResizeJob:
    """What to copy and how."""

    source: Path
    destination: Path
    short_side: int = 341
    exclude: tuple[str, ...] = ()
    max_photos: int | None = None
    quality: int = 90


@dataclass(frozen=True)
class ResizeReport:
    """What a copy wrote."""

    written: int
    skipped: int
    total_bytes: int


def resize_photos(job: ResizeJob) -> ResizeReport:
    """Write every selected photo of ``job.source`` as a JPEG under ``job.destination``."""
    if job.short_side < 1:
        raise InputError(f"--short-side must be at least 1, got {job.short_side}")
    if not 1 <= job.quality <= 100:
        raise InputError(f"--quality must be within 1-100, got {job.quality}")
    if job.max_photos is not None and job.max_photos < 1:
        raise InputError(f"--max-photos must be at least 1, got {job.max_photos}")
    if job.destination.resolve() == job.source.resolve():
        raise InputError("the destination must differ from the source folder")
    files = spread_evenly(dataset_images(job.source, job.exclude), job.max_photos)
    written = skipped = total = 0
    for path in files:
        try:
            image = load_rgb(path)
        except InputError:
            skipped += 1
            continue
        if min(image.size) > job.short_side:
            image = resize_short_side(image, job.short_side)
        target = (job.destination / path.relative_to(job.source)).with_suffix(".jpg")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            image.save(target, "JPEG", quality=job.quality)
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
        written += 1
        total += target.stat().st_size
    return ResizeReport(written=written, skipped=skipped, total_bytes=total)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m realtime_style.training.resize_photos", description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="folder tree of photos")
    parser.add_argument("destination", type=Path, help="folder to write the resized JPEGs to (same tree)")
    parser.add_argument("--short-side", type=int, default=341, help="short side to scale down to (default 341)")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="skip files matching GLOB relative to the source (repeatable), e.g. 'bsds500/val_*'")
    parser.add_argument("--max-photos", type=int, default=None, help="copy only this many, spread over the sorted files")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality (default 90)")
    args = parser.parse_args(argv)
    job = ResizeJob(args.source, args.destination, args.short_side, tuple(args.exclude), args.max_photos, args.quality)
    try:
        report = resize_photos(job)
    except RtStyleError as exc:
        print(f"training.resize_photos: error: {exc}", file=sys.stderr)
        return 2
    print(f"{report.written} photo{'' if report.written == 1 else 's'} ({report.total_bytes / 1e6:.1f} MB) written to {job.destination}"
          + (f"; {report.skipped} unreadable skipped" if report.skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
