"""Simulator properties over random schedules and cost tables, and its agreement with
the executor on the same trace."""
import heapq
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from cwdsl import compile_schedule, load
from cwdsl.core.errors import InputError
from cwdsl.sim.capacity import (MAX_STREAMS, check_capacity, frames_per_stream, run_capacity,
                                sustainable_streams)
from cwdsl.runtime.executor import Executor
from cwdsl.nets import build_network
from cwdsl.ir.plan import Planner, Wave
from cwdsl.sim.costs import ScheduleCosts
from cwdsl.sim.simulate import frame_prices, firings, price, simulate
from cwdsl.ir.trace import ClockSource, fire_rate_trace, fire_rate_values
from strategies import schedules

ROOT = Path(__file__).resolve().parents[1]


def Costs(stage_ms, stage_flops, measure_ms, fuse_ms, fuse_flops, overhead, full_ms, full_flops,
          **motion):
    return ScheduleCosts("test", "fcn8s", (500, 500), "float32", stage_ms, stage_flops,
                         measure_ms, fuse_ms, fuse_flops, overhead, full_ms, full_flops, "test",
                         **motion)


@st.composite
def costed(draw):
    program = compile_schedule(draw(schedules()))
    ms = st.floats(0.01, 100.0)
    stage_ms = {s: draw(ms) for s in program.stages}
    stage_flops = {s: draw(st.floats(1e3, 1e10)) for s in program.stages}
    fuse_ms, fuse_flops = draw(ms), draw(st.floats(1e3, 1e8))
    # the frame oracle: every stage of the network's full split, every frame
    extra_ms, extra_flops = draw(st.floats(0, 50)), draw(st.floats(0, 1e9))
    motion = {"flow_ms": {f.method: draw(ms) for f in program.flows},
              "flow_flops": {f.method: draw(st.floats(0, 1e8)) for f in program.flows},
              "warp_ms": {w.stage: draw(ms) for w in program.warps},
              "warp_flops": {w.stage: draw(st.floats(0, 1e8)) for w in program.warps},
              "compose_ms": draw(ms), "compose_flops": draw(st.floats(0, 1e6))}
    if draw(st.booleans()):  # a GPU: host and device overlap, a sync per read-back
        motion.update(overlaps_host=True, sync_ms=draw(st.floats(0, 0.1)),
                      stage_host_ms={s: draw(st.floats(0, 5)) for s in program.stages},
                      fuse_host_ms=draw(st.floats(0, 1)))
    if draw(st.booleans()):  # a roofline: waves bounded by the device's peak
        motion["stage_peak_ms"] = {s: (draw(st.floats(0, 1)) * ms_, draw(st.floats(0, 1)) * ms_)
                                   for s, ms_ in stage_ms.items()}
    motion["lane_overlap"] = draw(st.floats(0, 1))
    costs = Costs(stage_ms, stage_flops, {a: draw(st.floats(0, 1)) for a in program.atom_ids},
                  fuse_ms, fuse_flops, draw(st.floats(0, 1)),
                  sum(stage_ms.values()) + fuse_ms + extra_ms,
                  sum(stage_flops.values()) + fuse_flops + extra_flops, **motion)
    frames = draw(st.integers(1, 60))
    atoms = fire_rate_trace(program.atom_ids, frames, draw(st.floats(0, 1)), draw(st.integers(0, 99)))
    return program, costs, frames, atoms


@pytest.mark.slow
@given(costed())
def test_compute_never_exceeds_the_oracle_and_work_never_exceeds_latency(case):
    program, costs, frames, atoms = case
    sim = simulate(Planner(program), costs, frames, atoms, timeline=frames)
    # flows and warps replace stages on the frames they skip: they may add their own work
    motion = (sum(costs.flow_flops.values()) + sum(costs.warp_flops.values())
              + len(costs.warp_flops) * costs.compose_flops)
    assert sim.summary().compute_pct_of_full <= 100 * (1 + motion / costs.full_flops) + 1e-9
    for p in sim.prices:
        # the busier processor's time fits in the frame's: back to back >= 1 / latency
        assert p.work_ms <= p.latency_ms + 1e-9
        if not costs.overlaps_host:
            assert p.work_ms == pytest.approx(p.latency_ms)
        # the plot's parts: none negative, summing to the latency
        assert all(ms >= 0 for _, ms in p.parts + p.hidden)
        assert sum(ms for _, ms in p.parts) == pytest.approx(p.latency_ms)
        for stage in program.stages:  # shown and hidden: a computed stage's whole time
            done = dict(p.parts).get(stage, 0.0) + dict(p.hidden).get(stage, 0.0)
            assert done == pytest.approx(costs.stage_ms[stage] if stage in p.computed else 0)
    row = sim.summary()
    assert row.throughput_fps >= 1e3 / row.latency_ms_mean * (1 - 1e-9)
    assert len(sim.timeline) == frames and sim.counts.sum() == frames


@pytest.mark.slow
@given(costed())
def test_a_wave_lies_between_its_slowest_lane_and_its_sum_above_the_peak_floor(case):
    program, costs, frames, atoms = case
    planner = Planner(program)
    for t in range(frames):
        for step in planner.plan(t, atoms[t]).steps:
            if isinstance(step, Wave):
                times = [costs.stage_ms[s] for s in step.stages]
                wave = costs.wave_ms(step.stages)
                assert max(times) - 1e-9 <= wave <= sum(times) + 1e-9
                floor = costs.peak_floor_ms([(s, 1) for s in step.stages])
                assert wave >= min(floor, sum(times)) - 1e-9


@pytest.mark.slow
@given(costed())
def test_fast_periodic_path_equals_frame_by_frame(case):
    program, costs, frames, atoms = case
    planner = Planner(program)
    sim = simulate(planner, costs, frames, atoms)
    slow, since = [], {}  # frame by frame, each knowing when every stage last computed
    for t in range(frames):
        plan = planner.plan(t, atoms[t])
        slow.append(price(plan, costs, since))
        since.update(dict.fromkeys(plan.computed, t))
    assert sim.mean("latency_ms") == pytest.approx(np.mean([p.latency_ms for p in slow]))
    assert sim.mean("flops") == pytest.approx(np.mean([p.flops for p in slow]))


@given(st.lists(st.tuples(st.integers(1, 9), st.integers(0, 8)), min_size=1, max_size=3),
       st.integers(1, 5000))
def test_periodic_compute_equals_closed_form(rates, frames):
    stages = [("conv1_1", "pool3", "score_pool3"), ("conv4_1", "pool4", "score_pool4"),
              ("conv5_1", "fc7", "score_fr")][:len(rates)]
    text = "network fcn8s\n"
    for i, (first, last, head) in enumerate(stages):
        n, p = rates[i][0], rates[i][1] % rates[i][0]
        text += f"stage s{i} = {first} .. {last} head {head}\ncompute s{i} when every {n} phase {p}\n"
    text += "output fuse(" + ", ".join(f"s{i}" for i in range(len(stages))) + ")\n"
    from cwdsl import compile_text
    program = compile_text(text)
    flops = {s: float(10 ** (i + 3)) for i, s in enumerate(program.stages)}
    costs = Costs({s: 1.0 for s in program.stages}, flops, {}, 0.5, 7.0, 0.0, 10.0, 1e9)
    sim = simulate(Planner(program), costs, frames)
    total = frames * 7.0
    for i, s in enumerate(program.stages):
        n, p = rates[i][0], rates[i][1] % rates[i][0]
        fires = 1 + sum(1 for t in range(1, frames) if t % n == p)  # frame 0 always computes
        total += fires * flops[s]
    assert sim.mean("flops") * frames == pytest.approx(total)


def test_oracle_is_100_percent_and_pipeline_is_its_slowest_stage():
    stage_ms = {"s1": 59.0, "s2": 18.0, "s3": 23.0}
    costs = Costs(stage_ms, {s: 1.0 for s in stage_ms}, {}, 1.0, 0.0, 0.0, 101.0, 3.0)
    oracle = simulate(Planner(load(ROOT / "schedules/oracle.cw")), costs, 100).summary()
    assert oracle.time_pct_of_full == pytest.approx(100.0)
    assert oracle.compute_pct_of_full == pytest.approx(100.0)
    pipe = simulate(Planner(load(ROOT / "schedules/pipeline3.cw")), costs, 1001)
    # frame 0 runs in full; every later frame costs the slowest stage plus the fuse
    assert pipe.percentile("latency_ms", 50) == pytest.approx(60.0)


def test_simulator_sees_the_executors_firings_on_the_same_trace():
    torch.manual_seed(0)
    net = build_network("tiny")
    program = load(ROOT / "schedules/adaptive.cw", network="tiny")
    executor = Executor(program, net)
    g = torch.Generator().manual_seed(1)
    base = torch.rand(1, 3, 48, 48, generator=g)
    results = []
    for t in range(12):
        if t % 4 == 3:
            base = torch.rand(1, 3, 48, 48, generator=g)
        results.append(executor.step(base))
    trace = [r.atom_values for r in results]
    assert firings(Planner(program), 12, trace) == [r.computed for r in results]
    assert len({r.computed for r in results}) > 1  # the clock did fire and did not


def test_capacity_counts_drops_and_finds_the_sustainable_stream_count():
    costs = Costs({"s1": 40.0, "s2": 30.0, "s3": 30.0}, {"s1": 1, "s2": 1, "s3": 1}, {},
                  0.0, 0.0, 0.0, 100.0, 3.0)
    planner = Planner(load(ROOT / "schedules/oracle.cw"))
    one = run_capacity(planner, costs, 1, 5.0, seconds=4)       # 100 ms work every 200 ms
    assert one.dropped == 0 and one.utilization == pytest.approx(0.5, rel=0.01)
    three = run_capacity(planner, costs, 3, 5.0, seconds=4)     # 300 ms of work per 200 ms
    assert three.dropped > 0 and not three.sustained
    n, result = sustainable_streams(planner, costs, 5.0, seconds=4)
    assert n == 2 and result.sustained
    skip = Planner(load(ROOT / "schedules/skipframe.cw"))
    assert sustainable_streams(skip, costs, 5.0, seconds=4)[0] > n  # half the work


def test_capacity_is_deterministic_with_data_driven_clocks():
    costs = Costs({"s1": 10.0, "s2": 5.0, "s3": 20.0}, {"s1": 1, "s2": 1, "s3": 1},
                  {"labeldiff(s2, since=fired) >= 0.03": 0.2}, 1.0, 0.0, 0.1, 36.0, 3.0)
    planner = Planner(load(ROOT / "schedules/adaptive.cw"))
    trace_for = lambda i, n: fire_rate_trace(planner.atom_ids, n, 0.3, seed=i)  # noqa: E731
    a = run_capacity(planner, costs, 4, 15.0, 5, trace_for)
    b = run_capacity(planner, costs, 4, 15.0, 5, trace_for)
    assert a == b


ADAPTIVE_COSTS = Costs({"s1": 10.0, "s2": 5.0, "s3": 20.0}, {"s1": 1, "s2": 1, "s3": 1},
                       {"labeldiff(s2, since=fired) >= 0.03": 0.2}, 1.0, 0.0, 0.1, 36.0, 3.0)


def adaptive_planner():
    planner = Planner(load(ROOT / "schedules/adaptive.cw"))
    costs = Costs(ADAPTIVE_COSTS.stage_ms, ADAPTIVE_COSTS.stage_flops,
                  dict.fromkeys(planner.atom_ids, 0.2), 1.0, 0.0, 0.1, 36.0, 3.0)
    return planner, costs


def test_streamed_clock_values_are_the_listed_ones_however_they_are_cut():
    ids = ("a", "b")
    whole = fire_rate_trace(ids, 10_001, 0.3, seed=4)
    assert list(fire_rate_values(ids, 10_001, 0.3, 4, chunk=7)) == whole
    assert list(ClockSource(fire_rate=0.3, seed=1).values(ids, 50, stream=3)) == whole[:50]
    with pytest.raises(InputError, match=r"--fire-rate must be in \[0, 1\]"):
        fire_rate_values(ids, 10, float("nan"))  # refused when asked, not at the first frame


def test_a_stream_of_clock_values_prices_as_the_list_does():
    planner, costs = adaptive_planner()
    listed = simulate(planner, costs, 3000, fire_rate_trace(planner.atom_ids, 3000, 0.3),
                      timeline=50)
    streamed = simulate(planner, costs, 3000, fire_rate_values(planner.atom_ids, 3000, 0.3),
                        timeline=50)
    assert listed.prices == streamed.prices and listed.timeline == streamed.timeline
    assert listed.counts.tolist() == streamed.counts.tolist() and listed.counts.sum() == 3000
    with pytest.raises(ValueError, match="every frame"):
        simulate(planner, costs, 10, fire_rate_values(planner.atom_ids, 9, 0.3))


def test_fixed_clocks_count_any_number_of_frames_without_pricing_them():
    costs = Costs({"s1": 10.0, "s2": 5.0, "s3": 20.0}, {"s1": 1, "s2": 1, "s3": 1}, {},
                  1.0, 0.0, 0.1, 36.0, 3.0)
    planner = Planner(load(ROOT / "schedules/exponential.cw"))  # s2 every 2nd, s3 every 4th
    for frames in (2, 5, 1001, 10**15):
        sim = simulate(planner, costs, frames)
        assert sim.counts.sum() == frames
        assert sim.computed_fraction("s3") == pytest.approx((frames + 3) // 4 / frames)


def test_capacity_sizes_beyond_bounded_work_are_refused_naming_what_fits():
    assert check_capacity(MAX_STREAMS, 30.0, 10.0) == 300
    with pytest.raises(InputError, match=r"at most --streams 333, or --seconds 83$"):
        check_capacity(4000, 30.0, 1000.0)
    with pytest.raises(InputError, match=r"at most --streams 4096$"):
        check_capacity(100_000, 30.0, 1.0)
    with pytest.raises(InputError, match="at most --seconds 333333 at this --fps"):
        frames_per_stream(30.0, 1e9)
    with pytest.raises(InputError, match="at most --seconds 0.01 at this --fps"):
        frames_per_stream(1e9, float("inf"))
    with pytest.raises(InputError, match="--streams auto: .* at most --seconds 81$"):
        check_capacity(4096, 30.0, 100.0, auto=True)


def reference_capacity(work, streams, per_stream, interval):
    """The event loop as first written: every arrival queued from the start, the oldest
    waiting frame found by a scan, a table of every frame's work; (latencies, dropped,
    utilization)."""
    events, order = [], 0
    for i in range(streams):
        for k in range(per_stream):
            heapq.heappush(events, ((k + i / streams) * interval, order, 1, i))
            order += 1
    waiting, served, latencies, dropped, busy, in_service = {}, [0] * streams, [], 0, 0.0, None
    while events:
        now, _, kind, stream = heapq.heappop(events)
        end = now
        if kind == 0:
            latencies.append(now - in_service[1])
            in_service = None
        else:
            dropped += stream in waiting
            waiting[stream] = now
        if in_service is None and waiting:
            s = min(waiting, key=lambda s: (waiting[s], s))
            in_service = (s, waiting.pop(s))
            ms = work[s][served[s]]
            served[s] += 1
            busy += ms
            heapq.heappush(events, (now + ms, order, 0, s))
            order += 1
    return latencies, dropped, busy / max(end, per_stream * interval)


@pytest.mark.parametrize("streams, fps", [(1, 30.0), (5, 15.0), (9, 40.0), (40, 3.0)])
def test_capacity_made_as_it_goes_is_the_reference_event_loop(streams, fps):
    planner, costs = adaptive_planner()
    trace_for = ClockSource(fire_rate=0.4, seed=3).streams(planner.atom_ids)
    per_stream = frames_per_stream(fps, 4.0)
    work = [[p.work_ms for p in frame_prices(planner, costs, per_stream,
                                             trace_for(i, per_stream))]
            for i in range(streams)]
    latencies, dropped, utilization = reference_capacity(work, streams, per_stream, 1e3 / fps)
    run = run_capacity(planner, costs, streams, fps, 4.0, trace_for)
    assert (run.processed, run.dropped) == (len(latencies), dropped)
    assert run.latency_ms_p99 == float(np.percentile(latencies, 99))
    assert run.latency_ms_max == max(latencies) and run.arrived == streams * per_stream
    assert run.utilization == utilization
