"""CUDA graphs for the inference net: capture once per input shape, then replay.

A replay launches the whole network as one graph instead of one kernel launch per layer, which
matters when launches, not arithmetic, bound a batch (small frames, small batches). Written to
PyTorch's "CUDA Graphs" notes (``torch.cuda.graph``, ``torch.cuda.CUDAGraph``):

- warm-up iterations run on a side stream before capture, so cuDNN autotuning and lazy
  initialisation (handles, workspaces) happen outside the capture; the capture then runs on
  that same stream (per-stream library workspaces already exist);
- the graph reads a static input tensor and writes a static output tensor: a replay copies the
  new batch into the input, replays, and returns a copy of the output (the next replay would
  overwrite it, and the engine's callers may hold results across calls);
- capture runs with ``capture_error_mode="thread_local"``, so other threads of the program
  (decoding, encoding, a preview window) cannot make it fail.

A shape is captured the second time it is seen, so a one-off shape (the last, partial batch of
a file) runs eagerly, and so does every shape beyond ``capacity`` (each graph keeps its own
memory pool of activations).

A capture that fails (a driver, library or kernel that cannot be captured) is not fatal: the cache
prints one warning line and runs everything eagerly from then on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch

Net = Callable[[torch.Tensor], torch.Tensor]
_Key = tuple[tuple[int, ...], tuple[int, ...], torch.dtype, torch.device]


class CapturedNet:
    """``net`` captured as a CUDA graph for inputs shaped (and strided) like ``example``."""

    def __init__(self, net: Net, example: torch.Tensor, warmup: int = 3):
        with torch.cuda.device(example.device):
            self.input = example.clone()  # keeps the example's memory format
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(warmup):
                    net(self.input)
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph, stream=side, capture_error_mode="thread_local"):
                self.output = net(self.input)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.input.copy_(x)
        self.graph.replay()
        return self.output.clone()


class GraphCache:
    """Calls ``net`` through a captured graph for shapes seen before, eagerly otherwise.

    ``capture(net, example)`` makes the graphed callable (:class:`CapturedNet`; tests pass a stand-in).
    """

    def __init__(self, net: Net, capacity: int = 2, capture: Callable[[Net, torch.Tensor], Net] = CapturedNet):
        self.net = net
        self.capacity = capacity
        self.capture = capture
        self.graphs: dict[_Key, Net] = {}
        self._seen: set[_Key] = set()
        #: Why capture failed (then every call runs eagerly), or None.
        self.failed: str | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.failed is not None:
            return self.net(x)
        key = (tuple(x.shape), x.stride(), x.dtype, x.device)
        graph = self.graphs.get(key)
        if graph is not None:
            return graph(x)
        if key not in self._seen or len(self.graphs) >= self.capacity:
            if len(self.graphs) < self.capacity:
                self._seen.add(key)
            return self.net(x)
        try:
            self.graphs[key] = self.capture(self.net, x)
        except Exception as exc:  # noqa: BLE001 - any capture failure: eager is always correct
            self._give_up(exc)
            return self.net(x)
        return self.graphs[key](x)

    def _give_up(self, exc: Exception) -> None:
        """Drop every graph and run eagerly from now on, with one warning line."""
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        self.failed = reason
        self.graphs.clear()
        print(f"rtstyle: warning: CUDA graph capture failed ({reason}); running eagerly", file=sys.stderr, flush=True)
