"""How many training steps fit in the time left, from a short measured run (a cosine schedule must
be planned whole, so its length comes first)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Speed:
    """A training run's measured pace: optimizer steps per second, and the seconds a run spends outside
    its steps (start-up, VGG and style image, the model file at the end)."""

    steps_per_s: float
    overhead_s: float

    def steps_in(self, seconds: float, safety: float = 0.9) -> int:
        """Steps a run of ``seconds`` wall clock does, with ``safety`` slack for a slower machine."""
        return max(0, int((seconds - self.overhead_s) * self.steps_per_s * safety))


def measure_speed(log: Path, wall_s: float) -> Speed | None:
    """The pace in a training ``log.jsonl`` (the windows after the first, which holds the warm-up) and
    the seconds its process spent outside the steps; None when the log has no usable record."""
    records = _records(log)
    windows = [(r["step"] - (records[i - 1]["step"] if i else 0), r["it_s"]) for i, r in enumerate(records)]
    steady = [(steps, pace) for steps, pace in (windows[1:] or windows) if steps > 0 and pace > 0]
    if not steady:
        return None
    pace = sum(steps for steps, _ in steady) / sum(steps / rate for steps, rate in steady)
    loop_s = sum(steps / rate for steps, rate in windows if steps > 0 and rate > 0)
    return Speed(steps_per_s=pace, overhead_s=max(0.0, wall_s - loop_s))


def _records(log: Path) -> list[dict]:
    if not log.is_file():
        return []
    records = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "step" in record and "it_s" in record:
            records.append(record)
    return records
