"""Soak of the file path: a thousand small frames through ``rtstyle video``'s pipeline with flat memory,
bounded queues and no leaked threads or files (``tests/soak_video.py``; ``RTSTYLE_LONG_TESTS=1``: 5,000)."""

from __future__ import annotations

import threading

import pytest

from soak_video import soak


@pytest.mark.slow
def test_a_long_file_run_keeps_memory_flat_and_queues_bounded(long_run: bool) -> None:
    frames = 5_000 if long_run else 1_000
    report = soak(frames=frames, size=(96, 64), every=frames // 8, warmup=frames // 4, style="no-such-style-use-random-weights")
    assert report.frames == frames and len(report.samples) == 8
    assert report.rss_growth < 0.05, [s.rss_mb for s in report.samples]
    stats = report.stats
    assert stats is not None
    assert set(stats.peak_queued) == {"decoded", "stylized"}
    assert all(0 < peak <= stats.queue_bound for peak in stats.peak_queued.values()), stats.peak_queued
    _, files = report.threads_and_files
    assert len(files) == 1, files  # no file descriptor opened per frame or per batch
    assert not [t.name for t in threading.enumerate() if t.name.startswith("rtstyle-")]  # every stage ended
