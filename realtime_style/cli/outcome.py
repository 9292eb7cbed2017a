"""How a command's end reaches the user: an exit code and at most one line on stderr, never a traceback.

User errors (:class:`RtStyleError`) print their own message. Anything else is a bug or an environment
failure: it prints one line naming the exception and how to see the traceback (``--debug`` or
``RTSTYLE_DEBUG=1``), and the debug switch re-raises it so the traceback reaches a bug report.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from realtime_style.errors import RtStyleError, first_line

#: Environment variable that shows the traceback of an unexpected error (any value but "", "0").
DEBUG_VARIABLE = "RTSTYLE_DEBUG"

#: Exit code of an unexpected error (user errors use their own, 2 by default).
UNEXPECTED_EXIT_CODE = 1


def debug_requested(flag: bool = False) -> bool:
    """Whether tracebacks are wanted: ``--debug`` or ``RTSTYLE_DEBUG`` set to something other than 0."""
    return flag or os.environ.get(DEBUG_VARIABLE, "").strip() not in ("", "0")


def run_reporting_errors(call: Callable[[], int | None], prog: str, debug: bool = False) -> int:
    """Run ``call`` and turn how it ended into an exit code, with at most one line on stderr."""
    try:
        return int(call() or 0)
    except RtStyleError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if debug_requested(debug):
            raise
        print(
            f"{prog}: error: unexpected {type(exc).__name__}: {first_line(exc)} "
            f"(run again with --debug or {DEBUG_VARIABLE}=1 for the traceback, and please report it)",
            file=sys.stderr,
        )
        return UNEXPECTED_EXIT_CODE
