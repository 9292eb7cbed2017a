"""Output sizes: ``--max-size`` / ``--scale`` arithmetic shared by stills and videos."""

from __future__ import annotations

from dataclasses import dataclass

from realtime_style.errors import InputError

#: The longest side ``--scale`` may make: 16K, past which decoders, encoders and memory give out.
MAX_SCALED_SIDE = 16384


@dataclass(frozen=True)
class Resize:
    """How to resize an input before stylizing it.

    ``scale`` multiplies both sides; ``max_size`` then caps the longer side (aspect ratio kept).
    Neither set means the input's own size. Sizes are only ever *computed* here; the sources
    and image readers do the resampling.
    """

    max_size: int | None = None
    scale: float | None = None

    def __post_init__(self) -> None:
        if self.max_size is not None and self.max_size < 2:
            raise ValueError(f"max_size must be at least 2, got {self.max_size}")
        if self.scale is not None and not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale}")

    @property
    def active(self) -> bool:
        return self.max_size is not None or (self.scale is not None and self.scale != 1.0)

    def apply(self, width: int, height: int, even: bool = False) -> tuple[int, int]:
        """The output size for a ``width`` x ``height`` input.

        ``even`` rounds a *changed* size to even numbers (what 4:2:0 video codecs need); an
        unchanged size is returned as it is, so an odd-sized input keeps its exact size.
        """
        if not self.active:
            return width, height
        factor = self.scale or 1.0
        w, h = width * factor, height * factor
        if self.max_size is not None and max(w, h) > self.max_size:
            shrink = self.max_size / max(w, h)
            w, h = w * shrink, h * shrink
        if (w, h) == (width, height):
            return width, height
        step = 2 if even else 1
        new_w = max(step, int(w / step + 0.5) * step)
        new_h = max(step, int(h / step + 0.5) * step)
        if even and self.max_size is not None:
            new_w = min(new_w, max(step, self.max_size // step * step))
            new_h = min(new_h, max(step, self.max_size // step * step))
        if max(new_w, new_h) > max(MAX_SCALED_SIDE, width, height):
            raise InputError(
                f"--scale {self.scale:g} makes the {width}x{height} input {new_w}x{new_h}, larger than "
                f"{MAX_SCALED_SIDE} px a side; use a smaller --scale (or add --max-size)"
            )
        return new_w, new_h


def even_size(width: int, height: int) -> tuple[int, int]:
    """The nearest even size, one pixel less (or, for a side of 1, one more) where a side is odd.

    4:2:0 video (yuv420p, the only H.264 every browser, phone and QuickTime plays) needs even sides.
    """
    return tuple(side - side % 2 if side > 1 else 2 for side in (width, height))  # type: ignore[return-value]
