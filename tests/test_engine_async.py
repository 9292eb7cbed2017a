"""Batches in flight on the CPU: ``in_order``, ``Engine.submit``, the file pipeline's use of it,
and the CUDA-graph cache's policy (with a stand-in for capture). The CUDA side is in test_cuda.py."""

from __future__ import annotations

import argparse
from fractions import Fraction

import numpy as np
import pytest
import torch
from test_video_pipeline import Recorder, numbered_frames

from realtime_style.runtime.cuda_graphs import GraphCache
from realtime_style.runtime.engine import Engine, EngineOptions
from realtime_style.errors import OutputError
from realtime_style.media import Frame
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
from realtime_style.runtime.pending import Ready, in_order
from realtime_style.file_pipeline import FilePipeline, PipelineOptions


class Deferred:
    """A handle that is done only after ``ticks`` polls, like a GPU batch still downloading."""

    def __init__(self, frames: np.ndarray, ticks: int, log: list[str], fail: bool = False):
        self.frames, self.ticks, self.log, self.fail = frames, ticks, log, fail

    def done(self) -> bool:
        self.ticks -= 1
        return self.ticks < 0

    def result(self) -> np.ndarray:
        self.log.append(f"result {int(self.frames.flat[0])}")
        if self.fail:
            raise OutputError(f"boom at {int(self.frames.flat[0])}")
        return 255 - self.frames


class DeferredSubmitter:
    """Submits batches as Deferred handles and tracks how many are in flight at most."""

    def __init__(self, ticks: int = 5, fail_submit_at: int | None = None, fail_result_at: int | None = None):
        self.ticks, self.fail_submit_at, self.fail_result_at = ticks, fail_submit_at, fail_result_at
        self.log: list[str] = []
        self.in_flight = self.most_in_flight = 0

    def __call__(self, frames: np.ndarray) -> Deferred:
        first = int(frames.flat[0])
        if first == self.fail_submit_at:
            raise OutputError(f"boom submitting {first}")
        self.log.append(f"submit {first}")
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        handle = Deferred(frames, self.ticks, self.log, fail=first == self.fail_result_at)
        collect = handle.result

        def result() -> np.ndarray:
            self.in_flight -= 1
            return collect()

        handle.result = result
        return handle


def batches_of(values: list[int]) -> list[np.ndarray]:
    return [np.full((1, 2, 2, 3), v, np.uint8) for v in values]


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_in_order_keeps_order_and_at_most_depth_in_flight(depth: int) -> None:
    submitter = DeferredSubmitter()
    items = batches_of(list(range(10)))
    seconds: list[float] = []
    results = list(in_order(submitter, items, depth, busy=seconds.append))
    assert [int(item.flat[0]) for item, _ in results] == list(range(10))
    assert [int(out.flat[0]) for _, out in results] == [255 - v for v in range(10)]
    assert submitter.most_in_flight == depth
    assert len(seconds) == 20 and all(s >= 0 for s in seconds)  # one per submit, one per result
    if depth == 2:  # batch i is collected only after batch i+1 was submitted
        assert submitter.log[:4] == ["submit 0", "submit 1", "result 0", "submit 2"]


def test_in_order_yields_finished_batches_at_once() -> None:
    """A handle that is done already (the CPU path) is not held back waiting for the next submit."""
    log: list[str] = []

    def submit(frames: np.ndarray) -> Ready:
        log.append(f"submit {int(frames.flat[0])}")
        return Ready(frames)

    for item, _ in in_order(submit, batches_of([0, 1, 2]), depth=2):
        log.append(f"got {int(item.flat[0])}")
    assert log == ["submit 0", "got 0", "submit 1", "got 1", "submit 2", "got 2"]


def test_in_order_yields_earlier_results_before_a_submit_error() -> None:
    submitter = DeferredSubmitter(fail_submit_at=3)
    got = []
    with pytest.raises(OutputError, match="boom submitting 3"):
        for item, _ in in_order(submitter, batches_of(list(range(6))), depth=3):
            got.append(int(item.flat[0]))
    assert got == [0, 1, 2]


def test_in_order_rejects_a_depth_below_one() -> None:
    with pytest.raises(ValueError, match="depth"):
        list(in_order(Ready, batches_of([0]), depth=0))


@pytest.fixture(scope="module")
def engine() -> Engine:
    torch.manual_seed(0)
    return Engine(TransformerNet(ARCHITECTURES["light"]), EngineOptions(device="cpu", batch_size=2))


def test_cpu_submit_is_computed_at_once_and_equals_stylize(engine: Engine, frames: np.ndarray) -> None:
    assert not engine.copy_streams and not engine.cuda_graphs
    handle = engine.submit(frames[:3])
    assert handle.done()
    out = handle.result()
    assert out.shape == frames[:3].shape and out.dtype == np.uint8
    assert np.array_equal(out, engine.stylize(frames[:3]))
    # stylize goes through submit in batches of 2: the same frames as one batch at a time. Not bit for bit: oneDNN
    # picks other convolution kernels for another batch size on some CPUs (2-core EPYC, fp32), off by one level at most
    one_at_a_time = np.concatenate([engine.submit(f[None]).result() for f in frames]).astype(np.int16)
    assert np.abs(engine.stylize(frames).astype(np.int16) - one_at_a_time).max() <= 1
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        engine.submit(frames[0])


def image_frames(images: np.ndarray) -> list[Frame]:
    return [Frame(image=image, index=i, pts=i, time_base=Fraction(1, 25)) for i, image in enumerate(images)]


def test_pipeline_with_engine_submit_matches_engine_stylize(engine: Engine, frames: np.ndarray) -> None:
    clip = np.concatenate([frames, frames[::-1], frames[:1]])  # 9 frames: a partial last batch
    sink = Recorder()
    stats = FilePipeline(engine.submit, PipelineOptions(batch_size=2)).run(image_frames(clip), sink)
    assert stats.frames == 9 and stats.busy["stylize"] > 0
    assert np.array_equal(np.stack(sink.images), engine.stylize(clip))


@pytest.mark.parametrize("in_flight", [1, 2])
def test_pipeline_keeps_order_with_batches_in_flight(in_flight: int) -> None:
    submitter = DeferredSubmitter(ticks=3)
    sink = Recorder(delay=0.001)
    options = PipelineOptions(batch_size=3, in_flight=in_flight)
    stats = FilePipeline(submitter, options).run(numbered_frames(40), sink)
    assert stats.frames == 40
    assert [int(img[0, 0, 0]) for img in sink.images] == [255 - i for i in range(40)]
    assert submitter.most_in_flight == in_flight


@pytest.mark.parametrize("where", ["submit", "result"])
def test_pipeline_writes_the_batches_before_a_failed_one(where: str) -> None:
    submitter = DeferredSubmitter(ticks=3, **{f"fail_{where}_at": 12})
    sink = Recorder()
    with pytest.raises(OutputError, match="boom"):
        FilePipeline(submitter, PipelineOptions(batch_size=3)).run(numbered_frames(40), sink)
    assert [int(img[0, 0, 0]) for img in sink.images] == [255 - i for i in range(12)]


class FakeCapture:
    """Stands in for CUDA-graph capture: records captures and replays of a shape."""

    def __init__(self) -> None:
        self.captured: list[tuple[int, ...]] = []
        self.replays = 0

    def __call__(self, net, example: torch.Tensor):
        self.captured.append(tuple(example.shape))

        def replay(x: torch.Tensor) -> torch.Tensor:
            self.replays += 1
            return net(x)

        return replay


def test_graph_cache_captures_a_shape_on_its_second_use_and_keeps_at_most_capacity() -> None:
    capture = FakeCapture()
    eager_calls: list[tuple[int, ...]] = []

    def net(x: torch.Tensor) -> torch.Tensor:
        eager_calls.append(tuple(x.shape))
        return x * 2

    cache = GraphCache(net, capacity=2, capture=capture)
    full, partial, other, third = (torch.ones(n, 3, 4, 4) for n in (8, 3, 5, 6))
    for x in (full, full, full, partial, other, other, third, third):
        assert torch.equal(cache(x), x * 2)
    assert capture.captured == [(8, 3, 4, 4), (5, 3, 4, 4)]  # the one-off partial batch was never captured
    assert capture.replays == 3  # full twice (capture, then replay), other once
    assert eager_calls.count((6, 3, 4, 4)) == 2  # beyond capacity: eager every time
    channels_last = full.to(memory_format=torch.channels_last)
    cache(channels_last)
    assert len(capture.captured) == 2  # another memory format is another shape, and the cache is full


def test_cuda_switches_are_off_on_the_cpu_and_flags_reach_the_options() -> None:
    from realtime_style.cli.speed import add_speed_arguments, speed_options

    engine = Engine(TransformerNet(ARCHITECTURES["light"]), EngineOptions(device="cpu", cuda_graphs=True))
    assert not engine.cuda_graphs and not engine.copy_streams and "CUDA graphs" not in engine.describe()
    parser = argparse.ArgumentParser()
    add_speed_arguments(parser)
    assert speed_options(parser.parse_args(["--cuda-graphs", "--no-copy-streams"])) == {
        "cuda_graphs": True,
        "copy_streams": False,
    }
    assert speed_options(parser.parse_args(["--no-cuda-graphs"])) == {"cuda_graphs": False}
    assert EngineOptions().cuda_graphs is None and EngineOptions().copy_streams is None


def test_graph_cache_falls_back_to_eager_with_one_warning_when_capture_fails(capsys) -> None:
    attempts: list[tuple[int, ...]] = []

    def failing_capture(net, example: torch.Tensor):
        attempts.append(tuple(example.shape))
        raise RuntimeError("operation not permitted when stream is capturing\nmore detail")

    cache = GraphCache(lambda x: x * 2, capacity=2, capture=failing_capture)
    batches = [torch.ones(n, 3, 4, 4) for n in (8, 8, 8, 5, 5, 5)]
    for x in batches:
        assert torch.equal(cache(x), x * 2)
    assert attempts == [(8, 3, 4, 4)]  # no second try, for this shape or another
    assert cache.failed == "operation not permitted when stream is capturing" and not cache.graphs
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["rtstyle: warning: CUDA graph capture failed (operation not permitted when stream is capturing); running eagerly"]
