"""A compact copy of a training checkpoint, small enough to commit, that ``--resume`` continues.

A long run outlives the machine it started on: only what is committed survives. A full checkpoint
holds float32 weights and Adam's two float32 moments (about 20 MB for the standard net). The compact
copy stores the weights as float16 and either Adam's moments as bfloat16 (``keep_optimizer``) or no
optimizer at all, in which case the resumed run restarts Adam and ramps the learning rate up over
``warmup_steps`` (see :func:`warmup_factor`). Step, configuration, RNG state and the data position
(a function of the step) are kept exactly.

    python -m realtime_style.training.compact runs/mosaic/checkpoint.pt training/runs/mosaic.pt [--no-optimizer]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

from realtime_style.errors import InputError, RtStyleError
from .checkpoint import load_checkpoint, save_checkpoint

#: Steps over which a run resumed without optimizer state ramps its learning rate back up.
DEFAULT_WARMUP_STEPS = 50


def _cast_floats(value: Any, dtype: torch.dtype) -> Any:
    """``value`` with every floating-point tensor inside it (dicts, lists) cast to ``dtype``."""
    if isinstance(value, torch.Tensor):
        return value.to(dtype) if value.is_floating_point() and value.dim() > 0 else value
    if isinstance(value, dict):
        return {key: _cast_floats(item, dtype) for key, item in value.items()}
    if isinstance(value, list):
        return [_cast_floats(item, dtype) for item in value]
    return value


def compact_state(state: dict[str, Any], keep_optimizer: bool, warmup_steps: int = DEFAULT_WARMUP_STEPS) -> dict[str, Any]:
    """The checkpoint ``state`` with float16 weights and bfloat16 Adam moments, or no optimizer state."""
    compact = dict(state)
    compact.pop("format", None)
    compact["model"] = _cast_floats(state["model"], torch.float16)
    if keep_optimizer:
        compact["optimizer"] = _cast_floats(state["optimizer"], torch.bfloat16)
    else:
        compact["optimizer"] = {}
        compact["warmup"] = {"from_step": int(state["step"]), "steps": int(warmup_steps)}
    return compact


def warmup_factor(warmup: dict[str, int] | None, step: int) -> float:
    """The learning-rate factor at ``step`` of a run that restarted Adam at ``warmup['from_step']``: linear from 1/steps to 1."""
    if not warmup or warmup.get("steps", 0) <= 0:
        return 1.0
    done = step - int(warmup["from_step"]) + 1
    return min(1.0, max(done, 1) / int(warmup["steps"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m realtime_style.training.compact", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a training checkpoint (runs/STYLE-ARCH/checkpoint.pt)")
    parser.add_argument("out", type=Path, help="the compact checkpoint to write")
    parser.add_argument("--no-optimizer", dest="keep_optimizer", action="store_false",
                        help="leave Adam's moments out (a third of the size); the resumed run ramps its learning rate up again")
    parser.add_argument("--warmup-steps", type=int, default=DEFAULT_WARMUP_STEPS, metavar="N",
                        help=f"with --no-optimizer: steps of learning-rate ramp after resuming (default {DEFAULT_WARMUP_STEPS})")
    args = parser.parse_args(argv)
    try:
        if args.warmup_steps < 0:
            raise InputError(f"--warmup-steps must be 0 or more, got {args.warmup_steps}")
        state = load_checkpoint(args.checkpoint)
        path = save_checkpoint(args.out, compact_state(state, args.keep_optimizer, args.warmup_steps))
    except RtStyleError as exc:
        print(f"training.compact: error: {exc}", file=sys.stderr)
        return exc.exit_code
    size = path.stat().st_size / 1e6
    print(f"wrote {path} ({size:.1f} MB, step {state['step']}); continue with --resume {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
