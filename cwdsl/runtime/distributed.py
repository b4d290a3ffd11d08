"""Scale-out over processes with torch.distributed: the share of a corpus this process
takes, and sums and gathers across processes.

Started by ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, … in the
environment; across machines with its standard rendezvous), a command joins the process
group on first use: gloo for a CPU, NCCL when the device is CUDA (each process on the card
``LOCAL_RANK``). Started plainly there is one process, and every function here is the
identity. Work is dealt round robin (:func:`shard`), so every process gets items in the
corpus's order and results can be put back in it (:func:`gather`).
"""
from __future__ import annotations

import atexit
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
import torch.distributed as dist

from cwdsl.core.errors import InputError

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's place among ``size`` processes (``rank`` 0 writes the outputs)."""

    rank: int = 0
    size: int = 1
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world(device: str = "cpu") -> World:
    """This process's :class:`World`, joining torchrun's process group on first use (a
    one-process world when not started by torchrun). ``device``: where the network runs;
    CUDA selects NCCL and card ``LOCAL_RANK``."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World(0, 1, device)
    cuda = str(device).startswith("cuda")
    if not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        try:
            dist.init_process_group(backend="nccl" if cuda else "gloo")
        except (RuntimeError, ValueError) as e:  # a missing MASTER_ADDR, a refused port, …
            raise InputError(f"cannot join torchrun's process group: {e}") from None
        atexit.register(_leave)
    if cuda:
        device = f"cuda:{torch.cuda.current_device()}"
    return World(dist.get_rank(), dist.get_world_size(), device)


def _leave() -> None:
    """Leave the process group when the interpreter exits (left joined, gloo's threads
    abort the process at exit: SIGABRT, "terminate called without an active exception")."""
    if dist.is_initialized():
        dist.destroy_process_group()


def launched_main() -> bool:
    """Whether this process is torchrun's rank 0, or not started by torchrun: read from the
    environment (``RANK``) without joining the group, e.g. to keep the other processes'
    warnings quiet while inputs are still being checked."""
    return int(os.environ.get("RANK", "0")) == 0


def shard(items: Sequence[T], w: World) -> list[tuple[int, T]]:
    """This process's share of ``items``, dealt round robin: ``(index, item)`` for every
    index ``i`` with ``i % w.size == w.rank``."""
    return [(i, item) for i, item in enumerate(items) if i % w.size == w.rank]


def all_sum(values: np.ndarray, w: World) -> np.ndarray:
    """The element-wise sum of ``values`` over every process (each passes an array of the
    same shape); integers stay exact (summed as int64)."""
    if not w.distributed:
        return values
    exact = np.issubdtype(values.dtype, np.integer)
    tensor = torch.from_numpy(np.ascontiguousarray(values, np.int64 if exact else np.float64))
    if w.device.startswith("cuda"):
        tensor = tensor.to(w.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.cpu().numpy().astype(values.dtype, copy=False)


def gather(share: Sequence[tuple[int, T]], w: World) -> list[T]:
    """Every process's ``(index, result)`` pairs (from :func:`shard`'s indices), put back in
    index order, on every process."""
    if not w.distributed:
        return [result for _, result in sorted(share, key=lambda pair: pair[0])]
    parts: list = [None] * w.size
    dist.all_gather_object(parts, list(share))
    return [result for _, result in sorted((p for part in parts for p in part),
                                           key=lambda pair: pair[0])]


def raise_if_any_failed(error: Exception | None, w: World, then: str) -> None:
    """Raise ``error`` here, and on every other process an ``InputError`` naming the
    processes that failed followed by ``then``, when any failed: each process passes its
    own error (or None) before the next collective, so none is left waiting at it."""
    flags = np.zeros(w.size, np.int64)
    flags[w.rank] = error is not None
    failed = all_sum(flags, w)
    if error is not None:
        raise error
    if failed.any():
        ranks = ", ".join(map(str, np.flatnonzero(failed).tolist()))
        raise InputError(f"process {ranks} of {w.size} failed {then}")


def barrier(w: World) -> None:
    """Wait until every process got here (e.g. before the main one writes outputs)."""
    if w.distributed:
        dist.barrier()
