"""Deadline clocks (``fits``) in the executor and the simulator: the decision rule, the online
stage times, records, on-time shares, per-stream deadlines, and refusals."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cwdsl import compile_text
from cwdsl.fitting.load import load_device
from cwdsl.ir.deadline import Decision, decide
from cwdsl.ir.plan import Deadline, Planner
from cwdsl.ir.trace import fire_rate_trace
from cwdsl.nets import build_network
from cwdsl.runtime.deadline import StageTimes
from cwdsl.runtime.executor import Executor
from cwdsl.sim.capacity import run_capacity, sustainable_streams
from cwdsl.sim.costs import schedule_costs
from cwdsl.sim.simulate import FramePricer, simulate

ROOT = Path(__file__).resolve().parents[1]

ADAPTIVE = """network tiny input 64x64 {deadline}
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7 head score_fr
clock moved = labeldiff(s2, since=fired) >= 0
compute s1 when 1
compute s2 when {s2}
compute s3 when moved and fits else {counter}
output fuse(s1, s2, s3)
"""


def program(deadline="deadline 40ms", s2="1", counter="warp"):
    return compile_text(ADAPTIVE.format(deadline=deadline, s2=s2, counter=counter))


def cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "cwdsl", *args], cwd=cwd,
                          capture_output=True, text=True)


class Fixed:
    """Predictions that never change (ms)."""

    def __init__(self, stages, warp=0.0, flow=0.0, fuse=0.0):
        self.stages, self._warp, self._flow, self._fuse = stages, warp, flow, fuse

    def stage_ms(self, s):
        return self.stages[s]

    def warp_ms(self, s):
        return self._warp

    def flow_ms(self, m):
        return self._flow

    @property
    def fuse_ms(self):
        return self._fuse


# -- the rule ---------------------------------------------------------------------------

def test_decide_adds_the_stage_what_always_runs_after_it_counters_flows_and_the_fuse():
    step = Deadline("a", "s1", 50.0, ("s2",), (("s3", "dis"), ("s4", None), ("s5", "dis")))
    p = Fixed({"s1": 10, "s2": 5}, warp=2, flow=3, fuse=1)
    d = decide(step, 20.0, p)
    assert d.predicted_ms == 20 + 10 + 5 + 2 * 2 + 3 + 1  # two warps, one flow (shared)
    assert d.fires
    assert decide(step, 20.0, p, flowed={"dis"}).predicted_ms == 40
    assert not decide(step, 27.1, p).fires  # 27.1 + 23 > 50
    assert Decision("a", 0, 50.0, 50.0).fires  # "within": equal is on time


def test_deadline_steps_count_the_stages_that_always_compute_and_the_others_counters():
    p = program(s2="fits")
    planner = Planner(p)
    steps = {d.stage: d for d in (s for s in planner.walk(1, {a: True for a in
                                                              planner.atom_ids + planner.deadline_ids})
                                  if isinstance(s, Deadline))}
    assert steps["s2"].rest == () and steps["s2"].counters == (("s3", "dis"),)
    assert steps["s3"].rest == () and steps["s3"].counters == ()
    cached = Planner(program(s2="fits", counter="cache")).program.deadlines[0]
    assert cached.counters == (("s3", None),)  # a cache costs nothing


# -- online stage times -------------------------------------------------------------------

def test_stage_times_scale_each_parts_base_by_the_machines_slowdown():
    times = StageTimes({"s1": 10.0, "s3": 30.0}, 2.0, weight=0.5, sigmas=2.0)
    assert times.stage_ms("s1") == 10.0 and times.fuse_ms == 2.0
    times.observe({"s1": 8.0, "s3": 12.0}, 4.0, warm_up=True)  # frame 0: the parts' shares
    # slowdown 24 / 42 = 4/7; bases 14, 21, 7: frame 1 is predicted at frame 0's times
    assert times.stage_ms("s3") == pytest.approx(12.0) and times.frames == 0
    times.observe({"s1": 4.0}, 2.0)  # frame 1 sets the slowdown outright: 6 / 12 of frame 0's
    assert times.slowdown == pytest.approx(2 / 7)
    assert times.stage_ms("s1") == pytest.approx(4.0) and times.fuse_ms == pytest.approx(2.0)
    assert times.stage_ms("s3") == pytest.approx(6.0)  # not run: the slowdown only
    times.observe({"s1": 8.0})
    # ratio 2: slowdown 2/7 * 1.5 = 3/7; s1's error 8 / 6 - 1 = 1/3 moves its base 14 ->
    # 14 * 7/6, variance 0.5 * 0.5 / 9 = 1/36: 14 * 7/6 * 3/7 * (1 + 2 / 6)
    assert times.stage_ms("s1") == pytest.approx(28 / 3)
    assert times.fuse_ms == pytest.approx(3.0)  # a part that did not run rises with the rest
    assert times.stage_ms("s3") == pytest.approx(9.0)
    with pytest.raises(ValueError):
        StageTimes({}, 0.0, weight=0)
    record = times.to_json()
    assert record["parts"]["s1"]["observed"] == 3 and record["frames_learned"] == 2
    assert record["slowdown"] == pytest.approx(3 / 7, abs=1e-4)


# -- the executor ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return build_network("tiny").eval()


def frames(count, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(1, 3, 64, 64, generator=g) for _ in range(count)]


def test_executor_decides_fits_from_its_predictions_and_records_each_decision(net):
    p = program("deadline 0.001ms")  # nothing fits
    executor = Executor(p, net, times=StageTimes({s: 1.0 for s in p.stages}, 0.0))
    results = [executor.step(x) for x in frames(4)]
    assert results[0].computed == ("s1", "s2", "s3") and results[0].decisions == ()
    for r in results[1:]:
        assert "s3" not in r.computed and "s3" in r.warped
        (decision,) = r.decisions
        assert decision.atom == "fits for s3" and not decision.fires
        assert decision.elapsed_ms > 0 and decision.predicted_ms > decision.elapsed_ms
        assert r.atom_values["fits for s3"] is False
    p = program("deadline 3600s")  # everything fits
    executor = Executor(p, net, times=StageTimes({s: 1.0 for s in p.stages}, 0.0))
    results = [executor.step(x) for x in frames(3, seed=1)]
    assert all(r.decisions[0].fires and "s3" in r.computed for r in results[1:])
    # the measured times replaced the priors
    assert executor.times.to_json()["parts"]["s1"]["observed"] == 3


def test_executor_counts_the_time_since_arrival(net):
    p = program("deadline 900ms")
    executor = Executor(p, net, times=StageTimes({s: 0.0 for s in p.stages}, 0.0))
    xs = frames(2)
    executor.step(xs[0])
    import time
    late = executor.step(xs[1], arrival=time.perf_counter() - 1.0)  # arrived a second ago
    assert late.waited_ms >= 999 and late.response_ms >= late.waited_ms + late.latency_ms - 1e-6
    assert not late.decisions[0].fires and "s3" in late.warped


def test_an_executor_of_a_program_with_fits_needs_predictions(net):
    with pytest.raises(ValueError, match="StageTimes"):
        Executor(program(), net)


# -- the simulator ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cpu():
    return load_device("cpu")


def test_simulator_decides_fits_from_the_device_model_and_counts_frames_on_time(cpu):
    oracle = schedule_costs(program(), cpu).oracle_ms
    for deadline, fires in ((oracle * 0.95, False), (oracle * 1.5, True)):
        p = program(f"deadline {deadline}ms", counter="cache")
        planner = Planner(p)
        costs = schedule_costs(p, cpu)
        sim = simulate(planner, costs, 200, fire_rate_trace(planner.atom_ids, 200, 1.0))
        row = sim.summary()
        assert row.deadline_ms == deadline
        assert (row.computed_pct["s3"] > 99) is fires
        assert row.computed_pct["s3"] >= 100 / 200  # frame 0 computes every stage
        assert row.on_time_pct == 100.0  # every frame after frame 0 within the deadline


def test_a_frame_that_waited_does_not_fit(cpu):
    p = program(f"deadline 1000ms")
    costs = schedule_costs(p, cpu)
    pricer = FramePricer(Planner(p), costs)
    atoms = {a: True for a in Planner(p).atom_ids}
    pricer.next(atoms)
    assert "s3" in pricer.next(atoms, waited_ms=0.0).computed
    assert "s3" not in pricer.next(atoms, waited_ms=999.0).computed


def test_a_replayed_trace_keeps_the_executors_decisions(cpu):
    p = program("deadline 1000ms")
    planner = Planner(p)
    trace = [{"labeldiff(s2, since=fired) >= 0": True, "fits for s3": t % 2 == 0}
             for t in range(10)]
    sim = simulate(planner, schedule_costs(p, cpu), 10, trace, timeline=10)
    assert ["s3" in f.computed for f in sim.timeline] == [t % 2 == 0 for t in range(10)]


def test_capacity_keeps_each_streams_deadline(cpu):
    p = program("deadline 1000ms")
    planner, costs = Planner(p), schedule_costs(p, cpu)
    trace = lambda i, n: fire_rate_trace(planner.atom_ids, n, 1.0, seed=i)  # noqa: E731
    one = run_capacity(planner, costs, 2, 10.0, 2.0, trace, deadlines=(1000.0,))
    assert one.deadlines == (1000.0, 1000.0) and one.on_time == 1.0 and one.sustained
    tight = run_capacity(planner, costs, 2, 10.0, 2.0, trace, deadlines=(1e-3, 1000.0))
    assert tight.deadlines == (1e-3, 1000.0)
    assert math.isclose(tight.on_time, 0.5, abs_tol=0.05) and not tight.sustained
    n, best = sustainable_streams(planner, costs, 10.0, 2.0, trace, deadlines=(1000.0,))
    assert n >= 1 and best.on_time >= 0.99


# -- commands -----------------------------------------------------------------------------------

def test_simulate_reports_frames_on_time_and_refuses_a_deadline_below_the_cheapest_frame(tmp_path):
    done = cli("simulate", "schedules/deadline.cw", "--net", "tiny", "--size", "64x64",
               "--device", "cpu", "--frames", "50", "--json")
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)[0]
    assert row["deadline_ms"] == 66 and row["on_time_pct"] == 100.0
    low = cli("simulate", "schedules/deadline.cw", "--net", "tiny", "--size", "64x64",
              "--device", "cpu", "--deadline", "0.001ms")
    assert low.returncode == 2
    assert "--deadline: deadline 0.001 ms is below the cheapest frame" in low.stderr
    assert "Traceback" not in low.stderr
    written = tmp_path / "low.cw"
    written.write_text((ROOT / "schedules" / "deadline.cw").read_text()
                       .replace("deadline 66ms", "deadline 0.001ms"))
    at = cli("simulate", str(written), "--net", "tiny", "--size", "64x64", "--device", "cpu")
    assert at.returncode == 2 and "below the cheapest frame" in at.stderr and "^" in at.stderr


@pytest.mark.parametrize("bad", ["0ms", "-5ms", "1e9s", "40", "fast"])
def test_bad_deadlines_on_the_command_line_exit_2(bad):
    done = cli("simulate", "schedules/deadline.cw", "--device", "cpu", f"--deadline={bad}")
    assert done.returncode == 2 and "--deadline" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_records_decisions_and_the_share_on_time(tmp_path):
    out = tmp_path / "out"
    done = cli("run", "schedules/deadline.cw", "--max-frames", "8", "--quiet", "--out",
               str(out), "--deadline", "500ms")
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "run.json").read_text())
    assert record["summary"]["deadline_ms"] == 500
    assert 0 <= record["summary"]["on_time_fraction"] <= 1
    later = record["frames"][1:]
    assert all("decisions" in f and "on_time" in f and "response_ms" in f for f in later)
    decision = later[0]["decisions"]["fits for s3"]
    assert set(decision) == {"elapsed_ms", "predicted_ms", "deadline_ms", "fits",
                             "predicted_parts_ms"}
    assert set(decision["predicted_parts_ms"]) == {"s3", "fuse"}
    assert record["predictions"]["parts"]["s1"]["observed"] == 8
    assert "on time (result within 500 ms of arrival)" in done.stdout


def test_run_refuses_an_unreachable_deadline_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    done = cli("run", "schedules/deadline.cw", "--max-frames", "3", "--quiet", "--out",
               str(out), "--deadline", "0.001ms")
    assert done.returncode == 2 and "below the cheapest frame" in done.stderr
    assert not out.exists() or not any(out.iterdir())


def test_run_with_a_bare_fits_and_no_deadline_says_where(tmp_path):
    schedule = tmp_path / "bare.cw"
    schedule.write_text((ROOT / "schedules" / "deadline.cw").read_text()
                        .replace(" deadline 66ms", ""))
    done = cli("run", str(schedule), "--max-frames", "2", "--quiet")
    assert done.returncode == 2 and "--deadline" in done.stderr and "^" in done.stderr
    ok = cli("run", str(schedule), "--max-frames", "2", "--quiet", "--deadline", "1s")
    assert ok.returncode == 0, ok.stderr


def test_eval_reports_frames_on_time_with_a_deadline():
    done = cli("eval", "schedules/oracle.cw", "schedules/deadline.cw", "--data", "shift16",
               "--scenes", "2", "--deadline", "1s", "--quiet", "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["schedule"]: r for r in json.loads(done.stdout)["rows"]}
    assert rows["deadline"]["deadline_ms"] == 1000 and rows["oracle"]["deadline_ms"] == 1000
    assert 0 <= rows["deadline"]["on_time_pct"] <= 100


def test_a_deadline_needs_a_device_model_to_predict_from(tmp_path):
    from cwdsl.core.errors import InputError
    from cwdsl.run.deadlines import default_cost_model

    assert default_cost_model(torch.device("cpu")) == "cpu"
    with pytest.raises(InputError, match="--cost-model"):
        default_cost_model(torch.device("meta"))
    missing = cli("run", "schedules/deadline.cw", "--max-frames", "2", "--quiet",
                  "--cost-model", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "nope.json" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_several_streams_keep_their_own_deadlines(tmp_path):
    out = tmp_path / "streams"
    done = cli("run", "schedules/deadline.cw", "--streams", "3", "--deadline", "1s,2s",
               "--max-frames", "3", "--quiet", "--out", str(out))
    assert done.returncode == 0, done.stderr
    deadlines = [json.loads((out / f"stream-{i}" / "run.json").read_text())["summary"]
                 ["deadline_ms"] for i in range(3)]
    assert deadlines == [1000, 2000, 1000]
    assert "(deadline 2000 ms)" in done.stdout
    one = cli("run", "schedules/deadline.cw", "--deadline", "1s,2s", "--max-frames", "2")
    assert one.returncode == 2 and "one deadline a stream" in one.stderr
