"""Data-parallel training across processes started by ``torchrun`` (DDP without a sampler).

``torchrun --nproc_per_node=K`` starts K processes and tells each its ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE``. :func:`setup` joins them into one process group (gloo on
CPU, nccl on CUDA). Every process holds the whole in-memory data set; each epoch they all draw
the same permutation and rank r keeps every K-th index from r (:func:`shard`), so no
DistributedSampler or DataLoader is needed. DistributedDataParallel broadcasts rank 0's
initial weights and averages the gradients, so the replicas stay identical.
"""

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "setup", "cleanup", "is_distributed", "rank", "world_size",
           "is_main_process", "shard", "all_reduce_sum", "broadcast_module"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the group: its rank, the group size and its device."""

    rank: int
    local_rank: int
    world_size: int
    device: torch.device
    backend: str


def is_distributed():
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank():
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size():
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main_process():
    """True on rank 0, the process that prints and writes files."""
    return rank() == 0


def setup(device=None, timeout_s=300):
    """Join the process group described by torchrun's environment variables.

    Args:
        device: "cpu" or "cuda" to force a backend; None picks nccl when CUDA is available.
        timeout_s: how long collective operations wait for the other processes.

    Returns:
        DistInfo, or None when not started by torchrun (``WORLD_SIZE`` unset or 1).
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return None
    global_rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device is None else torch.device(device).type == "cuda"
    if use_cuda:
        torch.cuda.set_device(local_rank)
        where, backend = torch.device("cuda", local_rank), "nccl"
    else:
        where, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return DistInfo(global_rank, local_rank, size, where, backend)


def cleanup(wait_for_peers=True):
    """Leave the process group (safe to call when there is none).

    With ``wait_for_peers`` every rank first waits at a barrier: a rank that tore down its
    group while another was still using the connection was killed by gloo ("terminate called
    without an active exception", 3 runs in 38). Pass False on an error path, where a
    peer may never arrive.
    """
    if dist.is_available() and dist.is_initialized():
        if wait_for_peers:
            dist.barrier()
        dist.destroy_process_group()


def shard(indices, rank_=None, world_size_=None):
    """This rank's share of ``indices``: every ``world_size``-th element starting at ``rank``.

    All shards get the same length (len // world_size; the few left over are dropped this
    epoch), so every rank runs the same number of steps and no collective waits forever.
    """
    r = rank() if rank_ is None else rank_
    k = world_size() if world_size_ is None else world_size_
    per_rank = len(indices) // k
    return indices[r::k][:per_rank]


def all_reduce_sum(values):
    """Sum a list of floats over all ranks (returned unchanged when not distributed)."""
    if not is_distributed():
        return list(values)
    backend_device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor(values, dtype=torch.float64, device=backend_device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def broadcast_module(module, src=0):
    """Copy rank ``src``'s parameters and buffers (e.g. BN running stats) to every rank."""
    if not is_distributed():
        return
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            if tensor.is_contiguous():
                dist.broadcast(tensor.data, src)
            else:  # e.g. channels_last weights: send a contiguous copy, then copy it back
                flat = tensor.data.contiguous()
                dist.broadcast(flat, src)
                tensor.data.copy_(flat)
