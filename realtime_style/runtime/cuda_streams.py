"""Host <-> GPU transfers that overlap compute: page-locked buffers, side streams, events.

Written to PyTorch's "CUDA semantics" notes (streams, ``Tensor.record_stream``, pinned memory):

- An upload runs on its own stream from a page-locked buffer; the compute stream waits for it
  (``wait_stream``) before reading, and ``record_stream`` tells the caching allocator the upload
  is also used by the compute stream, so its memory is not handed out again while compute runs.
- A page-locked upload buffer is reused only after an event says the copy out of it finished.
- A download waits for the compute stream, runs on a third stream into a fresh page-locked
  buffer (PyTorch's caching host allocator makes that cheap after the first few batches) and
  records an event; :meth:`InFlight.result` waits for that event only. The buffer is never
  reused by us, so the returned array stays valid for as long as the caller keeps it.

So while batch i downloads, batch i+1 can upload and compute.
"""

from __future__ import annotations

import numpy as np
import torch


class PinnedStaging:
    """One page-locked host buffer per frame shape, reused; an event guards against overwriting
    a buffer whose previous upload is still in flight."""

    def __init__(self) -> None:
        self._buffers: dict[tuple[int, ...], tuple[torch.Tensor, torch.cuda.Event]] = {}

    def upload(self, batch: torch.Tensor, device: torch.device, stream: torch.cuda.Stream) -> torch.Tensor:
        """Copy host ``batch`` to ``device`` on ``stream`` (asynchronously); returns the device tensor."""
        key = tuple(batch.shape)
        if key not in self._buffers:
            self._buffers = {key: (torch.empty(key, dtype=batch.dtype).pin_memory(), torch.cuda.Event())}
        host, copied = self._buffers[key]
        copied.synchronize()  # the previous upload from this buffer has finished reading it
        host.copy_(batch)
        with torch.cuda.stream(stream):
            on_device = host.to(device, non_blocking=True)
            copied.record(stream)
        return on_device


class InFlight:
    """A batch downloading into page-locked host memory; ``result`` waits for its event."""

    def __init__(self, host: torch.Tensor, finished: torch.cuda.Event):
        self._host = host
        self._finished = finished

    def done(self) -> bool:
        return self._finished.query()

    def result(self) -> np.ndarray:
        self._finished.synchronize()
        return self._host.numpy()


class CopyStreams:
    """An upload stream and a download stream beside the caller's (compute) stream."""

    def __init__(self, device: torch.device, staging: PinnedStaging | None):
        self.device = device
        self.staging = staging
        self.upload_stream = torch.cuda.Stream(device)
        self.download_stream = torch.cuda.Stream(device)

    def upload(self, batch: torch.Tensor) -> torch.Tensor:
        """Host ``batch`` -> device tensor that the current stream may read right away."""
        compute = torch.cuda.current_stream(self.device)
        if self.staging is not None:
            on_device = self.staging.upload(batch, self.device, self.upload_stream)
        else:
            pinned = batch.pin_memory()
            with torch.cuda.stream(self.upload_stream):
                on_device = pinned.to(self.device, non_blocking=True)
        compute.wait_stream(self.upload_stream)
        on_device.record_stream(compute)
        return on_device

    def download(self, frames: torch.Tensor) -> InFlight:
        """Device ``frames`` (computed on the current stream) -> a handle on their host copy."""
        compute = torch.cuda.current_stream(self.device)
        host = torch.empty(frames.shape, dtype=frames.dtype, pin_memory=True)
        self.download_stream.wait_stream(compute)
        finished = torch.cuda.Event(blocking=True)  # result() sleeps instead of spinning a core the codecs need
        with torch.cuda.stream(self.download_stream):
            host.copy_(frames, non_blocking=True)
            finished.record(self.download_stream)
        frames.record_stream(self.download_stream)
        return InFlight(host, finished)
