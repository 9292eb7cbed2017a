"""How a benchmark ends when run as a command: a user error is one line, a bug keeps its traceback.

A benchmark is a command like ``rtstyle``'s: a missing clip, an unknown style or a training checkpoint
given as a model is the user's input, so it prints rtstyle's one-line message and exits non-zero.
Anything else is a fault in the benchmark or the library, and its traceback is what a report needs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from realtime_style.cli.outcome import run_reporting_errors


def run_as_command(main: Callable[[], int | None]) -> NoReturn:
    """Run a benchmark's ``main`` and exit with its code, as ``python -m benchmarks.NAME`` does."""
    prog = Path(sys.argv[0]).stem
    sys.exit(run_reporting_errors(main, prog, debug=True))
