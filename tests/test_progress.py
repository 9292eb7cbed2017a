"""Issue 25 item 13: every job longer than a moment says how far it got; Ctrl-C on a folder says what was done."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from realtime_style import progress as progress_module
from realtime_style.cli import main
from realtime_style.progress import Progress, StepsProgress, heartbeat

sys.path.insert(0, str(Path(__file__).parent))
from media_helpers import make_clip  # noqa: E402
from test_live_support import HEIGHT, WIDTH, RecordingSink, SyntheticSource, save_random_model  # noqa: E402


@pytest.fixture
def every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """A progress line at every step (instead of every few seconds)."""
    monkeypatch.setattr(progress_module, "LINE_INTERVAL_S", 0.0)


def test_progress_prints_periodic_lines_off_a_terminal() -> None:
    now = [0.0]
    stream = io.StringIO()
    bar = Progress("clip.mp4", 40, "frame", interval=5.0, stream=stream, clock=lambda: now[0])
    for _ in range(10):
        now[0] += 1.0
        bar.update()
    lines = stream.getvalue().splitlines()
    assert lines == ["rtstyle: clip.mp4: 5/40 frames, 5 s, 1 frames/s, ~35 s left", "rtstyle: clip.mp4: 10/40 frames, 10 s, 1 frames/s, ~30 s left"]


def test_heartbeat_speaks_while_one_long_step_runs() -> None:
    stream = io.StringIO()
    with heartbeat("stylizing big.jpg", interval=0.05, stream=stream):
        time.sleep(0.3)
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2 and all(line.startswith("rtstyle: stylizing big.jpg: ") for line in lines)


def test_steps_progress_of_one_step_is_a_heartbeat_and_of_many_a_count(every_step: None, capsys) -> None:
    many = StepsProgress("images", "image")
    for done in range(4):
        many(done, 3)
    many.close()
    assert "rtstyle: images: 3/3 images" in capsys.readouterr().err
    assert (many.done, many.total) == (3, 3)


def _photos(folder: Path, count: int) -> Path:
    folder.mkdir()
    for index in range(count):
        Image.new("RGB", (20, 12), (40 * index, 90, 150)).save(folder / f"p{index}.png")
    return folder


def test_folder_shows_progress_lines_when_piped(every_step: None, tmp_path: Path, capsys) -> None:
    photos = _photos(tmp_path / "in", 3)
    assert main(["still", str(photos), str(tmp_path / "out"), "--style", "mosaic.light", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "stylizing in: 1/3 images" in err and "stylizing in: 3/3 images" in err


def test_ctrl_c_on_a_folder_says_how_many_were_done(tmp_path: Path, monkeypatch, capsys) -> None:
    from realtime_style.cli import still

    photos = _photos(tmp_path / "in", 4)
    calls = []

    def transform(rgb: np.ndarray) -> np.ndarray:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return rgb

    monkeypatch.setattr(still, "make_transform", lambda args: (transform, "a test transform"))
    assert main(["still", str(photos), str(tmp_path / "out"), "--style", "mosaic"]) == 130
    err = capsys.readouterr().err
    assert f"interrupted: 2 of 4 images done, in {tmp_path / 'out'}" in err
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_video_with_stderr_piped_prints_progress(every_step: None, tmp_path: Path, capsys) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=4, size=(32, 24))
    assert main(["video", str(clip), str(tmp_path / "out.mp4"), "--style", "mosaic.light", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "in.mp4: 4/4 frames" in err


def test_compile_is_announced_before_its_silent_wait(tmp_path: Path, monkeypatch, capsys) -> None:
    from realtime_style.cli import build_parser, common

    monkeypatch.setattr(common, "Stylizer", lambda *args, **kwargs: None)  # no torch.compile in a unit test
    common.stylizer_from_args(build_parser().parse_args(["still", "a.jpg", "b.jpg", "--style", "mosaic", "--compile"]))
    assert "torch.compile" in capsys.readouterr().err


def test_headless_live_run_logs_a_status_line(tmp_path: Path) -> None:
    from realtime_style.live.session import LiveOptions, LiveSession
    from realtime_style.live.styles import StyleBank
    from realtime_style.runtime.engine import EngineOptions

    model = save_random_model(tmp_path / "random.safetensors", seed=0)
    bank = StyleBank([model], EngineOptions(device="cpu", precision="fp32", batch_size=1))
    messages: list[str] = []
    options = LiveOptions(max_frames=5, size=(WIDTH, HEIGHT), status_every=0.0)
    LiveSession(SyntheticSource(fps=100), bank, [RecordingSink()], options, log=messages.append).run()
    status = [m for m in messages if "fps, latency" in m]
    assert status and f"{WIDTH}x{HEIGHT}, random" in status[-1] and "frames out" in status[-1]


def test_headless_live_run_is_not_silent_until_the_first_interval(tmp_path: Path) -> None:
    """The first status line comes about two seconds after the first frame, not a whole interval later."""
    from realtime_style.live.session import FIRST_STATUS_S, LiveOptions, LiveSession
    from realtime_style.live.styles import StyleBank
    from realtime_style.runtime.engine import EngineOptions

    model = save_random_model(tmp_path / "random.safetensors", seed=0)
    bank = StyleBank([model], EngineOptions(device="cpu", precision="fp32", batch_size=1))
    messages: list[str] = []
    options = LiveOptions(duration=FIRST_STATUS_S + 2.0, size=(WIDTH, HEIGHT), status_every=60.0)
    LiveSession(SyntheticSource(fps=50), bank, [RecordingSink()], options, log=messages.append).run()
    assert len([m for m in messages if "fps, latency" in m]) == 1, messages
