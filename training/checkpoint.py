"""Training checkpoints: written atomically (temp file + rename), read without unpickling code."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from realtime_style.atomic_file import write_atomically
from realtime_style.errors import InputError, OutputError, first_line

CHECKPOINT_FORMAT = 1
CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` so that a crash or a full disk leaves the old or the new file, never half of one.

    The checkpoint is serialized in memory first: torch.save straight into a file reports a full disk
    as an obscure RuntimeError, while a plain write gives the OSError (and its errno) to report.
    """
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **state}, buffer)
    try:
        return write_atomically(path, buffer.getbuffer())
    except OSError as exc:
        raise OutputError(f"cannot write checkpoint {path}: {exc.strerror or exc}; any previous checkpoint is kept") from None


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint (tensors and plain data only); a missing, corrupt or foreign file is an InputError."""
    if not path.is_file():
        raise InputError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        raise InputError(f"{path} is a model file, not a training checkpoint: start from it with --init {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to parse means the file is unusable
        # PyTorch's own message advises weights_only=False, i.e. running whatever code the file holds: not repeated.
        reason = (
            "PyTorch cannot read it safely: a damaged file, another kind of file, or one holding Python objects"
            if "Weights only load failed" in str(exc) else first_line(exc)
        )
        raise InputError(f"corrupt or unreadable checkpoint {path}: {reason}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path} is not an rtstyle training checkpoint (format {CHECKPOINT_FORMAT})")
    missing = [key for key in ("step", "model", "optimizer", "rng", "config") if key not in state]
    if missing:
        raise InputError(f"checkpoint {path} lacks {', '.join(missing)}")
    return state
