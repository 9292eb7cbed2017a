"""DistributedDataParallel under torchrun: NCCL on GPUs, gloo on CPUs; a no-op in a single process."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def _uses_cuda(device_name: str) -> bool:
    return torch.cuda.is_available() and device_name in ("auto", "cuda") or device_name.startswith("cuda")


def init_distributed(device_name: str) -> DistContext:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1), else a single-process context."""
    world_size = _world_size()
    if world_size <= 1:
        return DistContext()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = _uses_cuda(device_name)
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank)


def cpu_threads_per_rank(device_name: str) -> int | None:
    """Intra-op threads of each rank of a torchrun job on CPUs: the host's cores shared among its ranks.

    None in a single process or on GPUs (PyTorch's own count). The entry point applies it
    (:func:`training.cli.process_options`): the thread count is the process's, not this module's.
    """
    world_size = _world_size()
    if world_size <= 1 or _uses_cuda(device_name):
        return None
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    return max(1, (os.cpu_count() or 1) // local_world)


def device_for(ctx: DistContext, device: torch.device) -> torch.device:
    """Under DDP on GPUs each process takes the GPU of its local rank."""
    if ctx.enabled and device.type == "cuda":
        return torch.device("cuda", ctx.local_rank)
    return device


def any_rank(ctx: DistContext, flag: bool, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on at least one (e.g. a stop signal)."""
    return any_rank_each(ctx, (flag,), device)[0]


def any_rank_each(ctx: DistContext, flags: tuple[bool, ...], device: torch.device) -> tuple[bool, ...]:
    """Each flag true on every rank when it is true on at least one: several flags, one all-reduce."""
    if not ctx.enabled:
        return flags
    value = torch.tensor([1.0 if flag else 0.0 for flag in flags], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return tuple(bool(v > 0) for v in value.tolist())


def ranks_in_sync(ctx: DistContext, net: torch.nn.Module, device: torch.device) -> bool:
    """Whether every rank holds bitwise the same weights (all-gathers every weight once)."""
    if not ctx.enabled:
        return True
    flat = torch.cat([p.detach().float().flatten() for p in net.state_dict().values()]).to(device)
    gathered = [torch.empty_like(flat) for _ in range(ctx.world_size)]
    dist.all_gather(gathered, flat)
    return all(torch.equal(gathered[0], other) for other in gathered[1:])


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
