"""argparse value types shared by every command: numbers with a range, checked at parse time."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def bounded_float(low: float, high: float) -> Callable[[str], float]:
    """argparse type: a float in [low, high]."""

    def parse(text: str) -> float:
        value = _finite(float, text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}, got {text}")
        return value

    return parse


def positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """argparse type: a positive int or float (finite: ``inf`` and ``nan`` are refused)."""

    def parse(text: str) -> int | float:
        value = _finite(kind, text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def non_negative(text: str) -> float:
    """argparse type: a finite float of 0 or more (a loss weight, a rate that may be 0)."""
    value = _finite(float, text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _finite(kind: type[int] | type[float], text: str) -> int | float:
    """``text`` as ``kind``; ``inf`` and ``nan`` are refused (no option means either)."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a {'number' if kind is float else 'whole number'}: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def seconds(allow_zero: bool = False) -> Callable[[str], float]:
    """argparse type: a time as seconds (``90``, ``2.5``) or ``[H:]M:S`` (``1:30``, ``0:01:30.5``);
    positive (or also 0 with ``allow_zero``)."""

    def parse(text: str) -> float:
        parts = text.strip().split(":")
        try:
            if len(parts) > 3 or any(not part.strip() for part in parts):
                raise ValueError
            values = [float(part) for part in parts]
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a time: {text!r} (give seconds, e.g. 90, or M:S, e.g. 1:30)") from None
        if any(value < 0 for value in values):
            raise argparse.ArgumentTypeError(f"not a time: {text!r} (negative)")
        if any(value >= 60 for value in values[1:]):
            raise argparse.ArgumentTypeError(f"not a time: {text!r} (minutes and seconds after a colon are 0-59)")
        total = 0.0
        for value in values:
            total = total * 60 + value
        if not total < float("inf"):
            raise argparse.ArgumentTypeError(f"not a time: {text!r}")
        if total == 0 and not allow_zero:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return total

    return parse


def int_between(low: int, high: int | None = None) -> Callable[[str], int]:
    """argparse type: a whole number in [low, high] (no upper bound when ``high`` is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if high is not None and not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {text}")
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {text}")
        return value

    return parse


def int_at_least(low: int) -> Callable[[str], int]:
    """argparse type: a whole number of at least ``low``."""
    return int_between(low)


def dimensions(low: int = 1) -> Callable[[str], tuple[int, int]]:
    """argparse type: ``AxB`` (e.g. ``640x360``) -> ``(A, B)``, two whole numbers of at least ``low``.

    The order is the flag's (``WxH`` for most, ``HxW`` where a benchmark says so).
    """

    def parse(text: str) -> tuple[int, int]:
        try:
            first, second = (int(v) for v in text.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected two whole numbers as AxB (e.g. 640x360), got {text!r}") from None
        if min(first, second) < low:
            raise argparse.ArgumentTypeError(f"each side must be at least {low}, got {text}")
        return first, second

    return parse


def dimensions_or_height(low: int = 1) -> Callable[[str], tuple[int, int] | int]:
    """argparse type: ``WxH`` -> ``(W, H)``, or one number -> that height; each at least ``low``."""
    pair, height = dimensions(low), int_at_least(low)

    def parse(text: str) -> tuple[int, int] | int:
        return pair(text) if "x" in text.lower() else height(text)

    return parse
