"""``--nproc N`` of ``eval``, ``sweep`` and ``run`` over several streams: cwdsl starts N
processes on this machine itself, with torch.distributed's elastic launcher as a library
(what ``torchrun --standalone --nproc-per-node N`` does: a rendezvous on a free local port,
gloo on CPUs, NCCL and one card each with ``--device cuda``). Each runs this command line with
``--nproc 1`` and its ``--threads`` (default: the default ``--threads`` divided among them,
:func:`~cwdsl.commands.threads.default_threads`); rank 0 prints and writes, so the output is
one process's. The launcher's own log lines are kept quiet; a user error is printed once by
the processes (:func:`cwdsl.runtime.distributed.settle`) and the exit is 2; a crash exits 1,
one line naming the process. Across machines, start the processes with ``torchrun``."""
from __future__ import annotations

import logging
import os
import sys
import uuid

from cwdsl.commands.options import EXIT_USER_ERROR
from cwdsl.commands.threads import default_threads
from cwdsl.core.errors import InputError

INTERRUPTED = 130


def worker_argv(argv: list[str], threads: int) -> list[str]:
    """``argv`` (this command line) for one process: ``--nproc 1 --threads N`` added (the
    last of an option given twice wins), before a ``--`` if there is one."""
    cut = argv.index("--") if "--" in argv else len(argv)
    return [*argv[:cut], "--nproc", "1", "--threads", str(threads), *argv[cut:]]


def scale_out(args) -> int:
    """Run this command (``args.argv``, the command line ``main`` parsed) as ``args.nproc``
    processes on this machine; the exit status: 0, 2 when any process exited 2 (a user
    error, which they printed), 130 when interrupted, else 1."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise InputError("--nproc starts its own processes; under torchrun leave it out "
                         "(torchrun's --nproc-per-node says how many)")
    argv = getattr(args, "argv", None)
    if argv is None:
        argv = sys.argv[1:]
    threads = args.threads or default_threads(args.nproc)
    return launch(worker_argv(list(argv), threads), args.nproc)


def launch(argv: list[str], nproc: int) -> int:
    """``python -m cwdsl ARGV`` as ``nproc`` processes of one group on this machine (their
    output passes straight through); the exit status as :func:`scale_out` says."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc,
                          run_id=f"cwdsl-{uuid.uuid4().hex}", rdzv_backend="c10d",
                          rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.1)
    logging.disable(logging.CRITICAL)  # the agent's lines (rendezvous, a failed worker, …)
    try:
        elastic_launch(config, sys.executable)("-u", "-m", "cwdsl", *argv)
    except ChildFailedError as e:
        codes = {failure.exitcode for failure in e.failures.values()}
        for quiet in (EXIT_USER_ERROR, INTERRUPTED):  # a process printed why
            if quiet in codes:
                return quiet
        rank, failure = e.get_first_failure()
        how = (f"was ended by signal {-failure.exitcode}" if failure.exitcode < 0 else
               f"exited with {failure.exitcode}")
        print(f"error: process {rank} of {nproc} {how}", file=sys.stderr)
        return 1
    except (SignalException, KeyboardInterrupt):  # the processes said "interrupted"
        return INTERRUPTED
    finally:
        logging.disable(logging.NOTSET)
    return 0
