"""Batching: profiles timed at several batch sizes, their validation, and the capacity
simulator pricing batched ticks (cwdsl.devices.batch_model, cwdsl.sim.batching)."""
import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest

from cwdsl.commands.main import main
from cwdsl.core.errors import InputError
from cwdsl.ir.graph import load
from cwdsl.ir.plan import Planner
from cwdsl.devices.batch_model import batch_frame_costs, batch_ms
from cwdsl.sim.batching import run_batched_capacity, tick_price, tick_table
from cwdsl.sim.capacity import run_capacity
from cwdsl.fitting.load import load_device
from cwdsl.sim.costs import schedule_costs
from cwdsl.devices.profiled import profile_from_dict
from cwdsl.profile.summary import format_profile_summary
from cwdsl.profile.harness import profile_network, run_profile
from cwdsl.profile.batch import parse_batches
from cwdsl.sim.simulate import frame_prices, price

ROOT = Path(__file__).resolve().parents[1]
ADAPTIVE = str(ROOT / "schedules" / "adaptive.cw")
ORACLE = str(ROOT / "schedules" / "oracle.cw")


@pytest.fixture(scope="module")
def profile_path(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("batch") / "tiny.json"
    run_profile("tiny", "32x32", "cpu", "float32", out, progress=False, warmup=1, repeats=2,
                threads=1, batches=(1, 2, 4))
    return out


@pytest.fixture(scope="module")
def data(profile_path) -> dict:
    return json.loads(profile_path.read_text())


def test_profile_times_ranges_and_fuse_at_each_batch_size(data, profile_path):
    t = data["timings"]
    assert list(t["batches"]) == ["2", "4"]
    keys = [(r["first"], r["last"], r["heads"]) for r in t["ranges"]]
    for group in t["batches"].values():
        assert [(r["first"], r["last"], r["heads"]) for r in group["ranges"]] == keys
        assert all(r["direct"]["median_ms"] > 0 and len(r["direct"]["samples_ms"]) == 2
                   for r in group["ranges"])
        assert group["fuse"]["median_ms"] > 0
    assert set(data["executor"]) == {"memory_format", "compile", "cuda_graphs"}  # no batches
    assert set(batch_frame_costs(t)) == {1, 2, 4}
    summary = format_profile_summary(data, profile_path)
    assert "per-frame cost by batch size" in summary and " 4: " in summary
    program = load(ADAPTIVE, "tiny")
    costs = schedule_costs(program, load_device(str(profile_path)), (32, 32))
    assert set(costs.stage_batch) == {"s1", "s2", "s3"}
    assert [k for k, _ in costs.stage_batch["s1"]] == [2, 4]


def test_without_batch_the_profile_has_no_batch_group():
    plain = profile_network("tiny", (32, 32), warmup=0, repeats=1, threads=1)
    assert "batches" not in plain["timings"]
    assert "per-frame cost by batch size" not in format_profile_summary(plain, "p.json")


@pytest.mark.parametrize("text, sizes", [(None, (1,)), ("1,2,4", (1, 2, 4)), ("8,2", (1, 2, 8)),
                                         ("4", (1, 4))])
def test_parse_batches(text, sizes):
    assert parse_batches(text) == sizes


@pytest.mark.parametrize("text, message", [("0", "between 1 and"), ("2,x", "separated by commas"),
                                           ("-1", "between 1 and"), ("", "separated by")])
def test_parse_batches_refuses(text, message):
    with pytest.raises(InputError, match=message):
        parse_batches(text)


def test_bad_batch_option_exits_2(tmp_path, capsys):
    code = main(["profile", "--net", "tiny", "--size", "32x32", "--batch", "0",
                 "-o", str(tmp_path / "p.json"), "--quiet"])
    assert code == 2 and "between 1 and" in capsys.readouterr().err


def _broken(data, change):
    bad = copy.deepcopy(data)
    change(bad["timings"])
    return bad


@pytest.mark.parametrize("change, message", [
    (lambda t: t.__setitem__("batches", []), r"'timings.batches' should be an object"),
    (lambda t: t["batches"].__setitem__("two", t["batches"]["2"]),
     r"'timings.batches.two' is not a batch size"),
    (lambda t: t["batches"].__setitem__("0", t["batches"]["2"]),
     r"'timings.batches.0' is not a batch size \(a positive"),
    (lambda t: t["batches"].__setitem__("-2", t["batches"]["2"]),
     r"'timings.batches.-2' is not a batch size \(a positive"),
    (lambda t: t["batches"].__setitem__("1", t["batches"]["2"]), r"repeats batch 1"),
    (lambda t: t["batches"]["2"].pop("fuse"), r"'timings.batches.2.fuse' should be timings"),
    (lambda t: t["batches"]["4"]["ranges"].pop(0), r"'timings.batches.4.ranges' lacks range"),
    (lambda t: t["batches"]["2"]["ranges"][1].__setitem__("first", "conv9"),
     r"'timings.batches.2.ranges\[1\].first/last' name layers"),
    (lambda t: t["batches"]["2"]["ranges"][0]["direct"].__setitem__("median_ms", -1),
     r"'timings.batches.2.ranges\[0\].direct.median_ms' should be a non-negative"),
    (lambda t: t["batches"]["2"].__setitem__("ranges", {}), r"'timings.batches.2.ranges' should"),
])
def test_bad_batch_groups_are_refused_with_path_and_reason(data, change, message):
    with pytest.raises(InputError, match=message) as info:
        profile_from_dict(_broken(data, change), "p.json")
    assert "p.json" in str(info.value)


def test_batch_ms_interpolates_and_extrapolates():
    points = ((2, 15.0), (4, 25.0))
    assert [batch_ms(10.0, points, k) for k in (1, 2, 3, 4, 5, 8)] == \
        [10.0, 15.0, 20.0, 25.0, 30.0, 45.0]
    assert batch_ms(10.0, (), 3) == 30.0  # no batch timings: no gain
    assert batch_ms(10.0, ((2, 12.0), (4, 11.0)), 6) == 11.0  # never a negative slope
    with pytest.raises(ValueError):
        batch_ms(10.0, points, 0)


def _synthetic():
    """Adaptive on tiny with round numbers: stages 4, 2, 3 ms; a batch of 2 costs 1.5
    frames, of 4 2.5 frames; measure 0.25, fuse 1, overhead 0.5 (a CPU: all in turn)."""
    program = load(ADAPTIVE, "tiny")
    planner = Planner(program)
    costs = schedule_costs(program, load_device("cpu"), (32, 32))
    stage = {"s1": 4.0, "s2": 2.0, "s3": 3.0}
    (atom,) = planner.atom_ids
    costs = replace(costs, stage_ms=stage, measure_ms={atom: 0.25}, fuse_ms=1.0,
                    frame_overhead_ms=0.5, overlaps_host=False,
                    stage_batch={s: ((2, 1.5 * p), (4, 2.5 * p)) for s, p in stage.items()})
    return planner, costs, atom


def test_tick_price_by_hand_when_streams_fire_on_different_frames():
    planner, costs, atom = _synthetic()
    fires = [True, False, True]  # stream 1's s3 caches on frame 1
    plans = [planner.plan(1, {atom: f}) for f in fires]
    tick = tick_price(plans, costs, [{"s1": 0, "s2": 0, "s3": 0}] * 3)
    # s1, s2 in 3 streams: half-way from 1.5 to 2.5 frames = 2 frames; s3 in 2: 1.5 frames;
    # per stream overhead 0.5 + measure 0.25 + fuse 1
    assert tick.work_ms == 2 * 4.0 + 2 * 2.0 + 1.5 * 3.0 + 3 * (0.5 + 0.25 + 1.0) == 21.75
    assert sorted(tick.batches) == [(0, "s1", 3), (1, "s2", 3), (2, "s3", 2)]
    apart = sum(price(p, costs, {"s1": 0, "s2": 0, "s3": 0}).work_ms for p in plans)
    assert apart == 3 * (4.0 + 2.0) + 2 * 3.0 + 3 * 1.75 == 29.25  # one executor each


def test_batched_ticks_never_cost_more_than_the_streams_apart():
    planner, costs, atom = _synthetic()
    traces = {i: [{atom: (t * (i + 1)) % 3 == 0} for t in range(40)] for i in range(5)}
    table = tick_table(planner, costs, 5, 40, lambda i, n: traces[i][:n])
    apart = [list(frame_prices(planner, costs, 40, traces[i])) for i in range(5)]
    for t, tick in enumerate(table):
        assert tick.work_ms <= sum(apart[i][t].work_ms for i in range(5)) + 1e-9
    fired = {k for tick in table for (_, s, k) in tick.batches if s == "s3"}
    assert len(fired) > 1  # streams fired s3 on different frames
    # with no batch timings a batched tick costs what the streams cost apart
    flat = replace(costs, stage_batch={})
    apart = [list(frame_prices(planner, flat, 40, traces[i])) for i in range(5)]
    for t, tick in enumerate(tick_table(planner, flat, 5, 40, lambda i, n: traces[i][:n])):
        assert tick.work_ms == pytest.approx(sum(apart[i][t].work_ms for i in range(5)))


def test_batched_capacity_run_by_hand():
    planner, costs, atom = _synthetic()
    # fixed clocks: the oracle schedule, 4 streams: each tick batches every stage by 4
    program = load(ORACLE, "tiny")
    oracle = Planner(program)
    base = schedule_costs(program, load_device("cpu"), (32, 32))
    stage = dict.fromkeys(base.stage_ms, 2.0)
    base = replace(base, stage_ms=stage, fuse_ms=1.0, frame_overhead_ms=0.5,
                   overlaps_host=False, stage_batch={s: ((4, 5.0),) for s in stage})
    per_tick = 5.0 * len(stage) + 4 * 1.5
    cap = run_batched_capacity(oracle, base, 4, fps=10.0, seconds=1.0)
    assert cap.batched and cap.to_json()["batched"] is True
    assert cap.processed == cap.arrived == 40 and cap.dropped == 0
    assert cap.latency_ms_p50 == cap.latency_ms_p99 == pytest.approx(per_tick)
    assert cap.utilization == pytest.approx(10 * per_tick / 1000.0)
    # ticks longer than the interval: a waiting tick is replaced, every stream's frame lost
    slow = run_batched_capacity(oracle, base, 4, fps=1e3 / (per_tick * 0.6), seconds=1.0)
    assert slow.dropped > 0 and slow.dropped % 4 == 0 and not slow.sustained
    # the unbatched run is unchanged and says nothing of batches
    assert "batched" not in run_capacity(oracle, base, 4, 10.0, 1.0).to_json()


def test_simulate_batched_cli_and_the_default_path_unchanged(profile_path, data, tmp_path,
                                                              capsys):
    plain = tmp_path / "plain.json"
    stripped = copy.deepcopy(data)
    del stripped["timings"]["batches"]
    plain.write_text(json.dumps(stripped))
    args = [ADAPTIVE, "--net", "tiny", "--size", "32x32", "--streams", "3", "--fps", "5",
            "--seconds", "1", "--frames", "50", "--json"]
    outputs = []
    for device in (profile_path, plain):
        assert main(["simulate", *args, "--device", str(device)]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    for row in outputs:
        row[0].pop("source")
    assert outputs[0] == outputs[1]  # batch timings change nothing unless --batched
    assert "batched" not in outputs[0][0]["capacity"]
    assert main(["simulate", *args[:-1], "--device", str(profile_path), "--batched"]) == 0
    out = capsys.readouterr().out
    assert "3 streams batched at 5 fps" in out and "batch timings at sizes 1, 2, 4" in out
    assert main(["simulate", *args[:-1], "--device", "cpu", "--batched"]) == 0
    assert "no batching gain" in capsys.readouterr().out
    assert main(["simulate", ADAPTIVE, "--batched"]) == 2
    assert "--batched prices a capacity run" in capsys.readouterr().err


def test_a_stream_that_skips_a_wave_runs_its_next_in_the_earlier_round():
    """As the executor's lockstep walk does: rounds are each plan's computing waves in turn."""
    from cwdsl.ir.graph import compile_text

    program = compile_text("""network tiny input 32x32
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7 head score_fr
clock moved = labeldiff(s1, since=fired) >= 0.1
compute s1 when 1
compute s2 when moved else cache
compute s3 when 1
output fuse(s1, s2, s3)
""", "<skip>")
    planner = Planner(program)
    (atom,) = planner.atom_ids
    costs = schedule_costs(program, load_device("cpu"), (32, 32))
    plans = [planner.plan(1, {atom: True}), planner.plan(1, {atom: False})]
    tick = tick_price(plans, costs)
    assert sorted(tick.batches) == [(0, "s1", 2), (1, "s2", 1), (1, "s3", 1), (2, "s3", 1)]


def test_sustainable_batched_streams_by_hand():
    from cwdsl.sim.batching import sustainable_batched_streams

    program = load(ORACLE, "tiny")
    base = schedule_costs(program, load_device("cpu"), (32, 32))
    assert len(base.stage_ms) == 3
    # each stage 2 ms, 5 ms on a batch of 4, +1 ms per stream above; per stream 1.5 ms:
    # a tick of n >= 4 streams costs 3 * (5 + n - 4) + 1.5 n = 3 + 4.5 n <= 100 ms: n <= 21
    base = replace(base, stage_ms=dict.fromkeys(base.stage_ms, 2.0), fuse_ms=1.0,
                   frame_overhead_ms=0.5, overlaps_host=False,
                   stage_batch={s: ((2, 3.0), (4, 5.0)) for s in base.stage_ms})
    n, cap = sustainable_batched_streams(Planner(program), base, 10.0, seconds=1.0)
    assert n == 21 and cap.streams == 21 and cap.batched
    assert cap.latency_ms_p99 == pytest.approx(3 + 4.5 * 21)
