"""Process-wide settings for running nets, made once at a program's entry point.

The intra-op thread count, glibc malloc's thresholds and cuDNN autotuning belong to the whole
process -- every engine and every thread in it -- so no engine or library function changes them.
The ``rtstyle`` command, ``python -m realtime_style.training``, each benchmark's ``main`` and each spawned worker
process call :func:`configure_process` once, before their first engine. A program using the Python
API calls it once itself for the measured CPU speed (``configure_process()`` takes the defaults).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from realtime_style.runtime.allocator import allocator_note, tune_glibc_malloc


@dataclass(frozen=True)
class ProcessOptions:
    """How the process runs its nets; the defaults are what the ``rtstyle`` command uses."""

    #: Intra-op threads for CPU work (torch.set_num_threads); None keeps PyTorch's default (all cores).
    threads: int | None = None
    #: Raise glibc's malloc thresholds so activation maps are reused between frames (20-45% of a CPU frame).
    tune_allocator: bool = True
    #: cuDNN times its convolution algorithms per input shape and keeps the fastest (CUDA).
    cudnn_benchmark: bool = True


@dataclass(frozen=True)
class ProcessSetup:
    """What :func:`configure_process` did: the thread count now and whether malloc is tuned."""

    threads: int
    allocator_tuned: bool
    cudnn_benchmark: bool


def usable_cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def configure_process(options: ProcessOptions | None = None) -> ProcessSetup:
    """Apply ``options`` to this process (call once, at the entry point, before the first engine)."""
    options = options or ProcessOptions()
    if options.threads:
        torch.set_num_threads(options.threads)
    tuned = options.tune_allocator and tune_glibc_malloc()
    torch.backends.cudnn.benchmark = options.cudnn_benchmark
    return ProcessSetup(torch.get_num_threads(), tuned, options.cudnn_benchmark)


def describe_process() -> str:
    """``2 threads, glibc, tuned thresholds``: the process's CPU settings now, for log lines (read only)."""
    return f"{torch.get_num_threads()} threads, {allocator_note()}"
