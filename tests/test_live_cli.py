"""``rtstyle webcam`` end to end: a file played as a camera, streamed over loopback and read back."""

from __future__ import annotations

import io
import json
import socket
import threading
import time

import av
import numpy as np
import pytest
import torch

from realtime_style.cli import main
from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.models.store import load_model
from test_live_support import HEIGHT, WIDTH, pattern, write_clip

FPS = 25


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # the stdin controls read an empty stream
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("live") / "clip.mp4", frames=50, fps=FPS)


class UdpCapture:
    """Binds a loopback UDP port first (so nothing sent is missed), then collects datagrams on a thread."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"udp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.data = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.data.extend(self.sock.recv(65536))
            except socket.timeout:
                continue

    def frames(self) -> list[av.VideoFrame]:
        time.sleep(0.2)
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        with av.open(io.BytesIO(bytes(self.data)), format="mpegts") as container:
            return list(container.decode(video=0))


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def run_cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    code = main(["webcam", "--no-window", "-q", *argv])
    return code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_file_as_camera_streams_stylized_frames_over_udp(clip, random_model_file, tmp_path, capsys):
    receiver = UdpCapture()
    record = tmp_path / "record.mp4"
    stats_path = tmp_path / "stats.json"
    code, err = run_cli(
        [
            "--source", str(clip), "--style", str(random_model_file), "--device", "cpu", "--precision", "fp32",
            "--size", f"{WIDTH}x{HEIGHT}", "--stream", receiver.url, "--record", str(record),
            "--max-frames", "20", "--stats-json", str(stats_path), "--workers", "1",
        ],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    frames = receiver.frames()
    stats = json.loads(stats_path.read_text())
    assert stats["frames_out"] == 20 and len(frames) == 20
    assert {(f.width, f.height) for f in frames} == {(WIDTH, HEIGHT)}
    # Stamped at capture time: never closer than the source's frame interval (less jitter), and
    # the stream's rate is the rate measured at the sender.
    times = np.array([float(f.time) for f in frames])
    assert np.all(np.diff(times) * FPS > 0.7), np.diff(times)
    # (pts come from capture times, output_fps from output times: they differ by latency jitter)
    assert (len(times) - 1) / (times[-1] - times[0]) == pytest.approx(stats["output_fps"], rel=0.25)
    # About the source's rate when the engine keeps up; else as fast as the engine allows (drops, no queue).
    capacity = min(FPS, 1000 / stats["work_p50_ms"])
    assert 0.5 * capacity <= stats["output_fps"] <= FPS * 1.1, stats
    # The first frame out is the clip's first frame, stylized (H.264 costs a few levels).
    first = frames[0].to_ndarray(format="rgb24")
    engine = Engine(load_model(random_model_file), EngineOptions(device="cpu", precision="fp32"))
    expected, later = engine.stylize(pattern(0)), engine.stylize(pattern(12))
    # Lossy ultrafast H.264 of random-weight texture costs ~12 levels; another frame's stylization ~30.
    assert _mad(first, expected) < min(20, 0.6 * _mad(first, later)) and _mad(first, pattern(0)) > 50
    with av.open(str(record)) as container:
        recorded = list(container.decode(video=0))
    assert len(recorded) == 20 and (recorded[0].width, recorded[0].height) == (WIDTH, HEIGHT)
    assert stats["latency_p95_ms"] is not None and stats["styles"] == ["random.light"]


def test_workers_and_engine_switches_reach_the_live_engine(clip, random_model_file, tmp_path, capsys):
    stats_path = tmp_path / "stats.json"
    code, err = run_cli(
        [
            "--source", str(clip), "--style", str(random_model_file), "--device", "cpu", "--precision", "bf16",
            "--size", f"{WIDTH}x{HEIGHT}", "--max-frames", "3", "--stats-json", str(stats_path),
            "--workers", "2", "--threads", "1", "--no-split-conv",
        ],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    stats = json.loads(stats_path.read_text())
    assert stats["workers"] == 2 and stats["frames_out"] == 3
    assert "fast-norm" in stats["engine"] and "split-conv" not in stats["engine"] and "1 threads" in stats["engine"]


def test_the_smallest_processing_size_works(clip, random_model_file, tmp_path, capsys):
    stats_path = tmp_path / "stats.json"
    argv = ["--source", str(clip), "--style", str(random_model_file), "--size", "4", "--max-frames", "3"]
    code, err = run_cli([*argv, "--stats-json", str(stats_path), "--record", str(tmp_path / "r.mp4")], capsys)
    assert code == 0, err
    assert json.loads(stats_path.read_text())["frames_out"] == 3


@pytest.mark.parametrize(
    "camera, message",
    [("7", "no camera 7: /dev/video7 does not exist"), ("/dev/video7", "no camera /dev/video7: no such device file")],
)
def test_no_camera_is_a_one_line_error(random_model_file, capsys, tmp_path, camera, message):
    started = time.monotonic()
    argv = ["--camera", camera, "--style", str(random_model_file), "--max-frames", "1", "--record", str(tmp_path / "r.mp4")]
    code, err = run_cli(argv, capsys)
    assert code == 2 and len(err) == 1, err
    assert err[0] == f"rtstyle: error: {message}"
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("url, reason", [("tcp://127.0.0.1:{port}", "refused"), ("nosuchproto://x", "not found")])
def test_unopenable_stream_url_is_a_one_line_error(clip, random_model_file, capsys, url, reason):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = url.format(port=port)
    code, err = run_cli(["--source", str(clip), "--style", str(random_model_file), "--stream", url], capsys)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"rtstyle: error: cannot open stream {url}") and reason in err[0].lower()


@pytest.mark.parametrize("target", ["foo", "out.ts", "file://out.ts", "udp://"])
def test_a_stream_target_must_be_a_network_url(clip, random_model_file, capsys, tmp_path, monkeypatch, target):
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    code, err = run_cli(["--source", str(clip), "--style", str(random_model_file), "--stream", target], capsys)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"rtstyle: error: cannot open stream {target}: protocol not found") and "--record" in err[0]
    assert list((tmp_path / "cwd").iterdir()) == []


def test_virtual_camera_without_device_is_a_one_line_error(clip, random_model_file, capsys):
    # Either pyvirtualcam is absent (CI) or it finds no virtual camera device (this machine): both are clear.
    code, err = run_cli(["--source", str(clip), "--style", str(random_model_file), "--virtual-cam"], capsys)
    assert code == 2 and len(err) == 1, err
    assert "virtual" in err[0] and ("rtstyle[virtualcam]" in err[0] or "no virtual camera device" in err[0])


def test_missing_style_and_source_are_one_line_errors(clip, tmp_path, capsys):
    code, err = run_cli(["--source", str(clip), "--style", str(tmp_path / "none.safetensors")], capsys)
    assert code == 2 and len(err) == 1 and "model file not found" in err[0]
    code, err = run_cli(["--source", str(tmp_path / "none.mp4"), "--style", "x.safetensors"], capsys)
    assert code == 2 and len(err) == 1 and "none.mp4: no such file" in err[0]


def test_start_past_the_end_or_without_a_file_is_a_one_line_error(clip, random_model_file, capsys, tmp_path):
    argv = ["--source", str(clip), "--style", str(random_model_file), "--start", "1:00", "--stats-json", str(tmp_path / "s.json")]
    code, err = run_cli(argv, capsys)
    assert code == 2 and len(err) == 1 and "past the end" in err[0], err
    code, err = run_cli(["--camera", "0", "--style", str(random_model_file), "--start", "5"], capsys)
    assert code == 2 and len(err) == 1 and "--start needs --source" in err[0], err


def test_too_many_workers_is_a_one_line_error(clip, random_model_file, capsys, tmp_path):
    argv = ["--source", str(clip), "--style", str(random_model_file), "--workers", "64", "--record", str(tmp_path / "r.mp4")]
    code, err = run_cli(argv, capsys)
    assert code == 2 and len(err) == 1 and "--workers 64 is more than the" in err[0], err


def test_no_window_and_no_output_is_a_one_line_error(clip, random_model_file, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    for window in ([], ["--no-window"]):
        code = main(["webcam", *window, "--source", str(clip), "--style", str(random_model_file), "--duration", "30"])
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert code == 2 and len(err) == 1 and err[0].startswith("rtstyle: error: nothing to show or write"), err


def test_window_without_display_is_a_one_line_error(clip, random_model_file, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code = main(["webcam", "-q", "--window", "--source", str(clip), "--style", str(random_model_file)])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and err == [err[0]] and "--window needs a display" in err[0]
