"""Live outputs and inputs that go away mid-run: a clear one-line error, no traceback, no hang, and the
other outputs finalized (a recording stays playable)."""

from __future__ import annotations

import re
import socket
import sys
import threading
import time
import types

import numpy as np
import pytest

from media_helpers import probe
from realtime_style.runtime.engine import EngineOptions
from realtime_style.errors import DeviceError, OutputError
from realtime_style.live.capture import ReconnectPolicy
from realtime_style.live.cameras import CameraSource
from realtime_style.live.outputs import OutputMeta, RecordSink, StreamSink, VirtualCameraSink
from realtime_style.live.session import LiveOptions, LiveSession
from realtime_style.live.styles import StyleBank
from test_live_cli import one_thread, run_cli  # noqa: F401  (autouse fixture)
from test_live_support import HEIGHT, WIDTH, RecordingSink, SyntheticSource, write_clip

CPU = EngineOptions(device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("reliability") / "clip.mp4", frames=25, fps=25)


class TcpReceiver:
    """Listens on loopback; once connected it reads ``read_bytes`` (or nothing: a stalled receiver) and
    then closes the connection, or keeps it open without reading."""

    def __init__(self, read_bytes: int, close: bool = True) -> None:
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a stall fills the window fast
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.url = f"tcp://127.0.0.1:{self.server.getsockname()[1]}"
        self.received = 0
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, args=(read_bytes, close), daemon=True)
        self._thread.start()

    def _serve(self, read_bytes: int, close: bool) -> None:
        connection, _ = self.server.accept()
        self.connections.append(connection)
        while self.received < read_bytes:
            data = connection.recv(65536)
            if not data:
                break
            self.received += len(data)
        if close:
            connection.close()
            self.server.close()


def test_stream_receiver_going_away_stops_cleanly_and_keeps_the_recording(clip, random_model_file, tmp_path, capsys):
    receiver = TcpReceiver(read_bytes=20_000)
    record = tmp_path / "record.mp4"
    started = time.monotonic()
    code, err = run_cli(
        ["--source", str(clip), "--style", str(random_model_file), "--device", "cpu", "--size", f"{WIDTH}x{HEIGHT}",
         "--stream", receiver.url, "--record", str(record), "--max-frames", "500"],
        capsys,
    )  # fmt: skip
    assert code == 2 and len(err) == 1, err
    reason = r"\((Broken pipe|Connection reset by peer)\)"  # which one depends on TCP timing
    assert re.fullmatch(rf"rtstyle: error: stream {receiver.url}: the receiver went away {reason}; stopping", err[0]), err
    assert receiver.received >= 20_000 and time.monotonic() - started < 60
    recorded = probe(record)  # finalized and playable, with the frames sent before the receiver left
    assert 1 <= recorded.frames < 500 and (recorded.width, recorded.height) == (WIDTH, HEIGHT)


def test_stream_receiver_that_stops_reading_fails_instead_of_blocking(monkeypatch):
    monkeypatch.setattr("realtime_style.live.outputs.STREAM_TIMEOUT", 1.0)
    receiver = TcpReceiver(read_bytes=0, close=False)
    sink = StreamSink(receiver.url)
    sink.open(320, 240, 25)
    noise = np.random.default_rng(0)  # incompressible frames fill the socket buffers in a few dozen frames
    outcome: list[BaseException] = []

    def send_until_failure() -> None:
        try:
            for index in range(5000):
                frame = noise.integers(0, 256, (240, 320, 3), np.uint8)
                sink.write(frame, OutputMeta(capture_time=index / 25, index=index))
        except OutputError as exc:
            outcome.append(exc)
        sink.close()  # no second error, no block

    sender = threading.Thread(target=send_until_failure, daemon=True)  # a regression hangs here, not the suite
    sender.start()
    sender.join(60)
    assert not sender.is_alive(), "a write to a stalled receiver blocked"
    assert [str(e) for e in outcome] == [f"stream {receiver.url}: the receiver stopped reading for 1 s; stopping"]


class FakeVirtualCamera:
    """pyvirtualcam.Camera's shape: ``send`` fails after ``works_for`` frames (the device was taken away)."""

    def __init__(self, width, height, fps, fmt, device, works_for: int = 3):
        self.device, self.sent, self.works_for = device or "/dev/video10", 0, works_for

    def send(self, frame: np.ndarray) -> None:
        if self.sent >= self.works_for:
            raise RuntimeError("error writing frame: No such device")
        self.sent += 1

    def close(self) -> None:
        pass


def fake_pyvirtualcam(monkeypatch, camera) -> None:
    module = types.SimpleNamespace(Camera=camera, PixelFormat=types.SimpleNamespace(RGB="RGB"))
    monkeypatch.setitem(sys.modules, "pyvirtualcam", module)


def test_virtual_camera_in_use_by_another_program_is_one_line(clip, random_model_file, monkeypatch, capsys):
    def busy(**kwargs):  # pyvirtualcam's words when another program holds the v4l2loopback device
        raise RuntimeError("'v4l2loopback' backend: Device /dev/video10 is already in use.")

    fake_pyvirtualcam(monkeypatch, busy)
    code, err = run_cli(
        ["--source", str(clip), "--style", str(random_model_file), "--virtual-cam", "--virtual-cam-device", "/dev/video10"],
        capsys,
    )
    assert code == 2 and err == [
        "rtstyle: error: virtual camera /dev/video10 is in use by another program ('v4l2loopback' backend: Device "
        "/dev/video10 is already in use.); close that program, or choose another device with --virtual-cam-device"
    ]


def test_virtual_camera_lost_mid_run_stops_with_a_clear_error(random_model_file, monkeypatch):
    fake_pyvirtualcam(monkeypatch, FakeVirtualCamera)
    recorder = RecordingSink()
    session = LiveSession(
        SyntheticSource(fps=50), StyleBank([random_model_file], CPU), [VirtualCameraSink(), recorder],
        LiveOptions(max_frames=100, size=(WIDTH, HEIGHT)), log=lambda _: None,
    )  # fmt: skip
    with pytest.raises(DeviceError, match=r"^virtual camera /dev/video10 failed: error writing frame: No such device$"):
        session.run()
    assert recorder.closed and len(recorder.frames) == 3


def test_camera_unplugged_mid_run_reconnects_then_fails_and_keeps_the_recording(random_model_file, tmp_path):
    """A real OpenCV capture whose device ends (read fails) and then is gone (reopen fails)."""
    device = write_clip(tmp_path / "camera.mp4", frames=6)

    class UnpluggedCamera(CameraSource):
        def open(self) -> None:
            super().open()
            device.unlink()  # the open capture reads on to the end; a reopen finds no device

    record = tmp_path / "record.mp4"
    messages: list[str] = []
    session = LiveSession(
        UnpluggedCamera(str(device)), StyleBank([random_model_file], CPU), [RecordSink(record)],
        LiveOptions(max_frames=100, reconnect=ReconnectPolicy(attempts=2, delay=0.05)), log=messages.append,
    )  # fmt: skip
    with pytest.raises(DeviceError, match=rf"^camera {device} lost and not back after 2 attempts in 0\.\d s \(cannot open"):
        session.run()
    assert [m for m in messages if "reconnecting" in m] == [
        f"camera {device} lost (stopped delivering frames); reconnecting, attempt 1/2 in 0.05 s",
        f"camera {device} lost (cannot open camera {device} (absent, busy, or no permission)); reconnecting, attempt 2/2 in 0.1 s",
    ]
    assert 1 <= probe(record).frames <= 6
