"""A full disk while training writes a checkpoint or the model file: the old file stays usable, no temp
file is left, the error is one line, and ``--resume`` carries on.

The disk is "filled" two ways: for real, by running training in a subprocess under ``RLIMIT_FSIZE``
(writes past the limit fail with EFBIG, as they would with ENOSPC), and in process by a file whose
write stores half of the data and then raises ENOSPC.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from realtime_style.cli import main as rtstyle
from realtime_style.errors import OutputError
from realtime_style.models.store import ModelInfo, load_model, save_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
from test_reliability_output import file_size_limit
from realtime_style.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint

REPO = Path(__file__).resolve().parents[1]


class HalfThenFull:
    """A file object whose first write stores half of the data, then fails as a full disk does."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, data) -> int:
        data = memoryview(data).cast("B")
        self.handle.write(data[: len(data) // 2])
        self.handle.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.handle.close()


def fill_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on every atomic write in this process fails halfway with ENOSPC."""
    real_fdopen = os.fdopen
    monkeypatch.setattr("realtime_style.atomic_file.os.fdopen", lambda *a, **k: HalfThenFull(real_fdopen(*a, **k)))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_checkpoint_on_a_full_disk_keeps_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / CHECKPOINT_NAME
    state = {"step": 1, "model": {"w": torch.arange(1000.0)}, "optimizer": {}, "rng": {}, "config": "{}"}
    save_checkpoint(path, state)
    before = path.read_bytes()
    fill_disk(monkeypatch)
    with pytest.raises(OutputError, match=r"cannot write checkpoint .*: No space left on device; any previous checkpoint is kept"):
        save_checkpoint(path, {**state, "step": 2})
    assert path.read_bytes() == before and load_checkpoint(path)["step"] == 1
    assert leftovers(tmp_path) == []


def test_model_file_on_a_full_disk_keeps_the_previous_one(tmp_path, random_model_file, monkeypatch):
    before = random_model_file.read_bytes()
    fill_disk(monkeypatch)
    net = TransformerNet(ARCHITECTURES["light"])
    with pytest.raises(OSError, match="No space left on device"):
        save_model(random_model_file, net, ModelInfo(style="other", arch="light", config=ARCHITECTURES["light"]))
    assert random_model_file.read_bytes() == before and load_model(random_model_file).info.style == "random"
    assert leftovers(tmp_path) == []


# --- the real thing: `python -m realtime_style.training` in a subprocess whose files cannot grow past a limit ------------


@pytest.fixture
def tiny_run(tmp_path, random_model_file) -> list[str]:
    """Arguments of a seconds-long run: distill the random light model (no VGG) on 6 generated photos."""
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "style.png")
    return [
        "--style-image", str(tmp_path / "style.png"), "--dataset", str(photos), "--teacher", str(random_model_file),
        "--arch", "light", "--image-size", "32", "--batch-size", "2", "--checkpoint-every", "2", "--log-every", "1",
        "--workers", "0", "--no-progress", "--run-dir", str(tmp_path / "run"), "--out", str(tmp_path / "out.light.safetensors"),
    ]  # fmt: skip


def train_process(args: list[str], file_size_limit_bytes: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "realtime_style.training", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        preexec_fn=file_size_limit(file_size_limit_bytes) if file_size_limit_bytes else None,
    )  # fmt: skip


def test_full_disk_while_checkpointing_then_resume(tiny_run, tmp_path, monkeypatch, capsys):
    run_dir, out = tmp_path / "run", tmp_path / "out.light.safetensors"
    first = train_process([*tiny_run, "--iterations", "2"])
    assert first.returncode == 0, first.stderr
    checkpoint = run_dir / CHECKPOINT_NAME
    saved, model_bytes = checkpoint.read_bytes(), out.read_bytes()

    # Resume towards step 4 on a "full" disk: the step-4 checkpoint cannot be written.
    full = train_process([*tiny_run, "--iterations", "4", "--resume"], file_size_limit_bytes=len(saved) // 2)
    assert full.returncode == 2, full.stderr
    plan, *errors = full.stderr.strip().splitlines()  # the run's plan line, then one error line
    assert plan.startswith("training: ") and "; resuming at step 2;" in plan
    assert errors == [errors[0]] and errors[0].startswith(f"training: error: cannot write checkpoint {checkpoint}: File too large")
    assert "Traceback" not in full.stderr
    assert checkpoint.read_bytes() == saved and load_checkpoint(checkpoint)["step"] == 2
    assert out.read_bytes() == model_bytes and leftovers(run_dir) == [] and leftovers(tmp_path) == []

    # Space again: --resume continues from step 2 and finishes.
    again = train_process([*tiny_run, "--iterations", "4", "--resume"])
    assert again.returncode == 0, again.stderr
    assert load_checkpoint(checkpoint)["step"] == 4 and load_model(out).info.iterations == 4

    # The model file written from that checkpoint on a full disk: one line, exit 2, the old file intact.
    model_bytes = out.read_bytes()
    fill_disk(monkeypatch)
    assert rtstyle(["export", str(checkpoint), "--out", str(out)]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors == [f"rtstyle: error: cannot write model file {out}: No space left on device"]
    assert out.read_bytes() == model_bytes and leftovers(tmp_path) == []
