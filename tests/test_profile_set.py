"""Profiles of one device predicting sizes and dtypes none of them measured
(:mod:`cwdsl.fitting.profileset`), judged out of sample.

* A known law (every part ``fixed + slope × work``) is recovered exactly at a size no
  profile has; the exact profile wins where one matches.
* The shared H200 profiles, each left out and predicted from the other four, price the
  executor's measured paper schedules within the bounds below — better than a roofline
  calibrated on the same four; the profile at 1024x1024 stays out of reach (cuDNN's fc6).
* Bad input: different devices, networks or thread counts together, a folder without
  profiles, a dtype no profile's class measured: exit 2 naming the file and the reason.
"""
import copy
import json
import statistics
from pathlib import Path

import pytest

from cwdsl.commands.main import main
from cwdsl.cost.network import network_cost
from cwdsl.fitting.calibrate import calibrate
from cwdsl.fitting.load import load_device
from cwdsl.devices.profiled import fuse_key, head_subsets, load_profile, profile_from_dict
from cwdsl.fitting.prediction import Observed, bare_roofline, predict_part
from cwdsl.fitting.profileset import ProfileSet
from cwdsl.devices.named import NAMED
from cwdsl.devices.roofline import Roofline
from h200 import SHARED, replay

PROFILES = sorted(SHARED.glob("profile-*.json"))
needs_shared = pytest.mark.skipif(not PROFILES, reason="no shared H200 measurements here")
FIXED = ("oracle", "alternating", "exponential", "skipframe", "pipeline2", "pipeline3",
         "baseline3")
FIXED_MS, SLOPE = 0.02, 1.7  # the synthetic law: every part 20 µs + 1.7x its roofline work


def _stats(ms: float) -> dict:
    return {"median_ms": ms}


def law_profile(size, dtype: str = "float32", device_name: str = "NVIDIA H200",
                network: str = "tiny", threads: int = 16) -> dict:
    """A profile whose every part is ``FIXED_MS + SLOPE × work`` (work: the bare h200
    roofline), wholes their parts' sums (ratios 1)."""
    bare = bare_roofline(NAMED["h200"])
    cost = network_cost(network, size, dtype)
    law = lambda work: FIXED_MS + SLOPE * work  # noqa: E731
    layers, heads = list(cost.layer_names), dict(cost.head_reads)
    one = {n: law(bare.stage_ms(cost, n, n, ())) for n in layers}
    head_ms = {h: law(bare.ops_ms((cost.heads[h],), dtype)) for h in heads}
    from cwdsl.devices.model import oracle_segments
    segs = oracle_segments(cost)

    def parts(first, last, hs):
        lo, hi = layers.index(first), layers.index(last)
        return sum(one[n] for n in layers[lo:hi + 1]) + sum(head_ms[h] for h in hs)

    return {
        "format": "cwdsl-profile", "version": 2, "network": network, "layers": layers,
        "heads": heads, "input_hw": list(size), "dtype": dtype, "device": "cuda",
        "device_name": device_name, "machine": {"torch_threads": threads},
        "timings": {
            "layers": {n: _stats(ms) for n, ms in one.items()},
            "heads": {h: _stats(ms) for h, ms in head_ms.items()},
            "fuses": {fuse_key(s): _stats(law(bare.fuse_ms(cost, s)))
                      for s in head_subsets(tuple(heads))},
            "measures": {**{f"labeldiff:{h}": _stats(law(bare.measure_ms(cost, h)))
                            for h in heads},
                         "pixeldiff": _stats(law(bare.measure_ms(cost, None)))},
            "frame_overhead": {"median_ms": law(bare.frame_overhead_ms(cost))},
            "in_frame": {"segments": [{"first": f, "last": l, "ratio": 1.0,
                                       "direct_ms": parts(f, l, h),
                                       "in_frame": _stats(parts(f, l, h))}
                                      for f, l, h in segs],
                         "step_all_compute": _stats(sum(parts(*s) for s in segs))},
            "ranges": [{"first": f, "last": l, "heads": list(h), "ratio": 1.0,
                        "sum_ms": parts(f, l, h), "direct": _stats(parts(f, l, h))}
                       for f, l, h in segs],
            "full": {"direct": _stats(sum(parts(*s) for s in segs)),
                     "sum_ms": sum(parts(*s) for s in segs)}}}


def _write(tmp_path, name: str, data: dict) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_a_known_law_is_recovered_at_a_size_no_profile_has(tmp_path):
    paths = [_write(tmp_path, f"p{s}.json", law_profile((s, s))) for s in (64, 96, 160)]
    model = load_device(",".join(map(str, paths)))
    spec_cost = network_cost("tiny", (128, 128))
    from cwdsl.core.netspec import get_network
    model.check(get_network("tiny"), (128, 128), "float32")
    assert "predicted for 128x128 float32 from 3 profiles" in model.source
    truth = profile_from_dict(law_profile((128, 128)), "truth")
    for layer in spec_cost.layer_names:
        assert model.stage_ms(spec_cost, layer, layer, ()) == \
            pytest.approx(truth.stage_ms(spec_cost, layer, layer, ()), rel=1e-6)
    heads = tuple(spec_cost.heads)
    assert model.fuse_ms(spec_cost, heads) == pytest.approx(truth.fuse_ms(spec_cost, heads),
                                                           rel=1e-6)
    assert model.full_ms(spec_cost) == pytest.approx(truth.full_ms(spec_cost), rel=1e-6)
    # the exact profile where one matches, untouched
    model.check(get_network("tiny"), (96, 96), "float32")
    assert model.source == f"profile:{paths[1]}"


def test_a_fixed_cost_alone_is_not_a_slope():
    """With one work, a fixed cost cannot be told from a slope: the time scales."""
    points = [Observed(2.0, 1.0, 100, "float32")]
    peers = {"float32": "a"}
    assert predict_part(points, 3.0, 300, "float32", peers) == pytest.approx(6.0)


@needs_shared
@pytest.mark.parametrize("held", PROFILES, ids=lambda p: p.stem)
def test_left_out_h200_profile_is_predicted_from_the_others(held):
    """Out of sample. Bounds, from benchmarks/results/predict-h200.json: ±15% for every
    fixed schedule at 256x256 and 500x500 float32; 500x500 float16 within ±22%
    (baseline3, its fuse: 0.57 ms there against 0.26 at float32 and 0.48 at 1024 float16,
    an algorithm choice no other profile shows); at 1024x1024 the schedules computing fc6
    every frame stay > 25% too fast (fc6 runs at 28 TFLOP/s there, 136 at 500x500)."""
    others = ProfileSet([load_profile(p) for p in PROFILES if p != held])
    rows = {r.schedule: r for r in replay(held, others)}
    table = "\n".join(f"{r.schedule:12s} measured {r.measured_ms:6.2f} predicted "
                      f"{r.predicted_ms:6.2f} ({100 * r.error:+.1f}%)" for r in rows.values())
    if "1024x1024" in held.name:
        for name in ("oracle", "pipeline2", "pipeline3"):
            assert rows[name].error < -0.25, table
        return
    bound = 0.22 if "500x500-float16" in held.name else 0.15
    for name in FIXED:
        assert abs(rows[name].error) <= bound, table


@needs_shared
def test_the_profile_set_beats_the_calibrated_roofline_out_of_sample():
    """Mean absolute error over every fixed schedule of every left-out profile."""
    ours, roofline = [], []
    for held in PROFILES:
        others = [load_profile(p) for p in PROFILES if p != held]
        fitted = Roofline(calibrate(others, NAMED["h200"]).spec)
        ours += [abs(r.error) for r in replay(held, ProfileSet(others)) if r.schedule in FIXED]
        roofline += [abs(r.error) for r in replay(held, fitted) if r.schedule in FIXED]
    assert statistics.mean(ours) < 0.8 * statistics.mean(roofline), (ours, roofline)


@needs_shared
@pytest.mark.parametrize("held", PROFILES, ids=lambda p: p.stem)
def test_simulated_ranking_of_the_paper_schedules(held):
    """Kendall's τ between the exact profile's prices and the measured times: at least
    0.8 for every profile (0.84 at 256x256 float32, where adaptive, oracle and the
    pipelines lie within 4% of each other)."""
    from scipy.stats import kendalltau

    rows = replay(held, load_device(str(held)))
    tau = kendalltau([r.predicted_ms for r in rows], [r.measured_ms for r in rows]).statistic
    assert tau >= 0.8, [(r.schedule, r.measured_ms, r.predicted_ms) for r in rows]


# -- bad input -----------------------------------------------------------------------------
def _simulate(capsys, device: str, *extra) -> tuple[int, str]:
    code = main(["simulate", "schedules/oracle.cw", "--net", "tiny", "--size", "128x128",
                 "--device", device, *extra])
    return code, capsys.readouterr().err


def test_bad_profile_sets_exit_2_naming_the_file(tmp_path, capsys):
    good = _write(tmp_path, "a.json", law_profile((64, 64)))
    other_gpu = _write(tmp_path, "b.json", law_profile((96, 96), device_name="NVIDIA A100"))
    other_net = _write(tmp_path, "c.json", law_profile((96, 96), network="fcn8s"))
    threads = _write(tmp_path, "d.json", law_profile((96, 96), threads=4))
    junk = _write(tmp_path, "e.json", {"format": "something else"})
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "run.json").write_text("{}")
    cases = [(f"{good},{other_gpu}", f"{other_gpu}: error: a profile of NVIDIA A100"),
             (f"{good},{other_net}", f"{other_net}: error: a profile of network fcn8s"),
             (f"{good},{threads}", f"{threads}: error: timed with 4 torch threads"),
             (f"{good},{junk}", f"{junk}: error: not a cwdsl profile"),
             (f"{good},{tmp_path / 'missing.json'}", "no such profile file"),
             (str(empty), f"{empty}: error: a folder with no cwdsl profile"),
             (f"{good},", "an empty name between commas")]
    for device, reason in cases:
        code, err = _simulate(capsys, device)
        assert code == 2 and reason in err and "Traceback" not in err, (device, err)


def test_a_dtype_no_profile_measured_is_refused(tmp_path, capsys):
    paths = [_write(tmp_path, f"p{s}.json", law_profile((s, s))) for s in (64, 96)]
    code, err = _simulate(capsys, ",".join(map(str, paths)), "--dtype", "float16")
    assert code == 2 and "cannot predict float16" in err and "measured only float32" in err
    cpu = copy.deepcopy(law_profile((64, 64)))
    cpu["device"], cpu["device_name"] = "cpu", "AMD EPYC"
    cpu2 = copy.deepcopy(law_profile((96, 96)))
    cpu2["device"], cpu2["device_name"] = "cpu", "AMD EPYC"
    paths = [_write(tmp_path, "c1.json", cpu), _write(tmp_path, "c2.json", cpu2)]
    code, err = _simulate(capsys, ",".join(map(str, paths)), "--dtype", "bfloat16")
    assert code == 2 and "cannot predict bfloat16 on cpu" in err


def test_a_folder_takes_its_profiles_and_passes_over_other_json(tmp_path, capsys):
    for s in (64, 96, 160):
        _write(tmp_path, f"p{s}.json", law_profile((s, s)))
    (tmp_path / "executor-run.json").write_text(json.dumps({"frames": 3}))
    code = main(["simulate", "schedules/oracle.cw", "--net", "tiny", "--size", "128x128",
                 "--device", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "predicted for 128x128 float32 from 3 profiles" in out


def test_one_profile_of_another_size_says_how_to_predict(tmp_path, capsys):
    path = _write(tmp_path, "a.json", law_profile((64, 64)))
    code, err = _simulate(capsys, str(path))
    assert code == 2 and "--device A.json,B.json" in err


def test_measure_host_time_comes_from_the_measured_launch_cost():
    """A version-3 GPU profile's measurement issue time: its launches at the host's
    measured cost per launch over the timed ranges (a key nothing wrote was read as 0)."""
    data = law_profile((64, 64))
    cost = network_cost("tiny", (64, 64))
    ranges = data["timings"]["ranges"]
    data["version"] = 3
    data["timings"]["host"] = {"fuse": _stats(0.05), "sync": _stats(0.01),
                               "ranges": [{"first": r["first"], "last": r["last"],
                                           "heads": r["heads"], "host": _stats(0.3)}
                                          for r in ranges]}
    profile = profile_from_dict(data, "v3.json")
    launches = sum(1 for r in ranges for op in cost.stage_ops(r["first"], r["last"], r["heads"])
                   for k in op.kernels if not (k.host or k.syncs))
    per_launch = 0.3 * len(ranges) / launches
    head = next(iter(cost.heads))
    measure = sum(1 for k in cost.measure_op(head).kernels if not (k.host or k.syncs))
    assert profile.measure_host_ms(cost, head) == pytest.approx(measure * per_launch)
    assert profile.measure_host_ms(cost, head) > 0
