"""Small helpers shared by the media modules."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, without the path FFmpeg and OSError repeat."""
    reason = getattr(exc, "strerror", None)
    if isinstance(reason, str) and reason:
        return reason
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
