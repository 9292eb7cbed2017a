"""What a training run reports as it goes: its losses in ``log.jsonl`` (and TensorBoard), and its warnings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from realtime_style.atomic_file import write_atomically


def warn(message: str) -> None:
    """One warning line on stderr; the run goes on."""
    print(f"training: warning: {message}", file=sys.stderr, flush=True)


class RunLog:
    """Losses as JSON lines in ``log.jsonl`` (and TensorBoard scalars when tensorboard is installed).

    A run resumed at step ``resumed_at`` first drops the log's records of later steps: a run that was killed
    (not stopped) logged steps after its last checkpoint, which the resumed run trains again.
    """

    def __init__(self, run_dir: Path, enabled: bool, resumed_at: int = 0):
        self.handle = None
        self.board = None
        if not enabled:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / "log.jsonl"
        if resumed_at and path.is_file():
            _drop_records_after(path, resumed_at)
        self.handle = open(path, "a", encoding="utf-8")
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.board = SummaryWriter(str(run_dir / "tensorboard"))
        except ImportError:
            self.board = None

    def write(self, record: dict) -> None:
        if self.handle is None:
            return
        line = json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in record.items()}) + "\n"
        try:
            self.handle.write(line)
            self.handle.flush()
        except OSError as exc:  # e.g. a full disk: the checkpoint decides whether the run can go on
            warn(f"could not write the training log ({exc.strerror or exc}); training goes on")
            return
        if self.board is not None:
            for key, value in record.items():
                if key not in ("step", "size") and isinstance(value, (int, float)):
                    self.board.add_scalar(key, value, record["step"])

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
        if self.board is not None:
            self.board.close()


def _drop_records_after(log: Path, step: int) -> None:
    """Rewrite ``log`` without the records of steps after ``step`` (lines that are not records are kept, and a
    last line cut short by the kill is ended, so that the next record starts a line of its own)."""
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line if line.endswith("\n") else line + "\n" for line in lines if _logged_step(line) <= step]
    if kept == lines:
        return
    dropped = len(lines) - len(kept)
    try:
        write_atomically(log, "".join(kept).encode("utf-8"))
    except OSError as exc:
        warn(f"could not rewrite the training log {log} ({exc.strerror or exc})")
        return
    if dropped:  # (only a cut-short last line ended: nothing to say)
        warn(f"dropped the log's {dropped} records past step {step}, which this run trains again")


def _logged_step(line: str) -> int:
    """The step of one log line; 0 for a line that is not a record (it is kept)."""
    try:
        record = json.loads(line)
    except ValueError:
        return 0
    step = record.get("step") if isinstance(record, dict) else None
    return step if isinstance(step, int) else 0
