"""Process-wide settings: configure_process does what it says, and only entry points call it."""

from __future__ import annotations

import argparse
import platform
from collections.abc import Iterator

import pytest
import torch

from realtime_style.runtime import allocator
from realtime_style.runtime.process import ProcessOptions, configure_process, describe_process

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc" and not allocator.preloaded_allocator()


@pytest.fixture
def restored() -> Iterator[None]:
    """Put threads, cuDNN autotuning and malloc's thresholds back as the suite had them."""
    threads, benchmark, tuned = torch.get_num_threads(), torch.backends.cudnn.benchmark, allocator.malloc_tuned()
    yield
    torch.set_num_threads(threads)
    torch.backends.cudnn.benchmark = benchmark
    if tuned:
        allocator.tune_glibc_malloc()
    else:
        allocator.untune_glibc_malloc()


def test_configure_process_sets_threads_malloc_and_cudnn(restored) -> None:
    allocator.untune_glibc_malloc()
    assert not allocator.malloc_tuned() and "default malloc" in describe_process()
    setup = configure_process(ProcessOptions(threads=1, tune_allocator=True, cudnn_benchmark=False))
    assert torch.get_num_threads() == 1 and torch.backends.cudnn.benchmark is False
    assert setup.threads == 1 and setup.cudnn_benchmark is False
    assert setup.allocator_tuned is GLIBC and allocator.malloc_tuned() is GLIBC
    assert describe_process().startswith("1 threads, ")
    assert ("tuned thresholds" in describe_process()) is GLIBC


def test_configure_process_leaves_alone_what_it_is_not_asked_to_change(restored) -> None:
    allocator.untune_glibc_malloc()
    torch.set_num_threads(1)
    setup = configure_process(ProcessOptions(threads=None, tune_allocator=False, cudnn_benchmark=True))
    assert torch.get_num_threads() == 1 and setup.threads == 1
    assert not setup.allocator_tuned and not allocator.malloc_tuned()
    assert torch.backends.cudnn.benchmark is True


def test_the_command_sets_the_process_up_once_with_its_flags(monkeypatch, capsys) -> None:
    import realtime_style.cli as cli

    calls: list[ProcessOptions] = []
    monkeypatch.setattr(cli, "configure_process", calls.append)
    assert cli.main(["styles"]) == 0
    assert calls == [ProcessOptions()]


def test_still_flags_become_process_options() -> None:
    from realtime_style.cli import build_parser
    from realtime_style.cli.speed import process_options

    args = build_parser().parse_args(
        ["still", "a.jpg", "b.jpg", "--style", "mosaic", "--threads", "3", "--no-tune-allocator", "--no-cudnn-benchmark"]
    )
    assert process_options(args) == ProcessOptions(threads=3, tune_allocator=False, cudnn_benchmark=False)


def test_webcam_threads_default_to_the_cores_but_one_shared_by_the_workers() -> None:
    from realtime_style.cli import build_parser
    from realtime_style.cli.speed import process_options
    from realtime_style.live.workers import default_threads

    args = build_parser().parse_args(["webcam", "--device", "cpu", "--workers", "1"])
    assert process_options(args).threads == default_threads(1)
    args = build_parser().parse_args(["webcam", "--device", "cpu", "--workers", "1", "--threads", "2"])
    assert process_options(args).threads == 2


def test_training_tunes_malloc_with_fast_step_and_shares_cores_among_cpu_ranks(monkeypatch) -> None:
    from realtime_style.training.cli import process_options

    monkeypatch.setattr("os.cpu_count", lambda: 8)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    single = process_options(argparse.Namespace(device="cpu", fast_step=False))
    assert single == ProcessOptions(threads=None, tune_allocator=False, cudnn_benchmark=False)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert process_options(argparse.Namespace(device="cpu", fast_step=True)) == ProcessOptions(
        threads=4, tune_allocator=True, cudnn_benchmark=False
    )
