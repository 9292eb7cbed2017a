"""Live engine workers: frames stylized on several threads come out in capture order, exactly as on one."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from realtime_style.runtime.color import FULL_STYLE, Look
from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.live.session import LiveOptions, LiveSession
from realtime_style.live.styles import StyleBank
from realtime_style.live.workers import WorkerPool, default_workers
from test_live_support import HEIGHT, WIDTH, RecordingSink, SyntheticSource, pattern
from test_live_support import one_thread  # noqa: F401 (autouse fixture)

CPU = EngineOptions(device="cpu", precision="fp32")



class ThreadNotingEngine(Engine):
    """Records which thread ran each frame."""

    threads: list[str]

    def run_tensor(self, images: torch.Tensor, look: Look = FULL_STYLE) -> torch.Tensor:
        self.threads.append(threading.current_thread().name)
        return super().run_tensor(images, look)


class TimedSource(SyntheticSource):
    """Notes when each frame left ``read``: the grabber stamps a frame after its read returns and
    before the next read starts (one thread), so a capture time names its frame."""

    def __init__(self, fps: float):
        super().__init__(fps=fps)
        self.returned: list[tuple[float, int]] = []

    def read(self):
        image = super().read()
        self.returned.append((time.monotonic(), self.reads))
        return image

    def index_at(self, capture_time: float) -> int:
        """The ``pattern`` index of the frame stamped at ``capture_time``."""
        return [index for returned, index in self.returned if returned <= capture_time][-1]


def _run(model_file, workers: int, frames: int = 8):
    threads: list[str] = []

    def factory(model):
        engine = ThreadNotingEngine(model, CPU)
        engine.threads = threads
        return engine

    bank = StyleBank([model_file], engine_factory=factory)
    sink = RecordingSink()
    options = LiveOptions(max_frames=frames, size=(WIDTH, HEIGHT), workers=workers)
    source = TimedSource(fps=30)
    stats = LiveSession(source, bank, [sink], options, log=lambda _m: None).run()
    return sink, stats, threads, source


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_show_frames_in_capture_order_identical_to_the_engine(random_model_file, workers):
    sink, stats, threads, source = _run(random_model_file, workers)
    assert stats.outputs == len(sink.frames) == 8
    # Every frame shown is exactly the engine's output for one captured frame (pattern(i) is the
    # source's i-th read), and those captured frames only move forward.
    reference = StyleBank([random_model_file], CPU).engine(0)
    shown = [source.index_at(meta.capture_time) for meta in sink.metas]
    assert shown == sorted(set(shown)), shown  # capture order, no frame twice
    for frame, index in zip(sink.frames, shown):
        np.testing.assert_array_equal(frame, reference.stylize(pattern(index)))
    times = [m.capture_time for m in sink.metas]
    assert times == sorted(times)
    used = {name for name in threads if name.startswith("rtstyle-worker")}
    assert used == {f"rtstyle-worker-{i}" for i in range(workers)}
    assert stats.captured - stats.dropped - stats.outputs in (0, 1)


def test_a_frame_finishing_after_a_newer_one_is_dropped_as_late(random_model_file):
    """Worker 0 takes the first frame (the pool hands work to the lowest idle worker) and is held until the
    sink has shown a frame, which can only be worker 1's newer one: worker 0's result then comes out too late.

    The gate names the worker by its thread, not by which thread reaches the engine first: on a loaded machine
    worker 1 may start its (newer) frame before worker 0 starts the first one.
    """
    sink = RecordingSink()

    class Gated(Engine):
        def run_tensor(self, images, look=FULL_STYLE):
            if threading.current_thread().name == "rtstyle-worker-0" and not sink.frames:
                deadline = time.monotonic() + 10
                while not sink.frames and time.monotonic() < deadline:
                    time.sleep(0.002)
            return super().run_tensor(images, look)

    def factory(model):
        return Gated(model, CPU)

    options = LiveOptions(max_frames=6, size=(WIDTH, HEIGHT), workers=2)
    bank = StyleBank([random_model_file], engine_factory=factory)
    stats = LiveSession(SyntheticSource(fps=100), bank, [sink], options, log=lambda _m: None).run()
    assert stats.late >= 1 and stats.summary()["frames_late"] == stats.late
    assert stats.outputs == 6
    times = [m.capture_time for m in sink.metas]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert stats.captured - stats.dropped - stats.outputs in (0, 1)


def test_a_worker_error_is_raised_on_the_pipeline_thread(random_model_file):
    class Broken(Engine):
        def run_tensor(self, images, look=FULL_STYLE):
            if threading.current_thread() is not threading.main_thread():
                raise RuntimeError("kernel exploded")
            return super().run_tensor(images, look)

    sink = RecordingSink()
    bank = StyleBank([random_model_file], engine_factory=lambda model: Broken(model, CPU))
    options = LiveOptions(max_frames=5, size=(WIDTH, HEIGHT), workers=2)
    with pytest.raises(RuntimeError, match="kernel exploded"):
        LiveSession(SyntheticSource(fps=100), bank, [sink], options, log=lambda _m: None).run()
    assert sink.closed and not sink.frames


def test_worker_pool_hands_out_one_job_per_idle_worker():
    release = threading.Event()
    pool: WorkerPool[int, int] = WorkerPool(2, lambda worker, job: release.wait(5) and job * 10 + worker)
    try:
        first = pool.idle_worker()
        pool.submit(first, 1)
        second = pool.idle_worker()
        pool.submit(second, 2)
        assert {first, second} == {0, 1} and pool.idle_worker() is None and pool.busy == 2
        assert pool.collect(timeout=0.0) == []
        release.set()
        done = pool.collect(timeout=5)
        while len(done) < 2:
            done += pool.collect(timeout=5)
        assert sorted(d.result for d in done) == sorted([10 + first, 20 + second])
        assert pool.busy == 0 and all(d.error is None and d.cpu >= 0 for d in done)
    finally:
        pool.close()


def test_default_workers():
    assert default_workers(torch.device("cpu"), cores=2) == 2
    assert default_workers(torch.device("cpu"), cores=1) == 1
    assert default_workers(torch.device("cuda"), cores=16) == 1
