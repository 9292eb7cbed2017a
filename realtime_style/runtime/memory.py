"""How many frames fit in memory at once: a cap on batch sizes from the frame size and the free memory."""

from __future__ import annotations

from pathlib import Path

import torch

#: Peak memory a batch takes per frame pixel, rounded up from a measurement: the standard net in fp32 on
#: the CPU (the largest case) took 564 bytes per pixel per frame more at batch 9 than at batch 1
#: (256x256 frames, peak RSS, AMD EPYC). Half precision and the light net take less.
BYTES_PER_PIXEL = 600
#: The share of the free memory a batch may take (the rest: the process, the queues, everything else).
SHARE_OF_FREE = 0.5


def free_memory(device: torch.device) -> int | None:
    """Bytes free on ``device`` (CUDA: its own memory; else the machine's available RAM), None if unknown."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def largest_batch(width: int, height: int, free_bytes: int | None) -> int | None:
    """The most ``width`` x ``height`` frames one batch may hold in ``free_bytes`` (at least 1), None if unknown."""
    if free_bytes is None:
        return None
    return max(1, int(free_bytes * SHARE_OF_FREE) // (BYTES_PER_PIXEL * width * height))
