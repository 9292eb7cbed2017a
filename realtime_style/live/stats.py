"""Live statistics: capture-to-output latency, output frame rate, dropped frames, CPU time per frame."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from realtime_style.errors import OutputError

#: Latencies kept for percentiles (the most recent ones; about 10 minutes at 30 fps).
HISTORY = 18_000


def percentile_ms(values: deque[float] | list[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(values), q)) * 1000, 1) if values else None


@dataclass
class LiveStats:
    """Collected by the live session on its own thread; :meth:`summary` is a JSON-ready dict."""

    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    work_times: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    #: CPU seconds the engine worker spent on each frame shown (its thread alone).
    work_cpu_times: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    outputs: int = 0
    first_output: float | None = None
    last_output: float | None = None
    #: Filled from the capture thread's counters at the end of a run; ``dropped``: captured, never
    #: shown (replaced before a worker was free, late, or still in a worker at the end).
    captured: int = 0
    dropped: int = 0
    #: Stylized but not shown: a newer frame (from another worker) was out first.
    late: int = 0
    reconnects: int = 0
    paused_frames: int = 0
    size_changes: int = 0
    #: Recent output times, for the overlay's current fps.
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=30))

    def record(self, capture_time: float, output_time: float, work_seconds: float, cpu_seconds: float | None = None) -> None:
        """One frame went out: ``output_time - capture_time`` is its latency."""
        self.latencies.append(output_time - capture_time)
        self.work_times.append(work_seconds)
        if cpu_seconds is not None:
            self.work_cpu_times.append(cpu_seconds)
        self.outputs += 1
        self.first_output = output_time if self.first_output is None else self.first_output
        self.last_output = output_time
        self.recent.append(output_time)

    @property
    def current_fps(self) -> float:
        if len(self.recent) < 2 or self.recent[-1] == self.recent[0]:
            return 0.0
        return (len(self.recent) - 1) / (self.recent[-1] - self.recent[0])

    @property
    def current_latency_ms(self) -> float:
        return self.latencies[-1] * 1000 if self.latencies else 0.0

    def summary(self) -> dict:
        span = (self.last_output - self.first_output) if self.outputs > 1 else 0.0
        return {
            "frames_out": self.outputs,
            "frames_captured": self.captured,
            "frames_dropped": self.dropped,
            "drop_rate": round(self.dropped / self.captured, 3) if self.captured else 0.0,
            "frames_late": self.late,
            "paused_frames": self.paused_frames,
            "reconnects": self.reconnects,
            "size_changes": self.size_changes,
            "duration_s": round(span, 3),
            "output_fps": round((self.outputs - 1) / span, 2) if span > 0 else 0.0,
            "latency_p50_ms": percentile_ms(self.latencies, 50),
            "latency_p95_ms": percentile_ms(self.latencies, 95),
            "latency_max_ms": round(max(self.latencies) * 1000, 1) if self.latencies else None,
            "work_p50_ms": percentile_ms(self.work_times, 50),
            "work_cpu_p50_ms": percentile_ms(self.work_cpu_times, 50),
        }

    def format(self) -> str:
        s = self.summary()
        latency = (
            f"latency p50 {s['latency_p50_ms']} ms, p95 {s['latency_p95_ms']} ms"
            if s["latency_p50_ms"] is not None
            else "latency n/a"
        )
        return (
            f"{s['frames_out']} frame{'' if s['frames_out'] == 1 else 's'} out at {s['output_fps']} fps, {latency}; "
            f"{s['frames_dropped']} of {s['frames_captured']} captured frames dropped"
            + (f", {s['reconnects']} reconnect(s)" if s["reconnects"] else "")
        )

    def write_json(self, path: str | Path, extra: dict | None = None) -> None:
        try:
            Path(path).write_text(json.dumps({**self.summary(), **(extra or {})}, indent=2) + "\n")
        except OSError as exc:
            raise OutputError(f"cannot write statistics to {path}: {exc.strerror or exc}") from None
