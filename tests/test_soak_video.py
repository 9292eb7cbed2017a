"""Soak of the file path: thousands of small frames through ``rtstyle video``'s pipeline with flat
memory, bounded queues and no leaked threads or files (benchmarks/soak_video.py, smaller)."""

from __future__ import annotations

import threading

import pytest

from benchmarks.soak_video import soak


@pytest.mark.slow
def test_a_long_file_run_keeps_memory_flat_and_queues_bounded() -> None:
    report = soak(frames=2000, size=(96, 64), every=250, warmup=500, style="no-such-style-use-random-weights")
    assert report.frames == 2000 and len(report.samples) == 8
    assert report.rss_growth < 0.05, [s.rss_mb for s in report.samples]
    stats = report.stats
    assert stats is not None
    assert set(stats.peak_queued) == {"decoded", "stylized"}
    assert all(0 < peak <= stats.queue_bound for peak in stats.peak_queued.values()), stats.peak_queued
    _, files = report.threads_and_files
    assert len(files) == 1, files  # no file descriptor opened per frame or per batch
    assert not [t.name for t in threading.enumerate() if t.name.startswith("rtstyle-")]  # every stage ended
