"""Scale-out over processes with torch.distributed: the share of a corpus this process
takes, and sums and gathers across processes.

Started by ``torchrun`` or by a command's ``--nproc N`` (torchrun's launcher, as a library:
either sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, … in the environment; across machines
torchrun with its standard rendezvous), a command joins the process
group on first use: gloo for a CPU, NCCL when the device is CUDA (each process on the card
``LOCAL_RANK``). Started plainly there is one process, and every function here is the
identity. Work is dealt round robin (:func:`shard`), so every process gets items in the
corpus's order and results can be put back in it (:func:`gather`).

A failure is told to every process at the next collective (:func:`raise_if_any_failed`), so
none is left waiting, and reported once: the lowest-ranked process that did not crash raises
every distinct user error (:class:`Reported`); the others raise it quietly (``shown`` False)
and exit 2 without printing it again. A process that fails its input checks before joining
the group joins to tell the others (:func:`settle`).
"""
from __future__ import annotations

import atexit
import os
from datetime import timedelta
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
import torch.distributed as dist

from cwdsl.core.errors import CwdslError, InputError

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


def joined(device: str = "cpu") -> World:
    """:func:`world`, joined once this process's inputs are checked: the first collective
    tells every process whether any failed its checks (a process that did meets it in
    :func:`settle`), so none starts its share of the work in vain."""
    w = world(device)
    raise_if_any_failed(None, w, "checking its inputs")
    return w


LEAVE_TIMEOUT_S = 60
"""How long a process at its exit waits for the others to reach theirs."""


def _leave() -> None:
    """Leave the process group when the interpreter exits, together: a process that tears
    gloo down while another still works (rank 0 writing the outputs, say) can abort one of
    them (SIGABRT, "terminate called without an active exception"); left joined, gloo's
    threads abort the process at exit too. A process that does not arrive in
    :data:`LEAVE_TIMEOUT_S` (it crashed) does not hold the others."""
    if not dist.is_initialized():
        return
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=timedelta(seconds=LEAVE_TIMEOUT_S))
        else:
            dist.barrier()
    except Exception:  # a process gone: leave anyway
        pass
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
    return [result for _, result in sorted((p for part in all_gather(list(share), w)
                                            for p in part), key=lambda pair: pair[0])]


def all_gather(value: T, w: World) -> list[T]:
    """Every process's ``value`` (picklable), in rank order, on every process."""
    if not w.distributed:
        return [value]
    parts: list = [None] * w.size
    dist.all_gather_object(parts, value)
    return parts


class Reported(InputError):
    """Failures of a process group as one process reports them: ``text``, every distinct
    user error in rank order (and the processes that crashed), printed as is when
    ``shown``; the other processes raise it unshown and exit 2 quietly."""

    def __init__(self, text: str, shown: bool = True):
        self.text, self.shown = text, shown
        super().__init__(text)

    def __str__(self) -> str:
        return self.text


_told = False
"""Whether this process took part in a :func:`raise_if_any_failed` (its failures are then
told; :func:`settle` must not start another collective)."""


def raise_if_any_failed(error: Exception | None, w: World, then: str) -> None:
    """Tell every process whether any failed, when any did: each passes its own ``error``
    (or None) before the next collective, so none is left waiting at it. A crash (not a
    :class:`CwdslError`) is raised as is where it happened (its traceback); elsewhere the
    lowest-ranked process that did not crash raises a :class:`Reported` with every distinct
    user error, then "process R of N failed ``then``" naming the others that failed (when
    it did not) or crashed, and the others raise it unshown. One process: ``error``."""
    global _told
    if not w.distributed:
        if error is not None:
            raise error
        return
    _told = True
    told = all_gather(None if error is None else
                      (isinstance(error, CwdslError), str(error)), w)
    if error is not None and not isinstance(error, CwdslError):
        raise error
    failed = [rank for rank, t in enumerate(told) if t is not None]
    if not failed:
        return
    crashed = [rank for rank in failed if not told[rank][0]]
    reporter = min(set(range(w.size)) - set(crashed))
    lines = list(dict.fromkeys(told[rank][1] for rank in failed if told[rank][0]))
    named = crashed if reporter in failed else failed  # the reporter's own: no need to
    if named:
        lines.append(f"process {', '.join(map(str, named))} of {w.size} failed {then}")
    if w.rank == reporter and error is not None and lines == [str(error)]:
        raise error  # this process's own error alone: raised as it was (--debug's traceback)
    raise Reported("\n".join(lines), shown=w.rank == reporter) from error


def settle(error: CwdslError, device: str = "cpu") -> CwdslError:
    """The error this process reports for ``error``, raised before it told the others (e.g.
    by an input check before :func:`joined`): started by torchrun, it joins the group and
    meets the others at their next :func:`raise_if_any_failed`, so they stop too and one of
    them prints it (a :class:`Reported`); started plainly, or once told, or when the group
    cannot be joined, ``error`` itself. Only for commands whose every process reaches
    :func:`raise_if_any_failed` after joining (``eval``, ``sweep``, ``run`` over streams)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or _told:
        return error
    try:
        w = world(device)
    except CwdslError:  # e.g. no rendezvous: each process says why it stopped
        return error
    try:
        raise_if_any_failed(error, w, "(see its traceback)")
    except CwdslError as reported:
        return reported
    return error  # pragma: no cover - raise_if_any_failed raised


def barrier(w: World) -> None:
    """Wait until every process got here (e.g. before the main one writes outputs)."""
    if w.distributed:
        dist.barrier()
