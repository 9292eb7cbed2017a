"""The project's data beside the checkout (``../shared/data``): the benchmarks' default inputs.

The library never looks there by itself (an installed package has no checkout beside it); benchmarks
run from a checkout and default to it.
"""

from __future__ import annotations

from pathlib import Path

from realtime_style.metrics.style import DEFAULT_PHOTO_PATTERN, select_photos

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: GPU-trained reference nets and their runner: for looking and measuring only, never shipped or copied.
ANCHORS = SHARED_DATA.parent / "anchors"


def held_out_photos(count: int) -> list[Path]:
    """``count`` of the photos training never sees (``content/bsds500/val_*``), spread evenly: the eval set."""
    return select_photos(SHARED_DATA / "content" / "bsds500", count, DEFAULT_PHOTO_PATTERN)
