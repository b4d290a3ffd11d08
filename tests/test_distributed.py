"""Scale-out of ``eval`` and ``sweep`` over processes (issue 13): the (program, clip) pairs
are dealt round robin, confusion matrices summed, per-clip sums gathered in clip order, so
the rows, tables and files are those of one process, byte for byte. Started by torchrun or
by ``--nproc N`` (issue 19), a user error is printed once and every process exits 2."""
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from cwdsl import load
from cwdsl.commands import launch, threads
from cwdsl.commands.main import main
from cwdsl.commands.threads import default_threads
from cwdsl.core.errors import InputError, ScheduleError
from cwdsl.demo.clip import DEMO
from cwdsl.evaluate import evaluation
from cwdsl.evaluate.evaluation import evaluate_schedules
from cwdsl.evaluate.protocol import load_eval_data
from cwdsl.nets.bundled import bundled_weights
from cwdsl.runtime import distributed
from cwdsl.runtime.distributed import Reported, World, raise_if_any_failed, settle, shard

ROOT = Path(__file__).resolve().parents[1]
S = ROOT / "schedules"
WEIGHTS = str(bundled_weights(DEMO.network))


class ThreadGroup:
    """Collectives among threads standing in for processes: each thread passes its value,
    every thread gets all of them in rank order."""

    def __init__(self, size: int):
        self.slots = [None] * size
        self.barrier = threading.Barrier(size, timeout=120)

    def exchange(self, w: World, value):
        self.slots[w.rank] = value
        self.barrier.wait()
        got = list(self.slots)
        self.barrier.wait()
        return got

    def all_sum(self, values: np.ndarray, w: World) -> np.ndarray:
        return np.sum(self.exchange(w, values), axis=0).astype(values.dtype)

    def all_gather(self, value, w: World) -> list:
        return self.exchange(w, value)

    def gather(self, share, w: World):
        pairs = [p for part in self.exchange(w, list(share)) for p in part]
        return [result for _, result in sorted(pairs, key=lambda pair: pair[0])]


def run_ranks(size: int, monkeypatch, work):
    """``work(world)`` on ``size`` threads with :class:`ThreadGroup` collectives; each
    rank's result or exception, in rank order."""
    group = ThreadGroup(size)
    monkeypatch.setattr(evaluation, "all_sum", group.all_sum)
    monkeypatch.setattr(distributed, "all_gather", group.all_gather)  # raise_if_any_failed's
    monkeypatch.setattr(evaluation, "gather", group.gather)
    monkeypatch.setattr(distributed, "_told", False)  # restored: the threads set it
    out: list = [None] * size

    def target(rank):
        try:
            out[rank] = work(World(rank, size))
        except Exception as e:  # noqa: BLE001 - handed to the test
            out[rank] = e

    threads = [threading.Thread(target=target, args=(r,)) for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    return out


def test_shard_deals_round_robin_and_covers_everything_once():
    units = [(p, c) for p in range(3) for c in range(2)]
    shares = [shard(units, World(r, 4)) for r in range(4)]
    assert shares[1] == [(1, (0, 1)), (5, (2, 1))]
    assert sorted(i for share in shares for i, _ in share) == list(range(len(units)))
    assert shard(units, World()) == list(enumerate(units))


@pytest.mark.parametrize("size", [2, 3])
def test_sharded_rows_equal_one_process_rows(size, monkeypatch):
    data = load_eval_data("shift16", 6, scenes=2)      # 2 clips x 2 programs = 4 units
    programs = [load(S / "oracle.cw", "tiny"), load(S / "adaptive.cw", "tiny")]
    one = evaluate_schedules(data, WEIGHTS, programs, progress=False)
    ranks = run_ranks(size, monkeypatch, lambda w: evaluate_schedules(
        data, WEIGHTS, programs, progress=False, world=w))
    for rows in ranks:
        assert rows == one          # every float: same integers, same order


def test_a_failing_process_stops_every_process(monkeypatch):
    data = load_eval_data("shift16", 6, scenes=2)
    programs = [load(S / "oracle.cw", "tiny")]
    score = evaluation._score_clip

    def fails_on_rank_1(program, net, clip, *rest):
        if clip is data.clips[1]:
            raise InputError("clip 1 is broken")
        return score(program, net, clip, *rest)

    monkeypatch.setattr(evaluation, "_score_clip", fails_on_rank_1)
    first, second = run_ranks(2, monkeypatch, lambda w: evaluate_schedules(
        data, WEIGHTS, programs, progress=False, world=w))
    assert isinstance(second, Reported) and not second.shown  # rank 0 prints it, once
    assert isinstance(first, Reported) and first.shown
    assert str(first) == ("error: clip 1 is broken\n"
                          "process 1 of 2 failed (see its message); this one stops too")


def told(errors, monkeypatch) -> list:
    """What each process raises when process r passes ``errors[r]`` to
    :func:`raise_if_any_failed` (None: nothing raised)."""
    def work(w):
        raise_if_any_failed(errors[w.rank], w, "(see above)")

    return run_ranks(len(errors), monkeypatch, work)


def test_an_error_every_process_had_is_reported_once_as_it_was(monkeypatch):
    errors = [ScheduleError("a.cw: error: no such schedule file") for _ in range(3)]
    first, *others = told(errors, monkeypatch)
    assert first is errors[0]  # rank 0 raises its own (with --debug: its traceback)
    assert all(isinstance(e, Reported) and not e.shown and str(e) == str(first)
               for e in others)


def test_distinct_errors_are_reported_once_each_in_rank_order(monkeypatch):
    a, b = InputError("bad a"), InputError("bad b")
    reports = told([None, b, a, b], monkeypatch)
    assert [e.shown for e in reports] == [True, False, False, False]
    assert str(reports[0]) == "error: bad b\nerror: bad a\nprocess 1, 2, 3 of 4 failed " \
                              "(see above)"


def test_a_crash_keeps_its_traceback_and_the_next_process_reports(monkeypatch):
    crash = RuntimeError("boom")
    first, second = told([crash, InputError("bad")], monkeypatch)
    assert first is crash
    assert second.shown and str(second) == "error: bad\nprocess 0 of 2 failed (see above)"


def test_no_failure_raises_nothing(monkeypatch):
    assert told([None, None], monkeypatch) == [None, None]


def test_started_plainly_an_error_settles_as_itself(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    error = InputError("x")
    assert settle(error) is error


def test_worker_command_line_runs_one_process_with_its_threads():
    assert launch.worker_argv(["eval", "a.cw", "--nproc", "2"], 3) == \
        ["eval", "a.cw", "--nproc", "2", "--nproc", "1", "--threads", "3"]
    assert launch.worker_argv(["eval", "--nproc=2", "--", "-a.cw"], 1) == \
        ["eval", "--nproc=2", "--nproc", "1", "--threads", "1", "--", "-a.cw"]


def test_default_threads_divide_torchs_among_the_processes(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # set by the user: kept, not lowered
    monkeypatch.setattr("torch.get_num_threads", lambda: 4)
    assert [default_threads(n) for n in (1, 2, 3, 8)] == [4, 2, 1, 1]
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(threads, "_idle_cores", lambda: 1)  # a busy machine: one thread
    assert default_threads() == 1
    monkeypatch.setattr(threads, "_idle_cores", lambda: None)  # unknown: torch's
    assert default_threads(2) == 2


def test_nproc_needs_several_streams_and_no_torchrun(monkeypatch, capsys):
    assert main(["run", str(S / "adaptive.cw"), "--nproc", "2", "--quiet"]) == 2
    assert "--nproc deals streams among processes" in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.delenv("MASTER_ADDR", raising=False)  # no group to join: said as it is
    assert main(["run", str(S / "adaptive.cw"), "--streams", "2", "--nproc", "2"]) == 2
    assert "under torchrun leave it out" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cwdsl_output(args: list[str], processes: int = 1, nproc: bool = False) -> str:
    """Standard output of ``cwdsl ARGS`` (it must succeed): one process, ``processes``
    started by torchrun, or with ``nproc`` by cwdsl's own ``--nproc``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if processes == 1 or nproc:
        launcher = [sys.executable, "-m", "cwdsl"]
        args = [*args, "--nproc", str(processes)] if nproc else args
    else:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node",
                    str(processes), "--master-addr", "127.0.0.1", "--master-port",
                    str(free_port()), "-m", "cwdsl"]
    done = subprocess.run([*launcher, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    if nproc:  # the launcher's own log lines are kept quiet
        assert "torch.distributed" not in done.stderr and "rendezvous" not in done.stderr
    return done.stdout


EVAL = ["eval", "schedules/oracle.cw", "schedules/adaptive.cw", "--data", "demo", "--quiet",
        "--json"]


@pytest.mark.slow
def test_torchrun_eval_is_byte_identical_to_one_process():
    assert cwdsl_output(EVAL, 2) == cwdsl_output(EVAL)


@pytest.mark.slow
def test_nproc_eval_is_byte_identical_to_one_process():
    assert cwdsl_output(EVAL, 2, nproc=True) == cwdsl_output(EVAL)


@pytest.mark.slow
@pytest.mark.parametrize("nproc", [False, True])
def test_sweep_over_processes_writes_the_same_table_and_csv(tmp_path, nproc):
    outputs = []
    for processes in (1, 2):
        out = tmp_path / f"sweep{processes}.png"
        text = cwdsl_output(["sweep", "schedules/adaptive.cw", "--theta", "0.05,0.3",
                             "--data", "demo", "--stride", "8", "--quiet", "-o", str(out)],
                            processes, nproc)
        assert "wrote" not in text  # stdout: the table alone (a redirect's file holds it)
        outputs.append((text, out.with_suffix(".csv").read_bytes(), out.read_bytes()))
    assert outputs[0] == outputs[1]


@pytest.mark.slow
def test_nproc_run_deals_the_streams_and_rank_0_writes(tmp_path):
    out = tmp_path / "out"
    text = cwdsl_output(["run", "schedules/adaptive.cw", "--net", "tiny", "--streams", "2",
                         "--max-frames", "3", "--quiet", "--out", str(out)], 2, nproc=True)
    assert text.count("total:") == 1
    assert json.loads((out / "streams.json").read_text())["processes"] == 2


def failing(args: list[str], torchrun: bool):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "cwdsl"] if not torchrun else [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(free_port()), "-m", "cwdsl"]
    return subprocess.run([*launcher, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_torchrun_bad_input_exits_2_on_every_process_and_says_so_once():
    done = failing(["eval", "schedules/oracle.cw", "--net", "tiny", "--data", "no/such/folder",
                    "--quiet"], torchrun=True)
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.count("error: --data no/such/folder") == 1   # one process says it
    assert "Traceback" not in done.stderr.split("torch/distributed")[0]
    codes = re.findall(r"exitcode\s*: (-?\d+)", done.stderr)  # torchrun ends the slower one
    assert "2" in codes and set(codes) <= {"2", "-15"}


@pytest.mark.slow
def test_nproc_bad_schedule_is_one_line_and_exit_2():
    done = failing(["eval", "schedules/no-such.cw", "--data", "demo", "--quiet", "--nproc",
                    "2"], torchrun=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "schedules/no-such.cw: error: no such schedule file\n"


@pytest.mark.slow
def test_nproc_error_of_one_process_stops_both_and_names_it(tmp_path):
    plugin = tmp_path / "rank1.py"
    plugin.write_text("import os\nfrom cwdsl.core.errors import InputError\n"
                      "if os.environ.get('RANK') == '1':\n    raise InputError('only on 1')\n")
    done = failing(["--plugin", str(plugin), "eval", "schedules/oracle.cw", "--data", "demo",
                    "--quiet", "--nproc", "2"], torchrun=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "error: only on 1\nprocess 1 of 2 failed checking its inputs\n"
