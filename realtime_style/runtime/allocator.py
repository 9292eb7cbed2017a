"""Keep freed activation buffers inside the process instead of handing them back to the kernel.

glibc's malloc serves every block above its mmap threshold (at most 32 MiB, and far less until
it adapts) with a fresh ``mmap`` and returns it with ``munmap`` on free. A transform net's
activation maps are 5-250 MiB each, so every frame pays for new zeroed pages and their faults
(20-45% of a CPU frame here). Raising the mmap and trim thresholds makes freed maps go back to
malloc's free lists, where the next frame finds them already mapped. The settings are
process-wide; jemalloc or tcmalloc via ``LD_PRELOAD`` reach the same effect from outside.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

#: mallopt parameter numbers from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: Blocks below this come from malloc's heap and are reused; 1 GiB covers a 1080p batch's maps.
DEFAULT_THRESHOLD = 1 << 30
#: The largest mmap threshold glibc's own dynamic adjustment reaches on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX).
GLIBC_DYNAMIC_MAX_THRESHOLD = 32 << 20

#: The mmap threshold this module last set (None: glibc's own, adapting one). glibc has no call that
#: reads the threshold back, so this mirrors it for :func:`malloc_tuned`.
_threshold_set: int | None = None


def preloaded_allocator() -> str | None:
    """The name of an allocator injected with LD_PRELOAD (jemalloc, tcmalloc, mimalloc), if any."""
    preload = os.environ.get("LD_PRELOAD", "")
    for name in ("jemalloc", "tcmalloc", "mimalloc"):
        if name in preload:
            return name
    return None


def _set_glibc_thresholds(threshold: int) -> bool:
    """mmap threshold ``threshold``, trim threshold twice that; False where glibc is not the allocator in use."""
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc" or preloaded_allocator():
        return False
    global _threshold_set
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    applied = bool(libc.mallopt(M_MMAP_THRESHOLD, threshold)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2 * threshold))
    if applied:
        _threshold_set = threshold
    return applied


def tune_glibc_malloc(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Raise glibc's mmap and trim thresholds; False where glibc is not the allocator in use."""
    return _set_glibc_thresholds(threshold)


def untune_glibc_malloc() -> bool:
    """Put the thresholds back to the most favourable values glibc reaches by itself (for same-run baselines).

    glibc's default threshold adapts upwards to at most 32 MiB; fixing it there gives blocks under 32 MiB
    the reuse they would get after adapting, so a baseline measured this way is, if anything, flattered.
    """
    return _set_glibc_thresholds(GLIBC_DYNAMIC_MAX_THRESHOLD)


def malloc_tuned() -> bool:
    """Whether glibc's thresholds are raised above what glibc reaches by itself (read only)."""
    return _threshold_set is not None and _threshold_set > GLIBC_DYNAMIC_MAX_THRESHOLD


def allocator_note() -> str:
    """How host memory is managed in this process, for log lines and benchmark headers."""
    if preloaded_allocator():
        return f"{preloaded_allocator()} (LD_PRELOAD)"
    return "glibc, tuned thresholds" if malloc_tuned() else "default malloc"
