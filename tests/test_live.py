"""The live session on the CPU with random-weight models: drops not queues, controls, recovery."""

from __future__ import annotations

import argparse
import io
import socket
import sys
import time
import types

import numpy as np
import pytest
from PIL import Image

from realtime_style.runtime.engine import EngineOptions
from realtime_style.errors import DeviceError
from realtime_style.cli.argtypes import dimensions_or_height
from realtime_style.live.adaptive import GovernorOptions, ResolutionGovernor, fixed_size, scaled_size
from realtime_style.live.cameras import CameraSource, CaptureRequest, LoopingFileSource
from realtime_style.live.outputs import VirtualCameraSink
from realtime_style.live.session import LiveOptions, LiveSession
from realtime_style.live.capture import LatestFrameGrabber, ReconnectPolicy
from realtime_style.live.controls import Action, Controls, command_for_key, command_for_line, start_stdin_controls
from realtime_style.live.styles import StyleBank, resolve_live_styles
from realtime_style.models.store import ModelInfo, save_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
from test_live_support import HEIGHT, WIDTH, RecordingSink, SlowEngine, SyntheticSource, pattern, save_random_model, write_clip
from test_live_support import one_thread  # noqa: F401 (autouse fixture)

CPU = EngineOptions(device="cpu", precision="fp32")


@pytest.fixture
def two_styles(tmp_path):
    return [save_random_model(tmp_path / "alpha.light.safetensors", 1), save_random_model(tmp_path / "beta.light.safetensors", 2)]


def quiet(_message: str) -> None:
    pass


def test_slow_engine_drops_frames_instead_of_queueing(random_model_file):
    """The engine takes 150 ms a frame, the camera sends one every 20 ms: no backlog builds up."""
    bank = StyleBank([random_model_file], engine_factory=lambda model: SlowEngine(model, CPU))
    sink = RecordingSink()
    source = SyntheticSource(fps=50)
    stats = LiveSession(source, bank, [sink], LiveOptions(max_frames=8, size=(WIDTH, HEIGHT)), log=quiet).run()
    assert stats.outputs == 8 and len(sink.frames) == 8
    assert stats.dropped >= 3 * stats.outputs, stats.summary()
    # Every captured frame was either shown or dropped (the last one may still be waiting).
    assert stats.captured - stats.dropped - stats.outputs in (0, 1)
    # Latency = waiting for the engine to be free + the frame's own work. The wait stays within about
    # one capture interval (plus scheduling slack on a loaded machine) and does not grow: no queue.
    # (A FIFO would make frame k wait k * (work - 20 ms): seconds by the 8th frame.)
    waits = [latency - work for latency, work in zip(stats.latencies, stats.work_times)]
    assert max(waits) < 0.3, waits
    assert min(stats.work_times) >= 0.15
    assert sink.closed and sink.opened[:2] == (WIDTH, HEIGHT)


def test_grabber_keeps_only_newest_frame():
    source = SyntheticSource(fps=200)
    grabber = LatestFrameGrabber(source, log=quiet)
    grabber.start()
    try:
        first = grabber.latest(timeout=2)
        time.sleep(0.2)
        newest = grabber.latest(timeout=2)
        assert newest.seq > first.seq + 5
        assert grabber.dropped >= newest.seq - first.seq - 2
        assert newest.time >= first.time
    finally:
        grabber.stop()


def _static_run(paths, options, on_frame, engine_options=CPU):
    bank = StyleBank(paths, engine_options)
    sink = RecordingSink()
    session = LiveSession(SyntheticSource(fps=100, still=True), bank, [sink], options, log=quiet)
    sink.on_frame = lambda index: on_frame(index, session)
    session.run()
    return session, sink, bank


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_style_switch_crossfades_then_lands_on_the_new_style(two_styles, tmp_path):
    def script(index, session):
        if index == 1:
            session.controls.next_style()

    options = LiveOptions(max_frames=7, crossfade_frames=3, size=(WIDTH, HEIGHT))
    session, sink, bank = _static_run(two_styles, options, script)
    image = pattern(0)
    a = bank.engine(0).stylize(image)
    b = bank.engine(1).stylize(image)
    assert _distance(a, b) > 5  # two different random styles
    names = [m.style for m in sink.metas]
    assert names[:2] == ["alpha.light"] * 2 and names[-1] == "beta.light"
    to_b = [_distance(f, b) for f in sink.frames]
    # Frames 0-1: style A; 2-4: the fade (getting closer to B each frame); 5-6: style B.
    assert _distance(sink.frames[0], a) <= 1 and to_b[0] > 5
    assert to_b[1] > to_b[2] > to_b[3] > to_b[4] > to_b[5]
    assert to_b[5] <= 1 and to_b[6] <= 1
    assert session.state.style == 1 and session.state.fade_from is None


def test_strength_colour_and_snapshot_controls(random_model_file, tmp_path):
    def script(index, session):
        if index == 0:
            session.controls.change_strength(-1.0)  # strength 0: the camera picture itself
        elif index == 1:
            session.controls.key("+")
            session.controls.key("c")
            session.controls.snapshot()

    options = LiveOptions(max_frames=3, crossfade_frames=0, snapshot_dir=tmp_path / "shots", size=(WIDTH, HEIGHT))
    session, sink, _bank = _static_run([random_model_file], options, script)
    image = pattern(0)
    assert _distance(sink.frames[0], image) > 10
    assert _distance(sink.frames[1], image) <= 1
    assert [round(m.strength, 1) for m in sink.metas] == [1.0, 0.0, 0.1]
    assert session.state.preserve_color and session.state.strength == pytest.approx(0.1)
    (shot,) = session.state.snapshots
    assert shot.parent == tmp_path / "shots" and shot.suffix == ".png"
    np.testing.assert_array_equal(np.asarray(Image.open(shot)), sink.frames[2])


def test_pause_freezes_output_and_quit_ends(random_model_file):
    def script(index, session):
        if index == 1:
            session.controls.toggle_pause()
        if index == 5:
            session.controls.quit()

    session, sink, _ = _static_run([random_model_file], LiveOptions(max_frames=50, size=(WIDTH, HEIGHT)), script)
    assert len(sink.frames) == 6  # quit is applied before the next frame
    assert all(np.array_equal(f, sink.frames[1]) for f in sink.frames[2:])
    assert session.stats.paused_frames == 4 and session.stats.outputs == 2


class FakeSmoother:
    def __init__(self):
        self.calls = 0
        self.resets = 0

    def process(self, original_rgb, stylized_rgb):
        self.calls += 1
        assert original_rgb.shape == stylized_rgb.shape
        return np.zeros_like(stylized_rgb)

    def reset(self):
        self.resets += 1


def test_temporal_hook_toggles(random_model_file):
    smoother = FakeSmoother()
    bank = StyleBank([random_model_file], CPU)

    def script(index, session):
        if index == 1:
            session.controls.toggle_temporal()

    sink = RecordingSink()
    session = LiveSession(
        SyntheticSource(fps=100), bank, [sink], LiveOptions(max_frames=4, size=(WIDTH, HEIGHT)), smoother=smoother, log=quiet
    )
    sink.on_frame = lambda i: script(i, session)
    session.run()
    assert smoother.calls == 2 and smoother.resets == 1
    assert not sink.frames[0].any() and sink.frames[3].any()


def test_camera_lost_then_back_recovers(random_model_file):
    source = SyntheticSource(fps=100, fail_after=3, reopen_failures=1)
    messages: list[str] = []
    bank = StyleBank([random_model_file], CPU)
    options = LiveOptions(max_frames=6, size=(WIDTH, HEIGHT), reconnect=ReconnectPolicy(attempts=3, delay=0.05))
    stats = LiveSession(source, bank, [RecordingSink()], options, log=messages.append).run()
    assert stats.outputs == 6 and stats.reconnects == 1 and source.opens == 3
    assert any("lost" in m and "attempt 1/3" in m for m in messages)
    assert any("is back" in m for m in messages)


def test_camera_lost_for_good_is_a_clear_error(random_model_file):
    source = SyntheticSource(fps=100, fail_after=3, reopen_failures=99)
    bank = StyleBank([random_model_file], CPU)
    sink = RecordingSink()
    options = LiveOptions(max_frames=100, size=(WIDTH, HEIGHT), reconnect=ReconnectPolicy(attempts=3, delay=0.05))
    started = time.monotonic()
    with pytest.raises(DeviceError, match=r"synthetic camera lost and not back after 3 attempts .*unplugged"):
        LiveSession(source, bank, [sink], options, log=quiet).run()
    assert time.monotonic() - started < 10
    assert sink.closed and 1 <= len(sink.frames) <= 3


def test_camera_that_stalls_times_out(random_model_file):
    class Stalled(SyntheticSource):
        def read(self):
            if self.reads >= 2:
                time.sleep(0.05)
                return self._stall()
            return super().read()

        def _stall(self):
            time.sleep(10)  # a driver that hangs: the session must not

    options = LiveOptions(max_frames=100, size=(WIDTH, HEIGHT), frame_timeout=0.5)
    bank = StyleBank([random_model_file], CPU)
    started = time.monotonic()
    with pytest.raises(DeviceError, match="no frames from synthetic camera for 0.5 s"):
        LiveSession(Stalled(fps=100), bank, [RecordingSink()], options, log=quiet).run()
    assert time.monotonic() - started < 5


def test_missing_camera_index_is_a_clear_error():
    with pytest.raises(DeviceError, match="camera 7"):
        CameraSource(7).open()


def test_file_source_loops_at_its_own_rate(tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", frames=5, fps=25)
    source = LoopingFileSource(clip, CaptureRequest(width=80))
    source.open()
    try:
        assert source.size == (80, 48) and source.fps == 25
        started = time.monotonic()
        images = [source.read() for _ in range(12)]
        elapsed = time.monotonic() - started
    finally:
        source.close()
    assert source.loops == 2 and all(i.shape == (48, 80, 3) for i in images)
    assert 11 / 25 * 0.9 < elapsed < 11 / 25 + 1.0


def test_file_source_starts_and_loops_back_at_start(tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", frames=8, fps=25)
    source = LoopingFileSource(clip, CaptureRequest(fps=1000), start=5 / 25)
    source.open()
    try:
        images = [source.read().astype(int) for _ in range(4)]
    finally:
        source.close()

    def nearest(image):  # the clip's frame index this decoded image is closest to
        return min(range(8), key=lambda index: np.abs(image - pattern(index)).mean())

    assert [nearest(image) for image in images] == [5, 6, 7, 5] and source.loops == 1


def test_governor_steps_down_when_slow_and_back_up_with_headroom():
    governor = ResolutionGovernor(GovernorOptions(target_fps=20, window=3))
    costs = []
    for _ in range(60):  # cost proportional to pixels: 0.1 s at full size, budget 0.05 s
        governor.update(0.1 * governor.scale**2)
        costs.append(governor.scale)
    assert governor.scale < 0.75 and 0.1 * governor.scale**2 <= 0.05 * 1.05
    assert all(b <= a for a, b in zip(costs, costs[1:]))  # one way only: no oscillation
    for _ in range(60):  # the engine got faster
        governor.update(0.01 * governor.scale**2)
    assert governor.scale == 1.0


def test_target_fps_lowers_processing_size_but_output_keeps_capture_size(random_model_file):
    class PixelCostEngine(SlowEngine):
        delay = 0.12
        per_pixels = WIDTH * HEIGHT

    bank = StyleBank([random_model_file], engine_factory=lambda model: PixelCostEngine(model, CPU))
    sink = RecordingSink()
    options = LiveOptions(max_frames=24, target_fps=20)
    session = LiveSession(SyntheticSource(fps=50), bank, [sink], options, log=quiet)
    stats = session.run()
    # Two frames at over three budgets make the governor jump to the predicted size at once; whether
    # a further step follows depends on this machine's overhead (step-wise moves: the test above).
    assert stats.size_changes >= 1
    assert sink.metas[0].processing_size == (WIDTH, HEIGHT)
    assert session.processing_size[0] < WIDTH and session.processing_size[1] < HEIGHT
    assert {f.shape for f in sink.frames} == {(HEIGHT, WIDTH, 3)}
    assert {m.processing_size for m in sink.metas} != {(WIDTH, HEIGHT)}


def test_sizes():
    size = dimensions_or_height(4)
    assert size("640x360") == (640, 360) and size("360") == 360
    for bad in ("big", "640x", "2x360", "3", "1x2x3"):
        with pytest.raises(argparse.ArgumentTypeError):
            size(bad)
    assert fixed_size(360, 1280, 720) == (640, 360)
    assert scaled_size(426, 240, 1.0) == (424, 240)


def test_keys_and_stdin_lines():
    assert command_for_key("n").action is Action.NEXT_STYLE
    assert command_for_key("3").value == 2
    assert command_for_key("\x1b").action is Action.QUIT
    assert command_for_key("x") is None
    assert command_for_line(" \n").action is Action.PAUSE
    assert command_for_line("space\n").action is Action.PAUSE
    controls = Controls()
    thread = start_stdin_controls(controls, io.StringIO("n\n+\nbogus\n2\nq\n"))
    thread.join(2)
    actions = [c.action for c in controls.drain()]
    assert actions == [Action.NEXT_STYLE, Action.STRENGTH, Action.SELECT_STYLE, Action.QUIT]


def test_live_prefers_light_on_cpu(tmp_path, monkeypatch):
    """Style names that do not ship, so the shipped light nets cannot answer for them."""
    for name in ("toy_a.safetensors", "toy_a.light.safetensors", "toy_b.safetensors"):
        arch = "light" if ".light" in name else "standard"
        config = ARCHITECTURES[arch]
        save_model(tmp_path / name, TransformerNet(config), ModelInfo(style=name.split(".")[0], arch=arch, config=config))
    monkeypatch.setenv("RTSTYLE_MODELS_PATH", str(tmp_path))
    names = lambda paths: [p.name for p in paths]  # noqa: E731
    assert names(resolve_live_styles(["toy_a", "toy_b"], None, "light")) == [
        "toy_a.light.safetensors",
        "toy_b.safetensors",
    ]
    assert names(resolve_live_styles(["toy_a"], "standard")) == ["toy_a.safetensors"]
    assert "toy_a.light.safetensors" in names(resolve_live_styles([], None, "light"))


def test_the_default_live_styles_are_fast_on_a_cpu_and_reachable_by_digit_keys(monkeypatch):
    from realtime_style.live.styles import MAX_DEFAULT_STYLES, default_live_styles
    from realtime_style.models.store import list_styles

    monkeypatch.delenv("RTSTYLE_MODELS_PATH", raising=False)
    on_cpu = resolve_live_styles([], None, prefer_arch="light")
    shipped_light = {info.style for _path, info in list_styles() if info.arch == "light"}
    assert on_cpu and all(path.name.endswith(".light.safetensors") for path in on_cpu)
    assert {path.name.split(".")[0] for path in on_cpu} == shipped_light
    on_gpu = default_live_styles(None)
    assert 0 < len(on_gpu) <= MAX_DEFAULT_STYLES
    assert "mosaic" in on_gpu and "mosaic_stable" not in on_gpu  # one per painting


def test_more_live_workers_than_cores_is_refused():
    from realtime_style.errors import UsageError
    from realtime_style.live.workers import check_workers

    check_workers(2, cores=2)
    with pytest.raises(UsageError, match="--workers 64 is more than the 2 usable CPU core"):
        check_workers(64, cores=2)


def test_no_virtual_camera_device_is_a_clear_error(monkeypatch):
    def camera(**kwargs):
        raise RuntimeError("'v4l2loopback' backend: No v4l2 loopback device found at /dev/video[0-99].")

    fake = types.SimpleNamespace(Camera=camera, PixelFormat=types.SimpleNamespace(RGB="RGB"))
    monkeypatch.setitem(sys.modules, "pyvirtualcam", fake)
    with pytest.raises(DeviceError, match="no virtual camera device available .*v4l2loopback"):
        VirtualCameraSink().open(WIDTH, HEIGHT, 25)


def test_missing_pyvirtualcam_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # import fails
    with pytest.raises(DeviceError, match=r"rtstyle\[virtualcam\]"):
        VirtualCameraSink().open(WIDTH, HEIGHT, 25)


def test_window_keys_drive_the_pipeline_and_overlay_is_drawn(two_styles, monkeypatch):
    """The window's keys go through the same controls (cv2's GUI calls replaced: no display here)."""
    import cv2

    from realtime_style.live.window import PreviewWindow

    window, sink = PreviewWindow(), RecordingSink()
    presses = {2: "n", 5: "q"}  # output frames shown -> key pressed (once)

    def wait_key(_delay: int) -> int:
        key = presses.pop(len(sink.frames), None)
        return ord(key) if key else -1

    shown: list[np.ndarray] = []
    monkeypatch.setattr("realtime_style.live.window.display_available", lambda: True)
    monkeypatch.setattr(cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(cv2, "resizeWindow", lambda *a: None)
    monkeypatch.setattr(cv2, "destroyWindow", lambda *a: None)
    monkeypatch.setattr(cv2, "imshow", lambda title, image: shown.append(image))
    monkeypatch.setattr(cv2, "waitKey", wait_key)
    monkeypatch.setattr(cv2, "getWindowProperty", lambda *a: 1.0)
    bank = StyleBank(two_styles, CPU)
    options = LiveOptions(max_frames=50, size=(WIDTH, HEIGHT), crossfade_frames=0)
    session = LiveSession(SyntheticSource(fps=100, still=True), bank, [sink, window], options, log=quiet)
    session.run()
    assert session.state.style == 1 and len(sink.frames) == 5  # q: no frame after the fifth
    assert {m.style for m in sink.metas} == {"alpha.light", "beta.light"}
    # The overlay (white text on a dark outline) changes the top-left corner only.
    bgr = cv2.cvtColor(sink.frames[-1], cv2.COLOR_RGB2BGR)
    assert not np.array_equal(shown[-1][:30, :100], bgr[:30, :100])
    np.testing.assert_array_equal(shown[-1][-20:], bgr[-20:])


def test_governor_jumps_when_far_over_budget():
    governor = ResolutionGovernor(GovernorOptions(target_fps=10, window=6))
    assert not governor.update(1.0)
    assert governor.update(1.0)  # two frames at 10 budgets: straight to ~sqrt(1/10) of the size
    assert governor.scale == pytest.approx(0.316, abs=0.01)


def test_frames_run_while_a_size_compiles_move_the_governor_only_in_an_emergency():
    governor = ResolutionGovernor(GovernorOptions(target_fps=10, window=3))
    for _ in range(10):  # 1.5 budgets, beside a compile: not this size's speed, so no step down
        assert not governor.update(0.15, typical=False)
    assert governor.scale == 1.0
    for _ in range(2):  # typical again: two frames do not fill the window
        assert not governor.update(0.15)
    assert governor.update(0.15) and governor.scale == pytest.approx(0.85)  # the third does: one step
    assert not governor.update(1.0, typical=False)
    assert governor.update(1.0, typical=False)  # ten budgets twice: the emergency jump still applies
    assert governor.scale == pytest.approx(0.85 * 0.316, abs=0.01)


def test_x11_display_check(tmp_path):
    from realtime_style.live.window import x11_reachable

    assert not x11_reachable("")
    assert not x11_reachable(":98765")  # no such local socket
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
    if port >= 6000:  # a closed TCP display port: unreachable, and quickly
        assert not x11_reachable(f"127.0.0.1:{port - 6000}", timeout=0.5)


def test_opencv_camera_source_reads_rgb_at_the_requested_size(tmp_path):
    """A file path opens through the same OpenCV capture code as a /dev/video device."""
    import cv2

    clip = write_clip(tmp_path / "cam.mp4", frames=3)
    source = CameraSource(str(clip), CaptureRequest(width=80, height=48))
    source.open()
    try:
        first = source.read()
        assert source.size == (80, 48) and first.shape == (48, 80, 3)
        # RGB, not OpenCV's BGR.
        expected = cv2.resize(pattern(0), (80, 48), interpolation=cv2.INTER_AREA)
        assert _distance(first, expected) < 8 < _distance(first[..., ::-1], expected)
        assert source.read() is not None and source.read() is not None
        assert source.read() is None  # end of the "device": the grabber would reconnect
    finally:
        source.close()
