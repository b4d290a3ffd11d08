"""Roofline device models, spec files, and schedule costs."""
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cwdsl.cost.kernels import Cost
from cwdsl.cost.network import network_cost
from cwdsl.fitting.load import load_device
from cwdsl.sim.costs import schedule_costs
from cwdsl.devices.named import NAMED
from cwdsl.devices.spec import DeviceSpec, load_spec, spec_to_dict
from cwdsl.devices.roofline import Roofline
from cwdsl.core.errors import InputError
from cwdsl.ir.graph import load

SCHEDULES = sorted(Path(__file__).parent.parent.joinpath("schedules").glob("*.cw"))
SPEC = DeviceSpec("test", {"float32": 10.0}, bandwidth_gbs=100.0, launch_us=5.0, sync_us=7.0,
                  frame_us=30.0)


def test_named_devices():
    assert set(NAMED) == {"h100", "h200", "a100", "titanx", "cpu"}
    for name, spec in NAMED.items():
        model = load_device(name)
        assert isinstance(model, Roofline) and model.source == f"roofline:{name}"
        assert spec.bandwidth_gbs > 0 and spec.notes
        assert spec.peak_flops("float32") > 0
    h100, h200 = NAMED["h100"], NAMED["h200"]
    assert h200.bandwidth_gbs > h100.bandwidth_gbs
    assert h100.peak_tflops["float16"] == 2 * h100.peak_tflops["float32"]  # TF32 vs FP16
    with pytest.raises(InputError, match="titanx has no peak for bfloat16"):
        NAMED["titanx"].peak_flops("bfloat16")


flops = st.integers(0, 10**13)
nbytes = st.integers(0, 10**11)
kernels = st.integers(0, 1000)


@given(flops, flops, nbytes, nbytes, kernels)
def test_roofline_is_monotonic(f1, f2, b1, b2, k):
    model = Roofline(SPEC)
    lo = model.cost_ms(Cost(flops=min(f1, f2), bytes=min(b1, b2), kernels=k), "float32")
    hi = model.cost_ms(Cost(flops=max(f1, f2), bytes=max(b1, b2), kernels=k), "float32")
    assert lo <= hi
    more = model.cost_ms(Cost(flops=f1, bytes=b1, kernels=k + 1), "float32")
    assert more == pytest.approx(model.cost_ms(Cost(flops=f1, bytes=b1, kernels=k),
                                               "float32") + SPEC.launch_us / 1e3)


@given(flops, nbytes, kernels, st.integers(0, 3))
def test_roofline_is_the_max_plus_overheads(f, b, k, syncs):
    t = Roofline(SPEC).cost_ms(Cost(flops=f, bytes=b, kernels=k, syncs=syncs), "float32")
    busy = max(f / 10e12, b / 100e9) * 1e3
    assert t == pytest.approx(busy + (k * 5.0 + syncs * 7.0) / 1e3)


def test_per_kernel_sum_is_at_least_the_aggregate():
    cost = network_cost("fcn8s", (500, 500))
    for name in NAMED:
        model = Roofline(NAMED[name])
        ops = cost.full_ops()
        assert model.ops_ms(ops, "float32") >= model.cost_ms(cost.full(), "float32") * (1 - 1e-9)


def test_schedule_costs_on_every_shipped_schedule():
    full = {}
    for path in SCHEDULES:
        program = load(path)
        paper = program.network.name == "fcn8s"  # learned.cw: its clock model's fcn8s_camvid
        for name in ("h100", "titanx"):
            costs = schedule_costs(program, load_device(name))
            assert costs.network == program.network.name
            assert costs.input_hw == ((500, 500) if paper else program.input_size)
            assert set(costs.stage_ms) == set(program.stages)
            assert set(costs.measure_ms) == set(program.atom_ids)
            assert all(v > 0 for v in (*costs.stage_ms.values(), *costs.measure_ms.values(),
                                       costs.fuse_ms, costs.frame_overhead_ms, costs.full_ms))
            if paper:
                full.setdefault(name, set()).add(costs.full_ms)
            if len(program.stages) == len(program.output_stages) == 3:  # tiles the network
                assert sum(costs.stage_flops.values()) + costs.fuse_flops == costs.full_flops
                assert sum(costs.stage_ms.values()) + costs.fuse_ms == \
                    pytest.approx(costs.full_ms)
    assert all(len(v) == 1 for v in full.values())  # the oracle is the same for all
    # the paper's GPU class: FCN-8s at 500x500 takes tens of milliseconds at its roofline
    assert 30 < full["titanx"].pop() < 100


def test_faster_device_is_faster():
    program = load(SCHEDULES[0])
    times = {n: schedule_costs(program, load_device(n)).full_ms for n in NAMED}
    # h200/h100 are calibrated (measured efficiencies), a100/titanx/cpu bare rooflines:
    # each family is ordered, the calibrated Hopper may be slower than a bare A100
    assert times["h200"] <= times["h100"] < times["titanx"]
    assert times["a100"] < times["titanx"] < times["cpu"]
    half = schedule_costs(program, load_device("h100"), dtype="float16").full_ms
    assert half < times["h100"]


def test_spec_file_round_trip(tmp_path):
    path = tmp_path / "gpu.json"
    path.write_text(json.dumps(spec_to_dict(NAMED["a100"])))
    assert load_spec(path) == NAMED["a100"]
    model = load_device(str(path))
    assert model.source == f"roofline:{path}"
    program = load(SCHEDULES[0])
    assert schedule_costs(program, model).full_ms == \
        schedule_costs(program, load_device("a100")).full_ms


def good_spec() -> dict:
    return spec_to_dict(SPEC)


@pytest.mark.parametrize("change, reason", [
    (lambda d: d.pop("bandwidth_gbs"), "missing field 'bandwidth_gbs'"),
    (lambda d: d.update(bandwidth_gbs=-3), "'bandwidth_gbs' must be positive, got -3"),
    (lambda d: d.update(launch_us="fast"), "'launch_us' must be a number"),
    (lambda d: d.update(sync_us=-1), "'sync_us' must not be negative"),
    (lambda d: d.update(peak_tflops={}), "'peak_tflops' must map dtypes"),
    (lambda d: d.update(peak_tflops={"float23": 1}), "unknown dtype 'float23'; did you mean "
                                                     "'float32'"),
    (lambda d: d.update(peak_tflops={"float32": 0}), "'peak_tflops.float32' must be positive"),
    (lambda d: d.update(bandwith_gbs=3), "unknown field 'bandwith_gbs'; did you mean "
                                         "'bandwidth_gbs'"),
    (lambda d: d.update(name=""), "'name' must be a non-empty string"),
    (lambda d: d.update(host_link_gbs=0), "'host_link_gbs' must be positive"),
    (lambda d: d.update(format="cwdsl-something"), "'format' is 'cwdsl-something'"),
])
def test_spec_file_errors_name_path_and_reason(tmp_path, change, reason):
    data = good_spec()
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    for loader in (load_spec, load_device):
        with pytest.raises(InputError) as e:
            loader(str(path))
        assert str(path) in str(e.value) and reason in str(e.value)


def test_unreadable_files(tmp_path):
    cases = {"broken.json": "{ not json", "list.json": "[1, 2]"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=r"broken.json: error: not valid JSON \(line 1"):
        load_spec(tmp_path / "broken.json")
    with pytest.raises(InputError, match="list.json: error: .* JSON object, not a list"):
        load_device(str(tmp_path / "list.json"))
    with pytest.raises(InputError, match="missing.json: error: no such device spec"):
        load_device(str(tmp_path / "missing.json"))
    with pytest.raises(InputError, match="is a folder"):
        load_spec(tmp_path)


def test_unknown_device_name():
    with pytest.raises(InputError, match="unknown device 'h10'; did you mean 'h100'"):
        load_device("h10")


def test_dtype_without_a_peak_is_refused():
    program = load(SCHEDULES[0])
    with pytest.raises(InputError, match="titanx has no peak for bfloat16"):
        schedule_costs(program, load_device("titanx"), dtype="bfloat16")
