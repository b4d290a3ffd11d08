"""Profile version 3: the host beside the device (issue times, read-back, lanes' overlap),
measured on this CPU and used by the simulator's host/device model on a GPU profile."""
import copy
import json
from pathlib import Path

import pytest

from cwdsl import load
from cwdsl.ir.plan import Planner
from cwdsl.sim.costs import schedule_costs
from cwdsl.devices.profiled import PROFILE_VERSION, profile_from_dict
from cwdsl.profile.harness import profile_network
from cwdsl.sim.simulate import simulate
from h200 import SHARED

SCHEDULES = Path(__file__).parent.parent / "schedules"


@pytest.fixture(scope="module")
def data() -> dict:
    return profile_network("tiny", (32, 32), "cpu", "float32", warmup=1, repeats=3, threads=1)


def test_a_cpu_profile_times_the_host_and_the_lanes(data):
    assert data["version"] == PROFILE_VERSION == 3
    t = data["timings"]
    host = {(r["first"], r["last"]): r["host"] for r in t["host"]["ranges"]}
    assert host == {(r["first"], r["last"]): r["direct"] for r in t["ranges"]}  # CPU: the same
    assert t["host"]["sync"]["median_ms"] > 0  # reading a number back is never free
    assert 0 <= t["lanes"]["overlap"] <= 1
    assert set(t["lanes"]["lane_ms"]) == {"s1", "s2", "s3"}
    profile = profile_from_dict(data, "tiny.json")
    assert not profile.overlaps_host()  # a CPU: every part in turn
    program = load(SCHEDULES / "pipeline3.cw", network="tiny")
    costs = schedule_costs(program, profile, (32, 32))
    assert costs.lane_overlap == t["lanes"]["overlap"]
    times = sorted(costs.stage_ms.values())
    assert costs.wave_ms(("s1", "s2", "s3")) == pytest.approx(
        times[-1] + (1 - costs.lane_overlap) * sum(times[:-1]))
    # the oracle in turn: its stages, fuse and overhead (issue times are inside the parts)
    oracle = load(SCHEDULES / "oracle.cw", network="tiny")
    costs = schedule_costs(oracle, profile, (32, 32))
    assert all(ms > 0 for ms in costs.stage_host_ms.values())
    sim = simulate(Planner(oracle), costs, 5)
    assert sim.mean("latency_ms") == pytest.approx(
        costs.frame_overhead_ms + sum(costs.stage_ms.values()) + costs.fuse_ms)
    assert sim.summary().time_pct_of_full == pytest.approx(100)


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared H200 measurements are not here")
def test_host_bound_frames_and_partial_overlap_on_a_gpu_profile():
    base = json.loads((SHARED / "profile-fcn8s-500x500-float16.json").read_text())
    assert base["version"] == 2  # read as it is: no host times, no lanes
    gpu = copy.deepcopy(base)
    t = gpu["timings"]
    # a slow host: issuing each range takes three times its device time
    t["host"] = {"ranges": [{"first": r["first"], "last": r["last"], "heads": r["heads"],
                             "host": {"median_ms": 3 * r["direct"]["median_ms"]}}
                            for r in t["ranges"]],
                 "fuse": {"median_ms": 0.1}, "sync": {"median_ms": 0.02}}
    t["lanes"] = {"overlap": 0.5}
    gpu["version"] = 3
    slow = profile_from_dict(gpu, "gpu.json")
    program = load(SCHEDULES / "oracle.cw", network="fcn8s")
    costs = schedule_costs(program, slow, (500, 500), "float16")
    host = costs.frame_overhead_ms + sum(costs.stage_host_ms.values()) + costs.fuse_host_ms
    device = sum(costs.stage_ms.values()) + costs.fuse_ms
    assert host > device
    sim = simulate(Planner(program), costs, 10)
    assert sim.mean("latency_ms") == pytest.approx(host + costs.sync_ms)  # the host bounds it
    assert sim.summary().time_pct_of_full == pytest.approx(100)
    # the lanes of pipeline3's wave: the slowest plus half the others
    pipe = load(SCHEDULES / "pipeline3.cw", network="fcn8s")
    costs = schedule_costs(pipe, slow, (500, 500), "float16")
    times = sorted(costs.stage_ms.values())
    assert costs.wave_ms(("s1", "s2", "s3")) == pytest.approx(times[-1] + 0.5 * sum(times[:-1]))
    # the same profile without host times: the device bounds the oracle
    fast = profile_from_dict(base, "v2.json")
    costs = schedule_costs(program, fast, (500, 500), "float16")
    assert costs.stage_host_ms == {"s1": 0.0, "s2": 0.0, "s3": 0.0} and costs.sync_ms == 0
    device = sum(costs.stage_ms.values()) + costs.fuse_ms
    assert simulate(Planner(program), costs, 10).mean("latency_ms") == pytest.approx(device)
