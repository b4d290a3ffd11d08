"""Scale-out of ``eval`` and ``sweep`` over processes (issue 13): the (program, clip) pairs
are dealt round robin, confusion matrices summed, per-clip sums gathered in clip order, so
the rows, tables and files are those of one process, byte for byte."""
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
from cwdsl.core.errors import InputError
from cwdsl.demo.clip import DEMO
from cwdsl.evaluate import evaluation
from cwdsl.evaluate.evaluation import evaluate_schedules
from cwdsl.evaluate.protocol import load_eval_data
from cwdsl.nets.bundled import bundled_weights
from cwdsl.runtime import distributed
from cwdsl.runtime.distributed import World, shard

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

    def gather(self, share, w: World):
        pairs = [p for part in self.exchange(w, list(share)) for p in part]
        return [result for _, result in sorted(pairs, key=lambda pair: pair[0])]


def run_ranks(size: int, monkeypatch, work):
    """``work(world)`` on ``size`` threads with :class:`ThreadGroup` collectives; each
    rank's result or exception, in rank order."""
    group = ThreadGroup(size)
    monkeypatch.setattr(evaluation, "all_sum", group.all_sum)
    monkeypatch.setattr(distributed, "all_sum", group.all_sum)  # raise_if_any_failed's
    monkeypatch.setattr(evaluation, "gather", group.gather)
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
    assert isinstance(second, InputError) and "clip 1 is broken" in str(second)
    assert isinstance(first, InputError) and "process 1 of 2 failed" in str(first)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cwdsl_output(args: list[str], processes: int = 1) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "cwdsl"] if processes == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(processes),
        "--master-addr", "127.0.0.1", "--master-port", str(free_port()), "-m", "cwdsl"]
    done = subprocess.run([*launcher, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_torchrun_eval_is_byte_identical_to_one_process():
    args = ["eval", "schedules/oracle.cw", "schedules/adaptive.cw", "--data", "demo",
            "--quiet", "--json"]
    assert cwdsl_output(args, 2) == cwdsl_output(args)


@pytest.mark.slow
def test_torchrun_sweep_writes_the_same_table_and_csv(tmp_path):
    outputs = []
    for processes in (1, 2):
        out = tmp_path / f"sweep{processes}.png"
        text = cwdsl_output(["sweep", "schedules/adaptive.cw", "--theta", "0.05,0.3",
                             "--data", "demo", "--stride", "8", "--quiet", "-o", str(out)],
                            processes)
        outputs.append((text.replace(str(out), "OUT").replace(str(out.with_suffix(".csv")),
                                                              "CSV"),
                        out.with_suffix(".csv").read_bytes(), out.read_bytes()))
    assert outputs[0] == outputs[1]


@pytest.mark.slow
def test_torchrun_bad_input_exits_2_on_every_process():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
         "--master-addr", "127.0.0.1", "--master-port", str(free_port()), "-m", "cwdsl",
         "eval", "schedules/oracle.cw", "--net", "tiny", "--data", "no/such/folder", "--quiet"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and done.stdout == ""
    assert "error: --data no/such/folder" in done.stderr     # no traceback from cwdsl
    assert "Traceback" not in done.stderr.split("torch/distributed")[0]
    codes = re.findall(r"exitcode\s*: (-?\d+)", done.stderr)  # torchrun ends the slower one
    assert "2" in codes and set(codes) <= {"2", "-15"}
