"""Progress on stderr for jobs that take more than a moment: a bar on a terminal, periodic lines otherwise.

A user waiting on ``rtstyle`` must see that it works and how far it got, also when stderr goes to a
file or a pipe (where a bar would be a mess of carriage returns, or, as tqdm does, nothing at all).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from tqdm import tqdm

#: Seconds between progress lines when stderr is no terminal.
LINE_INTERVAL_S = 5.0


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """Count a job's steps: a tqdm bar on a terminal, else a line every ``interval`` seconds.

    ``rtstyle: video.mp4: 120/400 frames, 24 s, 5.0 frames/s, ~56 s left``
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "item",
        enabled: bool = True,
        interval: float | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label, self.total, self.unit = label, total, unit
        self.interval = LINE_INTERVAL_S if interval is None else interval
        self.stream = stream or sys.stderr
        self.enabled, self.clock = enabled, clock
        self.done = 0
        self.postfix = ""
        self.started = self.last_line = clock()
        self.bar = (
            tqdm(total=total, desc=label, unit=unit, file=self.stream, dynamic_ncols=True)
            if enabled and is_terminal(self.stream)
            else None
        )

    def update(self, count: int = 1) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
            return
        now = self.clock()
        if self.enabled and now - self.last_line >= self.interval:
            self.last_line = now
            print(f"rtstyle: {self.line(now)}", file=self.stream, flush=True)

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        """What the job is at (e.g. the current loss), shown after the count; tqdm's name for it."""
        self.postfix = text
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=refresh)

    def line(self, now: float | None = None) -> str:
        elapsed = (self.clock() if now is None else now) - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        text = f"{self.label}: {count} {self.unit}s, {elapsed:.0f} s"
        if rate > 0:
            text += f", {rate:.3g} {self.unit}s/s"
            if self.total and self.total > self.done:
                text += f", ~{(self.total - self.done) / rate:.0f} s left"
        return f"{text}; {self.postfix}" if self.postfix else text

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextlib.contextmanager
def heartbeat(
    label: str, enabled: bool = True, interval: float | None = None, stream: TextIO | None = None
) -> Iterator[None]:
    """Say ``rtstyle: LABEL: 10 s`` every ``interval`` seconds while one long step runs (a big photo, compiling)."""
    if not enabled:
        yield
        return
    interval = LINE_INTERVAL_S if interval is None else interval
    stream = stream or sys.stderr
    done = threading.Event()
    started = time.monotonic()
    terminal = is_terminal(stream)

    def beat() -> None:
        while not done.wait(interval):
            text = f"rtstyle: {label}: {time.monotonic() - started:.0f} s"
            print(f"\r{text}" if terminal else text, end="" if terminal else "\n", file=stream, flush=True)

    thread = threading.Thread(target=beat, name="rtstyle-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        if terminal and time.monotonic() - started >= interval:
            print(file=stream, flush=True)


class StepsProgress:
    """A ``progress(done, total)`` callback for a job of counted steps, any of which may be long.

    Several steps: a :class:`Progress` over them. A single step (one big photo): a :func:`heartbeat`
    while it runs. ``done`` and ``total`` tell what was reached when the job stopped (e.g. on Ctrl-C).
    """

    def __init__(self, label: str, unit: str, enabled: bool = True, interval: float | None = None):
        self.label, self.unit, self.enabled, self.interval = label, unit, enabled, interval
        self.done, self.total = 0, 0
        self._progress: Progress | None = None
        self._beat: contextlib.ExitStack | None = None

    def __call__(self, done: int, total: int) -> None:
        if self._progress is None and self._beat is None:
            self._start(total)
        if self._progress is not None and done > self.done:
            self._progress.update(done - self.done)
        self.done, self.total = done, total

    def _start(self, total: int) -> None:
        if total > 1:
            self._progress = Progress(self.label, total, self.unit, self.enabled, self.interval)
        else:
            self._beat = contextlib.ExitStack()
            self._beat.enter_context(heartbeat(self.label, self.enabled, self.interval))

    def close(self) -> None:
        if self._progress is not None:
            self._progress.close()
        if self._beat is not None:
            self._beat.close()
