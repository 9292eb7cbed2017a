"""Live controls: key bindings, a thread-safe command queue, and a standard-input reader.

The preview window's keys, lines typed on standard input, and Python callers all turn into
:class:`Command` objects in one :class:`Controls` queue; the session applies them between frames
on its own thread, so no state is shared across threads.
"""

from __future__ import annotations

import enum
import queue
import sys
import threading
from dataclasses import dataclass
from typing import TextIO


class Action(enum.Enum):
    NEXT_STYLE = "next style"
    PREVIOUS_STYLE = "previous style"
    SELECT_STYLE = "select style"
    STRENGTH = "strength"
    TOGGLE_COLOR = "preserve colour"
    TOGGLE_TEMPORAL = "temporal smoothing"
    CYCLE_PERSON = "person mode"
    SNAPSHOT = "snapshot"
    PAUSE = "pause"
    QUIT = "quit"


@dataclass(frozen=True)
class Command:
    action: Action
    #: Style index for SELECT_STYLE, strength change for STRENGTH.
    value: float = 0


#: Strength change per key press.
STRENGTH_STEP = 0.1

KEYS: dict[str, Command] = {
    "n": Command(Action.NEXT_STYLE),
    "p": Command(Action.PREVIOUS_STYLE),
    "+": Command(Action.STRENGTH, STRENGTH_STEP),
    "=": Command(Action.STRENGTH, STRENGTH_STEP),
    "-": Command(Action.STRENGTH, -STRENGTH_STEP),
    "c": Command(Action.TOGGLE_COLOR),
    "t": Command(Action.TOGGLE_TEMPORAL),
    "k": Command(Action.CYCLE_PERSON),
    "s": Command(Action.SNAPSHOT),
    " ": Command(Action.PAUSE),
    "q": Command(Action.QUIT),
    "\x1b": Command(Action.QUIT),
}

HELP = "keys: n/p or 1-9 style, +/- strength, c colour, t smoothing, k keep person/background, s snapshot, space pause, q quit"


def command_for_key(key: str) -> Command | None:
    """The command bound to one key (digits 1-9 select styles 1-9), or None."""
    if len(key) == 1 and key in "123456789":
        return Command(Action.SELECT_STYLE, int(key) - 1)
    return KEYS.get(key.lower() if key.isalpha() else key)


class Controls:
    """A queue of commands; the public methods are the Python face of the live keys."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Command] = queue.SimpleQueue()

    def send(self, command: Command) -> None:
        self._queue.put(command)

    def key(self, key: str) -> bool:
        """Queue the command bound to ``key``; False when the key means nothing."""
        command = command_for_key(key)
        if command is not None:
            self.send(command)
        return command is not None

    def drain(self) -> list[Command]:
        """Every command queued so far, oldest first."""
        commands = []
        while True:
            try:
                commands.append(self._queue.get_nowait())
            except queue.Empty:
                return commands

    def next_style(self) -> None:
        self.send(Command(Action.NEXT_STYLE))

    def previous_style(self) -> None:
        self.send(Command(Action.PREVIOUS_STYLE))

    def select_style(self, index: int) -> None:
        self.send(Command(Action.SELECT_STYLE, index))

    def change_strength(self, delta: float) -> None:
        self.send(Command(Action.STRENGTH, delta))

    def toggle_color(self) -> None:
        self.send(Command(Action.TOGGLE_COLOR))

    def toggle_temporal(self) -> None:
        self.send(Command(Action.TOGGLE_TEMPORAL))

    def cycle_person(self) -> None:
        """Off -> keep person -> keep background (-> person style) -> off."""
        self.send(Command(Action.CYCLE_PERSON))

    def snapshot(self) -> None:
        self.send(Command(Action.SNAPSHOT))

    def toggle_pause(self) -> None:
        self.send(Command(Action.PAUSE))

    def quit(self) -> None:
        self.send(Command(Action.QUIT))


def command_for_line(line: str) -> Command | None:
    """A line typed on standard input: its first key (``space`` or a blank line of spaces pauses)."""
    if line.strip().lower() in ("space", "pause"):
        return KEYS[" "]
    text = line.rstrip("\r\n")
    key = text.strip()[:1] or text[:1]
    return command_for_key(key) if key else None


def start_stdin_controls(controls: Controls, stream: TextIO | None = None) -> threading.Thread | None:
    """Read one command per line from ``stream`` (standard input) on a daemon thread; None without one."""
    stream = sys.stdin if stream is None else stream
    if stream is None or stream.closed:
        return None

    def run() -> None:
        for line in stream:
            command = command_for_line(line)
            if command is not None:
                controls.send(command)

    thread = threading.Thread(target=run, name="rtstyle-stdin", daemon=True)
    thread.start()
    return thread
