"""One job over several processes: what odin needs when `torchrun` or `accelerate launch` starts it (DDP).

    torchrun --nproc-per-node 2 -m odin +experiment=v16_smollm2_ade
    accelerate launch --multi_gpu --num_processes 2 -m odin +experiment=v16_smollm2_ade

The launcher starts one `python -m odin` per GPU with the same command line, so every rank composes the same config.
The trainer (transformers' Trainer through accelerate) does the data-parallel part: it wraps the model in DDP, gives
each rank its own share of every batch and averages the gradients. What is odin's:

- one run directory: its name holds the start time and `<process id>@<host>`, which differ between ranks, so rank
  0's are sent to the others (`start_stamp`) before Hydra names the directory;
- rank 0 alone writes it (Hydra's .hydra/ and log file, data, checkpoints, final_model, results, failure.json) and
  tracks the run; the other ranks read what it wrote after a barrier (`main_first`, `barrier`);
- evaluation is generated across ranks, a shard each, and gathered (`gather_shards`).

Everything here is a plain single-process no-op without a launcher. The launcher's environment (RANK, WORLD_SIZE,
LOCAL_RANK) is the source of truth, so this module imports torch only when there are several processes.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import re
from typing import Any, Iterator, Sequence

log = logging.getLogger(__name__)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_distributed() -> bool:
    return world_size() > 1


def is_main_process() -> bool:
    return rank() == 0


_start: tuple[_dt.datetime, str] | None = None


def start_stamp() -> tuple[_dt.datetime, str]:
    """(start time, `<process id>@<host>`) that name this run's directory: this process's own, or under a launcher
    rank 0's, the same on every rank. Fixed at the first call, as Hydra's `${now:...}` is.

    A process id is unique on its host only; with the host's name, runs started in the same second on machines that
    share one outputs/ (a cluster's shared disk) get directories of their own too."""
    global _start
    if _start is None:
        mine = (_dt.datetime.now(), f"{os.getpid()}@{short_hostname()}")
        _start = _broadcast(mine) if is_distributed() else mine
    return _start


def short_hostname() -> str:
    """The host's name up to its first dot, in letters, digits and '-' only (safe in a path), at most 24 of them."""
    import socket

    name = socket.gethostname().split(".")[0]
    return re.sub(r"[^A-Za-z0-9-]", "-", name)[:24] or "host"


def init_process_group() -> None:
    """The default process group, once: NCCL for CUDA tensors (DDP) beside gloo for Python objects on CPU.

    The trainer's accelerate state finds it initialized and uses it. On CPU (tests) gloo does both.
    """
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return
    if torch.cuda.is_available():
        # Before any CUDA work: "cuda" then means this rank's GPU everywhere (model.to("cuda"), 4-bit device maps).
        torch.cuda.set_device(local_rank() % torch.cuda.device_count())
        dist.init_process_group(backend="cpu:gloo,cuda:nccl")
    else:
        dist.init_process_group(backend="gloo")
    log.debug("process group initialized: rank %d of %d", rank(), world_size())


def _broadcast(value: Any) -> Any:
    import torch.distributed as dist

    init_process_group()
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    """Wait until every rank gets here (no-op in a single process)."""
    if is_distributed():
        import torch.distributed as dist

        init_process_group()
        dist.barrier()


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (and writes what it makes); the others run it once it is done, and find it there."""
    if not is_main_process():
        barrier()
    yield
    if is_main_process():
        barrier()


def shard(items: Sequence) -> list[int]:
    """The indices of `items` this rank handles: every world_size-th one, from its rank."""
    return list(range(rank(), len(items), world_size()))


def gather_shards(n: int, indices: list[int], values: list) -> list:
    """All ranks' `values` (this rank's are at `indices` of 0..n-1) as one list in index order, on every rank."""
    if not is_distributed():
        return list(values)
    import torch.distributed as dist

    parts: list = [None] * world_size()
    dist.all_gather_object(parts, list(zip(indices, values)))
    merged: list = [None] * n
    seen = 0
    for part in parts:
        for i, value in part:
            merged[i] = value
            seen += 1
    if seen != n:
        raise RuntimeError(f"gathered {seen} results from {world_size()} ranks for {n} items")
    return merged


def shutdown() -> None:
    """Close the process group at the end of the job (torch warns about one left open)."""
    if is_distributed():
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
