"""How many torch threads and processes a command runs with: ``--threads`` and its default
(the cores other work leaves idle), ``--nproc`` (processes started by cwdsl,
:mod:`cwdsl.commands.launch`)."""
from __future__ import annotations

import argparse

from cwdsl.commands.options import positive_int, thread_count


def add_threads(p: argparse.ArgumentParser) -> None:
    """``--threads N``: torch's intra-op threads for the command (read by
    :func:`apply_threads`; the default: :func:`default_threads`)."""
    p.add_argument("--threads", type=thread_count, metavar="N",
                   help="torch threads (default: torch's, one a core, but no more than the "
                        "cores other work leaves idle as the command starts, at least 1: "
                        "threads waiting for busy cores made eval 4-10x slower; "
                        "OMP_NUM_THREADS, when set, is kept)")


def add_nproc(p: argparse.ArgumentParser, what: str) -> None:
    """``--nproc N``: run the command as N processes on this machine, started by cwdsl
    (:mod:`cwdsl.commands.launch`); ``what``: the work dealt among them."""
    most = 256

    def process_count(text: str) -> int:
        value = positive_int(text)
        if value > most:
            raise argparse.ArgumentTypeError(f"expected at most {most} (processes on this "
                                             f"machine), got {value}")
        return value

    p.add_argument("--nproc", type=process_count, default=1, metavar="N",
                   help=f"run as N processes on this machine, {what} dealt among them "
                        f"(torch.distributed, started by cwdsl; rank 0 prints and writes: the "
                        f"output is one process's); each gets --threads, by default the "
                        f"default --threads divided by N, at least 1; across machines start "
                        f"the processes with torchrun (default 1)")


def default_threads(processes: int = 1) -> int:
    """The torch threads each of ``processes`` processes runs without ``--threads``: torch's
    own number (a thread a core, or ``OMP_NUM_THREADS`` when set, which is kept), lowered to
    the cores that other work leaves idle (the kernel's runnable tasks now, this one not
    counted; at least 1), divided among the processes (at least 1). On this 2-core VM one
    thread ran ``eval --data shift16`` in 37-63 s beside two busy cores' work against 134-386 s
    with two, and in 8.5-8.9 s idle against 7.4-8.8 s."""
    import os

    import torch

    threads = torch.get_num_threads()
    if "OMP_NUM_THREADS" not in os.environ:
        threads = min(threads, _idle_cores() or threads)
    return max(1, threads // processes)


def _idle_cores() -> int | None:
    """This process's cores less the tasks the kernel counts runnable now (the median of five
    looks 10 ms apart at ``/proc/loadavg``; this process's own not counted), at least 1; None
    where that is not known (no ``/proc``)."""
    import os
    import time

    looks = []
    try:
        cores = len(os.sched_getaffinity(0))
        for _ in range(5):
            with open("/proc/loadavg", encoding="ascii") as f:
                looks.append(int(f.read().split()[3].split("/")[0]))
            time.sleep(0.01)
    except (OSError, AttributeError, ValueError, IndexError):
        return None
    return max(1, cores - (sorted(looks)[len(looks) // 2] - 1))


def apply_threads(args) -> None:
    """Set torch's thread count to ``--threads``, or to :func:`default_threads` when that is
    fewer than torch's own."""
    import torch

    threads = getattr(args, "threads", None) or default_threads()
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)
