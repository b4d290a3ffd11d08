"""The simulator's figures agree with each other and with the device: a pipelined wave is
never priced faster than the device's peak allows for its work, a frame's work never
exceeds its latency (so the throughput of frames processed back to back is at least
1000 / latency), and a frame's parts (what the plot draws) sum to its latency."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cwdsl.fitting.load import load_device
from cwdsl.devices.named import NAMED
from cwdsl.ir.graph import load
from cwdsl.ir.plan import Flow, Planner, Wave
from cwdsl.sim.batching import tick_price
from cwdsl.sim.costs import ScheduleCosts, schedule_costs
from cwdsl.sim.report import SimulateOptions, simulate_schedules
from cwdsl.sim.costs import lane_shares
from cwdsl.sim.price import MOTION, REST, price
from cwdsl.sim.simulate import frame_prices

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = ROOT / "schedules"
# schedules of stages only (no flow on the host, whose FLOPs the device does not run)
STAGE_ONLY = ("oracle", "pipeline2", "pipeline3", "baseline2", "baseline3", "skipframe",
              "alternating", "exponential")
WARPING = ("accel", "pipeline_warp", "dff")


def costs_of(stage_ms, peaks=None, overlap=1.0, **more) -> ScheduleCosts:
    return ScheduleCosts("test", "fcn8s", (500, 500), "float32", dict(stage_ms),
                         dict.fromkeys(stage_ms, 1e9), {}, 0.5, 1e6, 0.25,
                         sum(stage_ms.values()) + 0.5, 3e9, "test", lane_overlap=overlap,
                         stage_peak_ms=dict(peaks or {}), **more)


@pytest.fixture(scope="module")
def titanx_costs():
    """FCN-8s at 500x500 on the named Titan X roofline, per stage-only schedule."""
    device = load_device("titanx")
    out = {}
    for name in STAGE_ONLY + WARPING:
        program = load(SCHEDULES / f"{name}.cw")
        out[name] = (Planner(program), schedule_costs(program, device))
    return out


def test_a_wave_costs_its_slowest_lane_only_while_the_device_has_room():
    peaks = {"a": (3.5, 1.0), "b": (2.5, 1.0), "c": (0.5, 0.2)}
    free = costs_of({"a": 4.0, "b": 3.0, "c": 1.0})  # no peak known (a profile)
    assert free.wave_ms(("a", "b", "c")) == 4.0
    bound = costs_of({"a": 4.0, "b": 3.0, "c": 1.0}, peaks)
    # the three lanes' FLOPs need 6.5 ms at peak, their bytes 2.2 ms: the wave costs 6.5
    assert bound.peak_floor_ms([("a", 1), ("b", 1), ("c", 1)]) == pytest.approx(6.5)
    assert bound.wave_ms(("a", "b", "c")) == pytest.approx(6.5)
    assert bound.wave_ms(("a",)) == 4.0  # one lane: its own time
    # lanes hiding nothing cost their sum, and the floor never lifts a wave above it
    assert costs_of({"a": 4.0, "b": 3.0}, peaks, overlap=0.0).wave_ms(("a", "b")) == 7.0
    full = costs_of({"a": 4.0, "b": 3.0}, {"a": (4.0, 0.0), "b": (3.0, 0.0)})
    assert full.wave_ms(("a", "b")) == pytest.approx(7.0)
    # a batch of k frames does k frames' work: a at k=2 and b at k=1 need 9.5 ms at peak
    assert bound.lanes_ms([("a", 2), ("b", 1)]) == pytest.approx(9.5)


def test_lane_shares_charge_the_slowest_lane_in_full_and_sum_to_the_wave():
    assert lane_shares([1.0, 4.0, 3.0], 4.0) == [0.0, 4.0, 0.0]
    shares = lane_shares([1.0, 4.0, 3.0], 6.0)
    assert shares == pytest.approx([0.5, 4.0, 1.5]) and sum(shares) == pytest.approx(6.0)
    assert lane_shares([2.0, 2.0], 4.0) == [2.0, 2.0]


@pytest.mark.parametrize("device", ["titanx", "a100", "h200", "cpu"])
def test_no_frame_computes_faster_than_the_device_peak(device):
    """The Titan X priced pipeline3's 362 GFLOP in 31.8 ms (11.4 TFLOP/s, peak 6.6)."""
    model = load_device(device)
    peak = NAMED[device].peak_flops("float32")
    for name in STAGE_ONLY:
        program = load(SCHEDULES / f"{name}.cw")
        planner, costs = Planner(program), schedule_costs(program, model)
        for p in frame_prices(planner, costs, 8):
            assert p.flops <= peak * p.latency_ms / 1e3 * (1 + 1e-9), (name, p)
        for t in range(8):
            for step in planner.plan(t).steps:
                if isinstance(step, Wave):
                    flops = sum(costs.stage_flops[s] for s in step.stages)
                    assert flops <= peak * costs.wave_ms(step.stages) / 1e3 * (1 + 1e-9)


def test_titanx_pipeline3_is_bound_by_the_peak_and_its_throughput_by_its_latency(capsys):
    from cwdsl.commands.main import main
    import json

    assert main(["simulate", str(SCHEDULES / "pipeline3.cw"), str(SCHEDULES / "oracle.cw"),
                 "--device", "titanx", "--frames", "100", "--json"]) == 0
    rows = {r["schedule"]: r for r in json.loads(capsys.readouterr().out)}
    pipe, oracle = rows["pipeline3"], rows["oracle"]
    assert pipe["gflops_per_frame"] == pytest.approx(oracle["gflops_per_frame"])
    # 362 GFLOP at 6.6 TFLOP/s take 54.8 ms at least
    assert pipe["gflops_per_frame"] / pipe["latency_ms_mean"] <= 6.6  # TFLOP/s
    assert pipe["latency_ms_mean"] >= 362 / 6.6
    assert pipe["latency_ms_mean"] < oracle["latency_ms_mean"]  # memory-bound kernels hide
    assert pipe["throughput_fps"] >= 1e3 / pipe["latency_ms_mean"] * (1 - 1e-12)
    assert pipe["throughput_fps"] > oracle["throughput_fps"]
    assert pipe["work_ms_mean"] <= pipe["latency_ms_mean"]


@pytest.mark.parametrize("device", ["titanx", "h200", "cpu"])
def test_throughput_is_never_below_one_over_latency(device):
    names = STAGE_ONLY + WARPING + ("adaptive",)
    report = simulate_schedules([load(SCHEDULES / f"{n}.cw") for n in names],
                                SimulateOptions(device=load_device(device), frames=60,
                                                timeline=60))
    for sim, row in zip(report.sims, report.rows):
        assert row.work_ms_mean <= row.latency_ms_mean * (1 + 1e-12), row.schedule
        assert row.throughput_fps >= 1e3 / row.latency_ms_mean * (1 - 1e-12), row.schedule
        for p in sim.prices:
            assert p.work_ms <= p.latency_ms + 1e-9
            if not sim.costs.overlaps_host:  # a CPU runs everything in turn
                assert p.work_ms == pytest.approx(p.latency_ms)


@pytest.mark.parametrize("device", ["titanx", "h200", "cpu"])
@pytest.mark.parametrize("name", ["accel", "pipeline_warp", "pipeline3", "adaptive"])
def test_a_frames_parts_sum_to_its_latency_and_show_all_its_work(device, name):
    """What the plot stacks: every part non-negative, summing to the latency; shown and
    hidden together, each computed stage its whole time and flow and warp theirs."""
    program = load(SCHEDULES / f"{name}.cw")
    planner, costs = Planner(program), schedule_costs(program, load_device(device))
    trace = [{a: t % 3 == 0 for a in planner.atom_ids} for t in range(12)] \
        if planner.atom_ids else None
    for t, p in enumerate(frame_prices(planner, costs, 12, trace)):
        shown, hidden = dict(p.parts), dict(p.hidden)
        assert min([*shown.values(), *hidden.values()]) >= 0
        assert sum(shown.values()) == pytest.approx(p.latency_ms)
        for stage in program.stages:
            done = shown.get(stage, 0.0) + hidden.get(stage, 0.0)
            assert done == pytest.approx(costs.stage_ms[stage] if stage in p.computed else 0)
        assert shown.get(MOTION, 0.0) + hidden.get(MOTION, 0.0) == pytest.approx(p.motion_ms)
        has_flow = any(isinstance(s, Flow) for s in planner.plan(
            t, None if trace is None else trace[t]).steps)
        assert (p.motion_ms > 0) == has_flow
        assert shown.get(REST, 0.0) > 0  # the frame's own work and its fuse, at least


def test_a_batched_round_is_a_wave_and_one_stream_costs_its_frame(titanx_costs):
    planner, costs = titanx_costs["pipeline3"]
    since: dict = {}
    for t in range(4):
        plan = planner.plan(t)
        alone = price(plan, costs, since)
        assert tick_price([plan], costs, [since]).work_ms == pytest.approx(alone.work_ms)
        three = tick_price([plan] * 3, costs, [since] * 3)
        flops = 3 * sum(costs.stage_flops[s] for s in plan.computed)
        assert flops <= NAMED["titanx"].peak_flops("float32") * three.work_ms / 1e3
        since = {**since, **dict.fromkeys(plan.computed, t)}


def test_a_device_without_a_peak_keeps_its_measured_overlap(titanx_costs):
    planner, costs = titanx_costs["pipeline3"]
    free = replace(costs, stage_peak_ms={})
    times = sorted(costs.stage_ms.values())
    assert free.wave_ms(tuple(costs.stage_ms)) == times[-1]  # lane_overlap 1: slowest lane
    assert costs.wave_ms(tuple(costs.stage_ms)) > times[-1]  # the peak allows no more
    assert np.isclose(costs.wave_ms(tuple(costs.stage_ms)),
                      costs.peak_floor_ms([(s, 1) for s in costs.stage_ms]))
