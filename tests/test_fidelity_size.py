"""``--size HxW`` of eval, sweep and layers: the network runs on frames resized (bilinear)
to that size, its scores are resized back (bilinear) to the labels' size before the
argmax, and the time column prices the size the network ran at."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cwdsl import load
from cwdsl.commands.main import main
from cwdsl.core.metrics import confusion, mean_iu
from cwdsl.demo.clip import DEMO
from cwdsl.evaluate import evaluation
from cwdsl.evaluate.evaluation import evaluate_schedules
from cwdsl.evaluate.protocol import load_eval_data
from cwdsl.nets import build_network
from cwdsl.nets.bundled import bundled_weights
from cwdsl.nets.weights import load_weights

SCHEDULES = Path(__file__).resolve().parents[1] / "schedules"
WEIGHTS = str(bundled_weights(DEMO.network))


def eval_json(capsys, *extra):
    assert main(["eval", str(SCHEDULES / "oracle.cw"), str(SCHEDULES / "pipeline3.cw"),
                 "--data", "shift16", "--scenes", "1", "--json", "--quiet", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_native_size_changes_nothing(capsys):
    native = eval_json(capsys)
    same = eval_json(capsys, "--size", "128x128")   # the generated crops' own size
    assert native["size"] is None and same["size"] == [128, 128]
    assert native["rows"] == same["rows"]


def test_the_network_runs_at_the_size_and_is_scored_at_the_labels(monkeypatch):
    """Against the network run by hand: frames bilinear to 96x112 (what PIL's bilinear
    resize does, antialiased when shrinking), scores bilinear back to 128x128."""
    data = load_eval_data("shift16", 6, scenes=1)
    priced = []
    real_costs = evaluation.schedule_costs
    monkeypatch.setattr(evaluation, "schedule_costs",
                        lambda program, model, hw: priced.append(hw) or
                        real_costs(program, model, hw))
    row = evaluate_schedules(data, WEIGHTS, [load(SCHEDULES / "oracle.cw", "tiny")],
                             progress=False, size=(96, 112))[0]
    assert priced == [(96, 112)]
    net = build_network("tiny")
    load_weights(net, WEIGHTS)
    net.eval()
    n = np.zeros((6, 6), np.int64)
    norm = net.spec.norm
    mean = torch.tensor(norm.mean).view(1, 3, 1, 1)
    std = torch.tensor(norm.std).view(1, 3, 1, 1)
    with torch.inference_mode():
        for rgb, truth in zip(data.clips[0].frames[2:], data.clips[0].labels[2:]):
            x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
            x = F.interpolate(x, size=(96, 112), mode="bilinear", align_corners=False,
                              antialias=True)
            scores = net((x * norm.scale - mean) / std)
            scores = F.interpolate(scores, size=truth.shape, mode="bilinear",
                                   align_corners=False)
            n += confusion(scores[0].argmax(0).numpy(), truth, 6)
    assert row.mean_iu == pytest.approx(100 * mean_iu(n), abs=1e-9)
    native = evaluate_schedules(data, WEIGHTS, [load(SCHEDULES / "oracle.cw", "tiny")],
                                progress=False)[0]
    assert abs(native.mean_iu - row.mean_iu) > 1e-3   # the size made a difference


def test_time_is_priced_at_the_size(capsys):
    """A pipeline's time % depends on where the stages' costs fall; at a size far from the
    frames' own it must be the simulator's figure for that size."""
    from cwdsl.ir.plan import Planner
    from cwdsl.fitting.load import load_device
    from cwdsl.sim.costs import schedule_costs
    from cwdsl.sim.simulate import price

    record = eval_json(capsys, "--size", "480x480")
    program = load(SCHEDULES / "pipeline3.cw", "tiny")
    costs = schedule_costs(program, load_device("titanx"), (480, 480))
    planner = Planner(program)
    expected = np.mean([price(planner.plan(t), costs).latency_ms for t in range(1, 6)]) \
        / costs.oracle_ms
    assert record["rows"][1]["time_pct_of_full"] == pytest.approx(100 * expected)


def test_layers_truncated_full_output_agrees_with_eval_at_a_size():
    from cwdsl.core.netspec import get_network
    from cwdsl.evaluate.evaluation import prepare_network
    from cwdsl.evaluate.layers import layer_stats

    data = load_eval_data("shift32", 6, scenes=1)
    net = prepare_network(get_network("tiny"), WEIGHTS)
    stats = layer_stats(net, data, size=(80, 96))
    row = evaluate_schedules(data, WEIGHTS, [load(SCHEDULES / "oracle.cw", "tiny")],
                             progress=False, size=(80, 96))[0]
    assert stats.truncated_miu["full"] == pytest.approx(row.mean_iu, abs=1e-9)


@pytest.mark.parametrize("command", [["eval", "schedules/oracle.cw"],
                                     ["sweep", "schedules/adaptive.cw", "-o", "x.png"],
                                     ["layers"]])
@pytest.mark.parametrize("size, message", [
    ("abc", "argument --size: size 'abc' is not HEIGHTxWIDTH, e.g. 500x500"),
    ("0x64", "argument --size: size must be positive, got 0x64"),
    ("9000x64", "argument --size: size 9000x64 is too large (at most 8192 a side)"),
])
def test_a_bad_size_is_exit_2_before_any_work(command, size, message, capsys, monkeypatch):
    monkeypatch.chdir(SCHEDULES.parent)
    with pytest.raises(SystemExit) as info:
        main([*command, "--size", size])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not Path("x.png").exists()
