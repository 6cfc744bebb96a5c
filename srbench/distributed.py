"""Evaluation across processes: ``torchrun --nproc-per-node N -m srbench run ...``.

The evaluate loop shards its work items (images) across ranks with :func:`shard`, computes rows for
its shard, and calls :func:`gather_rows` to get every rank's results back in the order a
single-process run produces them, so the files written by rank 0 are identical to a 1-process run.

Usage in an orchestration loop::

    info = init_from_env(device)              # no-op (world_size 1) outside torchrun
    mine = shard(pairs, info)                 # pairs[rank::world_size]
    per_item = [rows_for(p) for p in mine]    # one entry (e.g. a list of rows) per item, in order
    rows = [r for item in gather_rows(per_item, info) for r in item]
    if info.is_main: write(rows)

Backends: gloo for CPU, nccl when the device is CUDA (each rank then uses GPU ``local_rank``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands. ``world_size == 1`` and ``initialized == False`` outside torchrun."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    initialized: bool = False  # a torch.distributed process group is active

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and prints."""
        return self.rank == 0

    @property
    def device(self) -> str:
        """The CUDA device of this rank (``cuda:<local_rank>``) when the backend is nccl, else cpu."""
        return f"cuda:{self.local_rank}" if self.backend == "nccl" else "cpu"


def _int_env(name: str) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not an integer (set by torchrun?)") from None


def launched_by_torchrun() -> bool:
    """True when the torchrun environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) is present."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def torchrun_ranks() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) outside torchrun."""
    if not launched_by_torchrun():
        return 0, 1, 0
    rank, world = _int_env("RANK"), _int_env("WORLD_SIZE")
    local = _int_env("LOCAL_RANK") if "LOCAL_RANK" in os.environ else rank
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"inconsistent torchrun environment: RANK={rank}, WORLD_SIZE={world}")
    return rank, world, local


def init_from_env(device: str = "cpu", *, timeout_s: float = 1800.0) -> DistInfo:
    """Join the process group described by torchrun's environment variables.

    Outside torchrun (no RANK/WORLD_SIZE/MASTER_*): returns ``DistInfo()`` (rank 0 of 1) and touches
    nothing. With WORLD_SIZE 1 it also stays single-process. Otherwise initialises torch.distributed
    with nccl for a CUDA ``device`` (and selects GPU LOCAL_RANK) or gloo for the CPU. If a process group
    already exists it is reused.
    """
    if not launched_by_torchrun():
        return DistInfo()
    rank, world, local = torchrun_ranks()
    if world == 1:
        return DistInfo(rank=0, world_size=1, local_rank=local)
    import datetime

    import torch
    import torch.distributed as dist

    use_cuda = str(device).startswith("cuda")
    if use_cuda and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested under torchrun but CUDA is not available")
    backend = "nccl" if use_cuda else "gloo"
    if dist.is_initialized():
        return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local,
                        backend=dist.get_backend(), initialized=True)
    if use_cuda:
        torch.cuda.set_device(local)
    dist.init_process_group(backend=backend, rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=timeout_s))
    return DistInfo(rank=rank, world_size=world, local_rank=local, backend=backend, initialized=True)


def shard(items: list[T], info: DistInfo) -> list[T]:
    """This rank's items: deterministic round-robin ``items[rank::world_size]``.

    Round-robin balances datasets whose image sizes drift with the index; every item lands on exactly
    one rank, and the assignment depends only on the order of ``items`` (sort them first if it comes
    from a directory listing).
    """
    if info.world_size < 1 or not 0 <= info.rank < info.world_size:
        raise ValueError(f"invalid DistInfo: rank {info.rank} of {info.world_size}")
    return list(items)[info.rank::info.world_size]


def unshard(per_rank: list[list[T]]) -> list[T]:
    """Inverse of :func:`shard`: interleave rank lists back into the original order.

    ``per_rank[r][k]`` is item ``k * world_size + r``. Lengths must be those round-robin produces
    (rank r holds ``ceil((n - r) / world_size)`` items); anything else is an error, not a silent reorder.
    """
    world = len(per_rank)
    n = sum(len(p) for p in per_rank)
    for r, part in enumerate(per_rank):
        expected = len(range(r, n, world))
        if len(part) != expected:
            raise ValueError(
                f"gather: rank {r} returned {len(part)} items, round-robin sharding of {n} gives {expected}; "
                "return exactly one entry per sharded item"
            )
    out: list[T] = []
    for k in range(-(-n // world) if world else 0):
        for r in range(world):
            if k < len(per_rank[r]):
                out.append(per_rank[r][k])
    return out


def gather_rows(rows: list[T], info: DistInfo) -> list[T]:
    """All ranks' per-item results, in single-process order.

    ``rows[k]`` is this rank's result for ``shard(items, info)[k]`` (any picklable object, typically the
    list of result rows of one image). Uses ``all_gather_object``, so every rank receives the full list
    (only rank 0 should write it). Single-process: returns ``rows`` unchanged.
    """
    if info.world_size == 1 or not info.initialized:
        return list(rows)
    import torch.distributed as dist

    gathered: list[Any] = [None] * info.world_size
    dist.all_gather_object(gathered, list(rows))
    return unshard(gathered)


def barrier(info: DistInfo) -> None:
    """Wait for all ranks (no-op single-process)."""
    if info.initialized:
        import torch.distributed as dist

        dist.barrier()


def shutdown(info: DistInfo) -> None:
    """Destroy the process group created by :func:`init_from_env` (no-op single-process)."""
    if info.initialized:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler's kill, `timeout`, `docker stop`) ends the run as Ctrl-C does: the rows are kept, the
    summary, run.json ("interrupted") and report are written, and --resume continues it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
