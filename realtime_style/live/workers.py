"""Engine workers for the live path: N threads, each stylizing one frame at a time.

On a CPU one frame at batch 1 does not keep two cores busy (one intra-op thread per frame scales
better than two threads on one frame), so with ``workers=2`` two frames are in flight at once,
each on its own thread with its own engine replica. PyTorch releases the GIL inside every
operator, so the threads overlap. The pipeline hands a job to a worker only when that worker is
idle (no queue, so no backlog) and puts the results back in capture order.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import torch

from realtime_style.errors import UsageError
from realtime_style.runtime.process import usable_cores

Job = TypeVar("Job")
Result = TypeVar("Result")


def default_workers(device: torch.device, cores: int | None = None) -> int:
    """2 on a CPU with at least 2 cores (measured: 2 frames x 1 thread beat 1 frame x 2 threads), else 1.

    On a GPU the engine is asynchronous already and one worker keeps it busy.
    """
    cores = usable_cores() if cores is None else cores
    return 2 if device.type == "cpu" and cores >= 2 else 1


def check_workers(workers: int, cores: int | None = None) -> None:
    """Refuse more workers than usable cores: each holds a frame in flight, so extra ones only add latency."""
    cores = usable_cores() if cores is None else cores
    if workers > cores:
        raise UsageError(
            f"--workers {workers} is more than the {cores} usable CPU core(s): each worker holds a frame in "
            f"flight, so more only add latency (use at most {cores})"
        )


def default_threads(workers: int, cores: int | None = None) -> int:
    """Intra-op threads per worker: the cores but one (capture and output need it), shared out, at least 1.

    Measured on a shared 2-core machine: two network threads next to the capture thread gave under
    1 fps at 160x96 where one thread gave 22 fps (OpenMP workers spin waiting for a descheduled peer).
    """
    cores = usable_cores() if cores is None else cores
    return max(1, (cores - 1) // workers)


@dataclass(frozen=True)
class Done(Generic[Result]):
    """A finished job: its result, the worker's wall and CPU seconds on it, or the error it raised."""

    worker: int
    result: Result | None
    wall: float
    cpu: float
    error: BaseException | None = None


class WorkerPool(Generic[Job, Result]):
    """``count`` daemon threads running ``work(worker_index, job)``; at most one job per worker."""

    def __init__(self, count: int, work: Callable[[int, Job], Result], name: str = "rtstyle-worker"):
        if count < 1:
            raise ValueError(f"workers must be at least 1, got {count}")
        self.count = count
        self._work = work
        self._inboxes: list[queue.SimpleQueue[Job | None]] = [queue.SimpleQueue() for _ in range(count)]
        self._done: queue.SimpleQueue[Done[Result]] = queue.SimpleQueue()
        self._idle = list(range(count))
        self._threads = [
            threading.Thread(target=self._run, args=(i,), name=f"{name}-{i}", daemon=True) for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def busy(self) -> int:
        """Jobs handed out and not yet collected."""
        return self.count - len(self._idle)

    def idle_worker(self) -> int | None:
        """The index of a worker with nothing to do, or None when all are busy."""
        return self._idle[0] if self._idle else None

    def submit(self, worker: int, job: Job) -> None:
        """Give ``job`` to the idle ``worker`` (see :meth:`idle_worker`)."""
        self._idle.remove(worker)
        self._inboxes[worker].put(job)

    def collect(self, timeout: float) -> list[Done[Result]]:
        """Finished jobs, waiting up to ``timeout`` s for the first one; their workers are idle again."""
        finished = []
        try:
            finished.append(self._done.get(timeout=timeout) if timeout > 0 else self._done.get_nowait())
            while True:
                finished.append(self._done.get_nowait())
        except queue.Empty:
            pass
        self._idle.extend(done.worker for done in finished)
        return finished

    def close(self, timeout: float = 60.0) -> None:
        """Stop the threads after their current job (one frame; a job stuck in a driver is abandoned: daemons)."""
        for inbox in self._inboxes:
            inbox.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, index: int) -> None:
        inbox = self._inboxes[index]
        while (job := inbox.get()) is not None:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                result, error = self._work(index, job), None
            except BaseException as exc:  # handed to the pipeline's thread, which raises it
                result, error = None, exc
            self._done.put(Done(index, result, time.perf_counter() - wall, time.thread_time() - cpu, error))
