"""The simulator prices optical flow, warps and learned clocks from the frame plans: traced
costs, rooflines (the flow on the host CPU), measured profiles (old ones still load)."""
import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest

from cwdsl.commands.main import main
from cwdsl.core.clockmodel import SIGNALS, make_model
from cwdsl.core.errors import InputError
from cwdsl.ir.graph import compile_text, load
from cwdsl.ir.plan import Flow, Planner, Warp
from cwdsl.lang.ast import FLOW_METHODS
from cwdsl.cost.network import network_cost
from cwdsl.fitting.load import load_device
from cwdsl.sim.costs import schedule_costs
from cwdsl.profile.harness import run_profile
from cwdsl.devices.named import NAMED
from cwdsl.devices.roofline import Roofline
from cwdsl.sim.simulate import frame_prices, price, simulate

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = ROOT / "schedules"
SIZE = (64, 64)
SHARED = Path("/work/shared/measurements/h200-2026-11-26")

STAGES = """network tiny input 64x64
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr
"""


def program(rules: str):
    return compile_text(STAGES + rules + "output fuse(s1, s2, s3)\n", "<test>")


@pytest.fixture(scope="module")
def profile_path(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("profile") / "tiny.json"
    run_profile("tiny", "64x64", "cpu", "float32", out, progress=False, warmup=0, repeats=1,
                threads=1)
    return out


@pytest.fixture(scope="module")
def old_profile_path(profile_path, tmp_path_factory) -> Path:
    """The same profile as one written before flows, warps and learned clocks existed."""
    data = json.loads(profile_path.read_text())
    for group in ("flows", "warps", "predicted"):
        del data["timings"][group]
    out = tmp_path_factory.mktemp("old") / "old.json"
    out.write_text(json.dumps(data))
    return out


def clock_model(tmp_path: Path, signals=tuple(SIGNALS), network="tiny", head="score_pool4"):
    n = len(signals)
    model = make_model(network, head, signals, [0.0] * n, [1.0] * n,
                       [([[0.1] * n] * 8, [0.0] * 8), ([[0.1] * 8], [0.0])], {"test": True})
    path = tmp_path / f"clock-{n}.json"
    path.write_text(json.dumps(model.to_json()))
    return path


# -- the cost model -------------------------------------------------------------------------
def test_cost_traces_flow_warp_and_learned_clock():
    cost = network_cost("tiny", SIZE)
    codec = cost.flow_op("codec")  # the cells on the host, uploaded, upsampled on the device
    host = [k for k in codec.kernels if k.host]
    assert len(host) == 1 and host[0].estimate and host[0].flops > 0
    assert [k.op for k in codec.kernels if k.link_bytes] == ["copy:cells_to_device"]
    assert sum(k.link_bytes for k in codec.kernels) == 4 * 2 * 8 * 8  # 64x64: 8x8 cells
    assert any(k.op.startswith("aten::") and not k.host for k in codec.kernels)
    assert codec.out_shape == (1, 2, 64, 64)
    for method in (m for m in FLOW_METHODS if m != "codec"):
        op = cost.flow_op(method)
        estimated = [k for k in op.kernels if k.estimate]
        assert len(estimated) == 1 and estimated[0].host and estimated[0].flops > 0
        assert method in estimated[0].op and "estimate" in estimated[0].op
        # all on the host (gray frames, DIS), then the flow's upload; no device sync
        assert sum(k.syncs for k in op.kernels) == 0
        assert [k.op for k in op.kernels if not k.host] == ["copy:flow_to_device"]
        assert sum(k.link_bytes for k in op.kernels) == 8 * 64 * 64
        assert any(k.op.startswith("aten::") for k in op.kernels)  # gray_frame, traced
    assert cost.flow_op("dis_medium").cost.flops > cost.flow_op("dis_ultrafast").cost.flops
    # a stage's warp: what it hands on, its heads; composing a flow apart
    assert cost.warp_parts("conv1_1", "pool3", ["score_pool3"]) == (
        "features:pool3", "head:score_pool3")
    assert cost.warp_parts("conv5_1", "fc7", ["score_fr"]) == ("head:score_fr",)
    op = cost.warp_op("conv1_1", "pool3", ["score_pool3"])
    parts = [cost.warp_part(p) for p in ("features:pool3", "head:score_pool3")]
    assert op.kernels == tuple(k for p in parts for k in p.kernels)
    assert op.cost.bytes > 0 and "aten::grid_sampler_2d" in {k.op for k in op.kernels}
    compose = cost.compose_op()
    assert compose.out_shape == (1, 2, 64, 64)
    assert "aten::grid_sampler_2d" in {k.op for k in compose.kernels}
    with pytest.raises(InputError):
        cost.warp_op("conv1_1", "pool3", ["score_fr"])  # a head outside the stage
    # a learned clock: the labels, 2 label and 2 pixel differences (each a sync), the MLP
    model = make_model("tiny", "score_pool4", tuple(SIGNALS), [0] * 5, [1] * 5,
                       [([[0.1] * 5] * 8, [0] * 8), ([[0.1] * 8], [0])], {})
    op = cost.predicted_op("score_pool4", model)
    assert sum(k.syncs for k in op.kernels) == 4
    mlp = [k for k in op.kernels if k.host]
    assert len(mlp) == 1 and mlp[0].estimate and mlp[0].flops == 2 * (5 * 8 + 8)
    fewer = make_model("tiny", "score_pool4", ("labeldiff_fired",), [0], [1], [([[1.0]], [0])], {})
    assert sum(k.syncs for k in cost.predicted_op("score_pool4", fewer).kernels) == 1


def test_rooflines_price_the_flow_on_the_host_cpu():
    cost = network_cost("tiny", SIZE)
    estimate = next(k for k in cost.flow_op("dis").kernels if k.estimate)
    cpu = NAMED["cpu"]
    on_cpu = 1e3 * max(estimate.flops / (cpu.peak_tflops["float32"] * 1e12),
                       estimate.bytes / (cpu.bandwidth_gbs * 1e9)) + 1e-3 * cpu.launch_us
    for name in ("h100", "a100", "titanx", "cpu"):
        device = load_device(name)
        assert device.host is NAMED["cpu"]
        assert device.kernel_ms(estimate, "float32") == pytest.approx(on_cpu)
    # a CPU spec of one's own (no host link) is its own host
    mine = Roofline(replace(NAMED["cpu"], name="mycpu", peak_tflops={"float32": 1.0}))
    assert mine.host is mine.spec
    # the flow's upload crosses a GPU's host link; a CPU copies nothing
    up = next(k for k in cost.flow_op("dis").kernels if k.op == "copy:flow_to_device")
    h100 = NAMED["h100"]
    assert load_device("h100").kernel_ms(up, "float32") == pytest.approx(  # device time
        load_device("h100").device_ms(up, "float32") + 1e3 * 8 * 64 * 64 /
        (h100.host_link_gbs * 1e9))
    assert load_device("cpu").kernel_ms(up, "float32") == pytest.approx(1e-3 * cpu.launch_us)
    # the gray frames are host work too: the flow costs the same on every GPU but the upload
    gpus = {n: load_device(n).flow_ms(cost, "dis") - load_device(n).kernel_ms(up, "float32")
            for n in ("h100", "a100", "titanx")}
    assert gpus["h100"] == pytest.approx(gpus["a100"]) == pytest.approx(gpus["titanx"])


# -- the simulator ---------------------------------------------------------------------------
def in_turn(costs):
    """``costs`` with every part priced in turn, as on a CPU (not overlapping its host)."""
    return replace(costs, overlaps_host=False)


def test_warp_schedule_latency_is_the_sum_its_plans_imply():
    prog = load(SCHEDULES / "skipframe_warp.cw", network="tiny")
    costs = in_turn(schedule_costs(prog, load_device("titanx"), SIZE))
    assert set(costs.flow_ms) == {"dis"} and set(costs.warp_ms) == {"s1", "s2", "s3"}
    assert all(v > 0 for v in (*costs.flow_ms.values(), *costs.warp_ms.values()))
    assert costs.compose_ms > 0
    common = costs.fuse_ms + costs.frame_overhead_ms
    full = sum(costs.stage_ms.values()) + common
    # every stage computed on the frame before: its total is this frame's flow, no compose
    warped = costs.flow_ms["dis"] + sum(costs.warp_ms.values()) + common
    sim = simulate(Planner(prog), costs, 10, timeline=2)  # 0, 2, 4, 6, 8 compute; 1, 3, … warp
    assert sim.mean("latency_ms") == pytest.approx((5 * full + 5 * warped) / 10)
    assert sim.mean("work_ms") == pytest.approx((5 * full + 5 * warped) / 10)
    flops = (5 * (sum(costs.stage_flops.values()) + costs.fuse_flops)
             + 5 * (costs.flow_flops["dis"] + sum(costs.warp_flops.values()) + costs.fuse_flops))
    assert sim.mean("flops") == pytest.approx(flops / 10)
    assert sim.timeline[1].motion_ms == pytest.approx(
        costs.flow_ms["dis"] + sum(costs.warp_ms.values()))
    # against the cache version: the flow and the warps are all that differs
    cached = load(SCHEDULES / "skipframe.cw", network="tiny")
    plain = simulate(Planner(cached), in_turn(schedule_costs(cached, load_device("titanx"),
                                                             SIZE)), 10)
    assert sim.mean("latency_ms") - plain.mean("latency_ms") == pytest.approx(
        (costs.flow_ms["dis"] + sum(costs.warp_ms.values())) / 2)
    assert schedule_costs(cached, load_device("titanx"), SIZE).flow_ms == {}


def test_on_a_gpu_the_flow_runs_on_the_host_beside_the_device():
    """A warped frame on a GPU: the host's flow overlaps the device's work; the frame
    costs the larger of the two plus its closing read-back."""
    prog = load(SCHEDULES / "skipframe_warp.cw", network="tiny")
    costs = schedule_costs(prog, load_device("titanx"), SIZE)
    assert costs.overlaps_host
    host = (costs.frame_overhead_ms + costs.flow_ms["dis"] + costs.fuse_host_ms)
    device = sum(costs.warp_ms.values()) + costs.fuse_ms
    warped = simulate(Planner(prog), costs, 2, timeline=2).timeline[1]
    assert warped.latency_ms == pytest.approx(max(host, device) + costs.sync_ms)
    assert warped.work_ms == pytest.approx(max(host, device))


@pytest.mark.parametrize("rules, flows", [
    ("compute s1 when 1\ncompute s2 when every 3 else warp\ncompute s3 when every 3 else warp\n",
     ["dis"]),
    ("compute s1 when 1\ncompute s2 when every 3 else warp(flow=dis_ultrafast)\n"
     "compute s3 when every 3 else warp(flow=dis_medium)\n", ["dis_ultrafast", "dis_medium"]),
])
def test_flow_and_composition_are_priced_once_per_frame_and_method(rules, flows):
    prog = program(rules)
    costs = in_turn(schedule_costs(prog, load_device("h100"), SIZE))
    assert sorted(costs.flow_ms) == sorted(flows)
    planner = Planner(prog)
    for t in (1, 2):
        plan = planner.plan(t)
        assert [s.method for s in plan.steps if isinstance(s, Flow)] == flows
        assert [s.stage for s in plan.steps if isinstance(s, Warp)] == ["s2", "s3"]
    base = (costs.frame_overhead_ms + costs.stage_ms["s1"] + costs.fuse_ms
            + sum(costs.flow_ms[m] for m in flows) + costs.warp_ms["s2"] + costs.warp_ms["s3"])
    # frame 1: both computed on frame 0, the frame before: nothing to compose; frame 2: one
    # composition per method (s2 and s3 computed on the same frame: shared when one method)
    sim = simulate(planner, costs, 3, timeline=3)
    assert [p.latency_ms for p in sim.timeline[1:]] == [
        pytest.approx(base), pytest.approx(base + len(flows) * costs.compose_ms)]
    assert price(planner.plan(2), costs).latency_ms == pytest.approx(  # no history: upper bound
        base + 2 * costs.compose_ms)


def test_periodic_fast_path_prices_early_frames_apart():
    """A stage that never computes again keeps composing; one that computed on frame 0 by
    its clock stops sharing with it after the first period."""
    prog = program("compute s1 when 1\ncompute s2 when 0 else warp\n"
                   "compute s3 when every 2 else warp\n")
    planner = Planner(prog)
    costs = schedule_costs(prog, load_device("titanx"), SIZE)
    slow = list(frame_prices(planner, costs, 40))
    for frames in (1, 2, 3, 5, 40):
        fast = simulate(planner, costs, frames, timeline=frames)
        assert list(fast.timeline) == slow[:frames]
        assert fast.mean("latency_ms") == pytest.approx(
            sum(p.latency_ms for p in slow[:frames]) / frames)


def test_compositions_are_priced_where_the_executor_composes(monkeypatch):
    """The simulator's compositions per frame are the executor's: compose calls with a
    total to compose into (the others return the frame's flow as it is)."""
    import cwdsl.runtime.warp as warp
    from cwdsl.demo.clip import demo_clip
    from cwdsl.nets import build_network
    from cwdsl.nets.preprocess import frame_tensor
    from cwdsl.runtime.executor import Executor

    prog = program("compute s1 when every 2 else warp\ncompute s2 when 0 else warp\n"
                   "compute s3 when every 3 else warp(flow=dis_ultrafast)\n")
    frames = 9
    calls: list[int] = []
    real = warp.compose
    monkeypatch.setattr(warp, "compose", lambda step, total: (
        calls.__setitem__(-1, calls[-1] + (total is not None)), real(step, total))[1])
    executor = Executor(prog, build_network("tiny"), "cpu", concurrency="sequential")
    for rgb in demo_clip(frames).frames:
        calls.append(0)
        executor.step(frame_tensor(rgb))
    executor.close()
    monkeypatch.undo()
    costs = schedule_costs(prog, load_device("titanx"), SIZE)
    counting = replace(costs, overlaps_host=False, frame_overhead_ms=0.0, fuse_ms=0.0,
                       compose_ms=1.0,
                       stage_ms=dict.fromkeys(costs.stage_ms, 0.0),
                       flow_ms=dict.fromkeys(costs.flow_ms, 0.0),
                       warp_ms=dict.fromkeys(costs.warp_ms, 0.0))
    priced = [p.latency_ms for p in frame_prices(Planner(prog), counting, frames)]
    assert priced == calls and sum(calls) > 0
    assert [p.latency_ms for p in simulate(Planner(prog), counting, frames,
                                           timeline=frames).timeline] == calls


# -- measured profiles ----------------------------------------------------------------------
def test_profile_times_flows_warps_and_learned_clocks(profile_path, tmp_path):
    data = json.loads(profile_path.read_text())
    t = data["timings"]
    assert set(t["flows"]) == set(FLOW_METHODS)
    layers, heads = data["layers"], list(data["heads"])
    assert set(t["warps"]) == {"compose", "features:image"} | {f"features:{n}" for n in layers} \
        | {f"head:{h}" for h in heads}
    assert set(t["predicted"]) == set(heads)
    assert all(p["signals"] == list(SIGNALS) for p in t["predicted"].values())
    for group in ("flows", "warps", "predicted"):
        assert all(s["median_ms"] > 0 for s in t[group].values())
    # the simulator uses them
    model = load_device(str(profile_path))
    prog = load(SCHEDULES / "skipframe_warp.cw", network="tiny")
    costs = schedule_costs(prog, model, SIZE)
    w = {k: v["median_ms"] for k, v in t["warps"].items()}
    assert costs.flow_ms == {"dis": t["flows"]["dis"]["median_ms"]}
    assert costs.warp_ms["s1"] == pytest.approx(w["features:pool3"] + w["head:score_pool3"])
    assert costs.warp_ms["s3"] == pytest.approx(w["head:score_fr"])
    assert costs.compose_ms == w["compose"]
    # a learned clock reading every signal takes its timing; one reading fewer, its share
    measures = {k: v["median_ms"] for k, v in t["measures"].items()}
    timed = t["predicted"]["score_pool4"]["median_ms"]
    every = 2 * measures["labeldiff:score_pool4"] + 2 * measures["pixeldiff"]
    for signals, parts in ((tuple(SIGNALS), every),
                           (("labeldiff_fired", "frames_since_fired"),
                            measures["labeldiff:score_pool4"]),
                           (("pixeldiff_previous",),
                            measures["labeldiff:score_pool4"] + measures["pixeldiff"])):
        prog = learned_program(clock_model(tmp_path, signals))
        costs = schedule_costs(prog, model, SIZE)
        assert list(costs.measure_ms.values()) == [pytest.approx(timed * parts / every)]


def learned_program(model_path: Path):
    return program(f'clock moved = predicted(s2, model="{model_path}") >= 0.5\n'
                   "compute s1 when 1\ncompute s2 when 1\ncompute s3 when moved\n")


def test_old_profiles_price_plain_schedules_as_before_and_refuse_warps(
        profile_path, old_profile_path, tmp_path):
    new, old = load_device(str(profile_path)), load_device(str(old_profile_path))
    for name in ("skipframe", "adaptive", "pipeline3", "oracle"):
        prog = load(SCHEDULES / f"{name}.cw", network="tiny")
        before = schedule_costs(prog, old, SIZE)
        assert replace(before, source="new") == replace(schedule_costs(prog, new, SIZE),
                                                        source="new")
    for name in ("skipframe_warp", "dff", "accel"):
        with pytest.raises(InputError, match=r"old\.json.*no timing of optical flow 'dis' "
                                             r"\(it was made before warps existed\); profile "
                                             r"again with: cwdsl profile --net tiny --size 64x64"):
            schedule_costs(load(SCHEDULES / f"{name}.cw", network="tiny"), old, SIZE)
    # warp timings missing alone are named too
    data = json.loads(profile_path.read_text())
    del data["timings"]["warps"]
    no_warps = tmp_path / "nowarps.json"
    no_warps.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"no warp timing \(features:pool3, head:score_pool3"):
        schedule_costs(load(SCHEDULES / "skipframe_warp.cw", network="tiny"),
                       load_device(str(no_warps)), SIZE)
    # a learned clock on an old profile: the sum of its parts
    measures = json.loads(old_profile_path.read_text())["timings"]["measures"]
    costs = schedule_costs(learned_program(clock_model(tmp_path)), old, SIZE)
    assert list(costs.measure_ms.values()) == [pytest.approx(
        2 * measures["labeldiff:score_pool4"]["median_ms"]
        + 2 * measures["pixeldiff"]["median_ms"])]


def test_bad_motion_groups_name_path_and_reason(profile_path, tmp_path):
    data = copy.deepcopy(json.loads(profile_path.read_text()))
    data["timings"]["flows"]["dis"] = {"median_ms": "fast"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"bad\.json.*'timings\.flows\.dis\.median_ms'"):
        load_device(str(bad))


# -- the command -------------------------------------------------------------------------------
def test_cli_simulates_warp_and_learned_clock_schedules(capsys, tmp_path, profile_path):
    learned = tmp_path / "learned.cw"
    model = clock_model(tmp_path, network="fcn8s")
    learned.write_text((SCHEDULES / "adaptive.cw").read_text().replace(
        "labeldiff(s2, since=fired) >= 0.03", f'predicted(s2, model="{model}") >= 0.5'))
    plot = tmp_path / "timeline.png"
    assert main(["simulate", str(SCHEDULES / "skipframe_warp.cw"), str(SCHEDULES / "dff.cw"),
                 str(learned), "--size", "180x240", "--device", "h100", "--fire-rate", "0.2",
                 "--frames", "200", "--json", "--plot", str(plot), "--plot-frames", "12"]) == 0
    out = capsys.readouterr().out
    rows = {r["schedule"]: r for r in json.loads(out[:out.rindex("]") + 1])}
    assert rows["skipframe_warp"]["computed_pct"] == {"s1": 50.0, "s2": 50.0, "s3": 50.0}
    assert rows["dff"]["all_stages_pct"] == pytest.approx(20.0)
    assert 0 < rows["learned"]["computed_pct"]["s3"] < 100
    assert plot.stat().st_size > 0
    # the table says where the flow's price comes from
    assert main(["simulate", str(SCHEDULES / "dff.cw"), "--device", "h100", "--frames",
                 "20"]) == 0
    assert "DIS runs on the host, priced on the cpu roofline" in capsys.readouterr().out
    # a profile without flow timings: a clear error, exit 2
    data = json.loads(profile_path.read_text())
    del data["timings"]["flows"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    assert main(["simulate", str(SCHEDULES / "skipframe_warp.cw"), "--net", "tiny", "--size",
                 "64x64", "--device", str(old)]) == 2
    assert "profile again with: cwdsl profile --net tiny" in capsys.readouterr().err


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared H200 measurements are not here")
def test_shared_h200_profiles_still_load_and_price_the_paper_schedules():
    profiles = sorted(SHARED.glob("profile-*.json"))
    assert profiles
    for path in profiles:
        device = load_device(str(path))
        hw, dtype = device.input_hw, device.dtype
        for name in ("oracle", "skipframe", "alternating", "exponential", "pipeline3",
                     "adaptive"):
            prog = load(SCHEDULES / f"{name}.cw", network=device.network)
            costs = schedule_costs(prog, device, hw, dtype)
            assert costs.full_ms > 0 and all(v > 0 for v in costs.stage_ms.values())
            row = simulate(Planner(prog), costs, 100,
                           [dict.fromkeys(prog.atom_ids, t % 3 == 0) for t in range(100)]
                           ).summary()
            assert 0 < row.time_pct_of_full <= 100.5
        warp = load(SCHEDULES / "skipframe_warp.cw", network=device.network)
        if "flows" not in device.data["timings"]:
            with pytest.raises(InputError, match="profile again"):
                schedule_costs(warp, device, hw, dtype)
