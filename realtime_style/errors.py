"""User-facing errors: each carries a one-line message that the CLI prints without a traceback."""

from __future__ import annotations


class RtStyleError(Exception):
    """Base class for every error that is the user's input, not a bug in rtstyle."""

    exit_code = 2


class InputError(RtStyleError):
    """A missing, unreadable or undecodable input file."""


class OutputError(RtStyleError):
    """An output that cannot be written (unwritable folder, full disk, output equal to input)."""


class ModelError(RtStyleError):
    """A model file that is missing, corrupt, hostile or does not match its architecture."""


class StyleNotFoundError(ModelError):
    """A style name that is neither a shipped style nor an existing model file."""


class DeviceError(RtStyleError):
    """A device (GPU, camera, virtual camera, stream) that is absent or was lost."""


class UsageError(RtStyleError):
    """Options that do not go together, or that do not apply to what was asked."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (OSError's reason without the path it repeats), for one-line errors."""
    reason = getattr(exc, "strerror", None)
    if isinstance(reason, str) and reason:
        return reason
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
