"""The threaded file pipeline: order, batching, post-processing, stop requests, errors, no leaks."""

from __future__ import annotations

import random
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from media_helpers import make_clip, probe

from realtime_style.errors import OutputError
from realtime_style.media import Frame
from realtime_style.media.geometry import even_size
from realtime_style.file_pipeline import FilePipeline, PipelineOptions
from realtime_style.frame_processor import FrameProcessor
from realtime_style.runtime.pending import eager
from realtime_style.video import FitFrames, VideoOptions, process_video


def numbered_frames(count: int) -> list[Frame]:
    """Frames whose pixels all equal their index (mod 256), so order and identity are checkable."""
    return [
        Frame(image=np.full((5, 7, 3), i % 256, np.uint8), index=i, pts=i * 2, time_base=Fraction(1, 50))
        for i in range(count)
    ]


class Recorder:
    """A writer that keeps what it gets (optionally slowly)."""

    def __init__(self, delay: float = 0.0):
        self.images: list[np.ndarray] = []
        self.pts: list[int | None] = []
        self.delay = delay

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        time.sleep(self.delay * random.random())
        self.images.append(image)
        self.pts.append(pts)


def jittery_negate(batch: np.ndarray) -> np.ndarray:
    time.sleep(0.002 * random.random())
    return 255 - batch


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_every_frame_in_order(batch_size: int) -> None:
    frames = numbered_frames(50)
    sink = Recorder(delay=0.001)
    seen_batches: list[int] = []

    def stylize(batch: np.ndarray) -> np.ndarray:
        seen_batches.append(len(batch))
        return jittery_negate(batch)

    stats = FilePipeline(eager(stylize), PipelineOptions(batch_size=batch_size)).run(frames, sink, total=50)
    assert stats.frames == 50 and not stats.interrupted
    assert [int(img[0, 0, 0]) for img in sink.images] == [255 - i for i in range(50)]
    assert sink.pts == [i * 2 for i in range(50)]
    assert all(n == batch_size for n in seen_batches[:-1]) and sum(seen_batches) == 50
    assert set(stats.busy) == {"decode", "stylize", "postprocess", "encode"}


class AddOriginal:
    """A post-processor that records its calls: it returns stylized + original // 2 + offset."""

    def __init__(self, offset: int):
        self.offset = offset
        self.resets = 0
        self.calls = 0

    def process(self, original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        self.calls += 1
        return (stylized.astype(int) + original // 2 + self.offset).clip(0, 255).astype(np.uint8)

    def reset(self) -> None:
        self.resets += 1


def test_postprocessors_run_in_order_with_the_original() -> None:
    first, second = AddOriginal(1), AddOriginal(10)
    assert isinstance(first, FrameProcessor)
    sink = Recorder()
    frames = numbered_frames(6)
    FilePipeline(eager(lambda b: b // 4), PipelineOptions(batch_size=2, postprocess=[first, second])).run(frames, sink)
    for i, image in enumerate(sink.images):
        after_first = i // 4 + i // 2 + 1
        assert int(image[0, 0, 0]) == after_first + i // 2 + 10
    assert (first.resets, second.resets, first.calls, second.calls) == (1, 1, 6, 6)


class BatchRecorder(AddOriginal):
    """A processor with ``process_batch``: records the batch sizes it was given."""

    def __init__(self, offset: int):
        super().__init__(offset)
        self.batches: list[int] = []

    def process_batch(self, originals: list[np.ndarray], frames: list[np.ndarray]) -> list[np.ndarray]:
        self.batches.append(len(frames))
        return [self.process(original, frame) for original, frame in zip(originals, frames)]


def test_postprocessors_with_process_batch_get_whole_stylized_batches() -> None:
    batched, single = BatchRecorder(1), AddOriginal(10)
    sink = Recorder()
    FilePipeline(eager(lambda b: b // 4), PipelineOptions(batch_size=3, postprocess=[batched, single])).run(
        numbered_frames(8), sink
    )
    assert batched.batches == [3, 3, 2] and single.calls == 8
    assert [int(image[0, 0, 0]) for image in sink.images] == [i // 4 + 2 * (i // 2) + 11 for i in range(8)]


def test_stop_event_ends_early_and_keeps_order() -> None:
    stop = threading.Event()
    sink = Recorder()

    def slow(batch: np.ndarray) -> np.ndarray:
        if batch[0, 0, 0, 0] >= 10:
            stop.set()
        time.sleep(0.005)
        return batch

    stats = FilePipeline(eager(slow), PipelineOptions(batch_size=2)).run(numbered_frames(200), sink, stop=stop)
    assert stats.interrupted and 10 <= stats.frames < 30
    assert [int(img[0, 0, 0]) for img in sink.images] == list(range(stats.frames))


@pytest.mark.parametrize("failing_stage", ["source", "stylize", "sink"])
def test_an_error_in_any_stage_is_raised_and_stops_all_threads(failing_stage: str) -> None:
    def source():
        for frame in numbered_frames(100):
            if failing_stage == "source" and frame.index == 20:
                raise OutputError("boom in source")
            yield frame

    def stylize(batch: np.ndarray) -> np.ndarray:
        if failing_stage == "stylize" and batch[0, 0, 0, 0] == 20:
            raise OutputError("boom in stylize")
        return batch

    class FailingSink(Recorder):
        def write(self, image: np.ndarray, pts: int | None = None) -> None:
            if failing_stage == "sink" and image[0, 0, 0] == 20:
                raise OutputError("boom in sink")
            super().write(image, pts)

    before = threading.active_count()
    with pytest.raises(OutputError, match=f"boom in {failing_stage}"):
        FilePipeline(eager(stylize), PipelineOptions(batch_size=4)).run(source(), FailingSink())
    assert threading.active_count() == before


def test_process_video_keeps_count_fps_and_removes_empty_output(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=9, size=(97, 61), fps=Fraction(15))
    result = process_video(eager(lambda b: 255 - b), 4, clip, tmp_path / "out.mp4", VideoOptions(preset="ultrafast"))
    facts = probe(tmp_path / "out.mp4")
    assert result.frames == facts.frames == 9 and facts.fps == 15
    assert (facts.width, facts.height) == result.size == (96, 60)  # odd sides lose a pixel: 4:2:0 plays everywhere

    stop = threading.Event()
    stop.set()
    empty = process_video(eager(lambda b: b), 1, clip, tmp_path / "none.mp4", stop=stop)
    assert empty.output is None and empty.frames == 0 and not (tmp_path / "none.mp4").exists()


def test_fit_frames_crops_a_pixel_or_repeats_the_edge() -> None:
    image = np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3)
    assert np.array_equal(FitFrames(4, 2).process(image, image), image[:2, :4])
    tall = FitFrames(2, 2).process(image[:, :1], image[:, :1])
    assert tall.shape == (2, 2, 3) and np.array_equal(tall[:, 1], image[:2, 0])
    assert even_size(97, 61) == (96, 60) and even_size(1, 200) == (2, 200) and even_size(64, 48) == (64, 48)


def test_process_video_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4")
    before = clip.read_bytes()
    with pytest.raises(OutputError, match="same file"):
        process_video(eager(lambda b: b), 1, clip, tmp_path / "." / "in.mp4")
    (tmp_path / "link.mp4").symlink_to(clip)
    with pytest.raises(OutputError, match="same file"):
        process_video(eager(lambda b: b), 1, tmp_path / "link.mp4", clip)
    assert clip.read_bytes() == before


def test_an_error_mid_run_still_leaves_a_playable_file(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", count=40)
    calls = [0]

    def failing(batch: np.ndarray) -> np.ndarray:
        calls[0] += 1
        if calls[0] > 5:
            raise OutputError("device lost")
        return batch

    with pytest.raises(OutputError, match="device lost"):
        process_video(eager(failing), 2, clip, tmp_path / "out.mp4", VideoOptions(preset="ultrafast"))
    assert probe(tmp_path / "out.mp4").frames == 10
