"""cwdsl train-clock: the samples are what the executor measures and what a cache costs, the
fit learns a known relation, the model file loads and records its data, bad input exits 2."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from cwdsl.commands.main import main
from cwdsl.core.clockmodel import SIGNALS, load_clock_model, make_model
from cwdsl.core.errors import InputError
from cwdsl.train.clockfit import FitSettings, Samples, fit_clock, rank_correlation, ranks
from cwdsl.train.clocktrain import clip_samples, clock_split
from cwdsl.evaluate.evaluation import network_frame, prepare_network
from cwdsl.train.motionclips import Motion, motion_clip, open_clip_set
from cwdsl.ir.graph import compile_text
from cwdsl.nets.bundled import resolve_weights
from cwdsl.runtime.executor import Executor

ROOT = Path(__file__).resolve().parents[1]
SIZE = (64, 64)
STAGES = """network tiny input 64x64
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr
compute s1 when 1
compute s2 when 1
output fuse(s1, s2, s3)
"""
LEARNED = STAGES + 'clock stale = predicted(s2, model="m.json") >= {theta}\n' \
                   "compute s3 when stale else cache\n"
LABELDIFF = STAGES + "compute s3 when labeldiff(s2) >= 0.05 else cache\n"


def small_model(path):
    """A fixed clock model for tiny (weights chosen by hand; output in (0, 0.5))."""
    model = make_model("tiny", "score_pool4", SIGNALS, [0.0] * 5, [1.0] * 5,
                       [([[2.0, 0.5, 3.0, 1.0, 0.1], [-1.0, 0.0, 1.0, 0.0, 0.2]],
                         [0.1, -0.2]), ([[-0.7, 0.4]], [-1.0])], {"by": "hand"})
    path.write_text(json.dumps(model.to_json()))
    return load_clock_model(path)


@pytest.fixture(scope="module")
def frames():
    from cwdsl.demo.clip import demo_clip

    clip = demo_clip(40)
    return [network_frame(f, SIZE) for f in clip.frames[::3]]  # 14 frames, visible motion


@pytest.fixture(scope="module")
def net():
    from cwdsl.core.netspec import get_network

    torch.set_num_threads(1)
    return prepare_network(get_network("tiny"), resolve_weights("tiny", None))


def test_samples_are_what_the_executor_measures_and_what_the_cache_costs(tmp_path, frames,
                                                                          net):
    """θ = 1: the atom fires on frame 0 only, so at every t the executor measures the
    signals of the pair (0, t) and its output keeps s3 from frame 0: the sample's target
    is the executor's output against the full network's."""
    model = small_model(tmp_path / "m.json")
    program = compile_text(LEARNED.format(theta=1), str(tmp_path / "learned.cw"))
    split = clock_split(program)
    assert (split.reads, split.head, split.fires, split.fires_heads) == \
        ("s2", "score_pool4", "s3", ("score_fr",))
    samples = clip_samples(net, split, frames, max_gap=len(frames))
    n = len(frames)
    assert list(samples.gap[:n - 1]) == list(range(1, n))  # the pairs (0, t) come first
    rows = {t: (samples.signals[t - 1], samples.target[t - 1]) for t in range(1, n)}
    executor = Executor(program, net, "cpu", concurrency="sequential")
    atom = program.atom_ids[0]
    for t, frame in enumerate(frames):
        result = executor.step(frame)
        assert result.atom_values[atom] == (t == 0)
        if t == 0:
            continue
        signals, target = rows[t]
        assert model.predict(dict(zip(SIGNALS, signals))) == pytest.approx(
            result.differences[atom], abs=1e-12)
        with torch.inference_mode():
            full = net(_normalized(net, frame))
        changed = float((result.labels != full[0].argmax(0)).double().mean())
        assert target == pytest.approx(changed, abs=1e-9)
    executor.close()


def _normalized(net, frame):
    from cwdsl.nets.preprocess import normalize

    return normalize(frame.float(), net.spec.norm)


def test_signals_are_the_definitions(frames, net, tmp_path):
    """Signals by hand: label and pixel differences against k and t-1, frames since k."""
    small_model(tmp_path / "m.json")
    split = clock_split(compile_text(LEARNED.format(theta=0.5), str(tmp_path / "l.cw")))
    samples = clip_samples(net, split, frames[:6], max_gap=3)
    with torch.inference_mode():
        labels = [net.run_stage(_normalized(net, f), "conv1_1", "pool4", ["score_pool4"])[1]
                  ["score_pool4"].argmax(1) for f in frames[:6]]
    pairs = [(k, t) for k in range(5) for t in range(k + 1, min(k + 3, 5) + 1)]
    assert len(samples) == len(pairs) and list(samples.gap) == [t - k for k, t in pairs]
    for row, (k, t) in zip(samples.signals, pairs):
        expect = {"labeldiff_fired": float((labels[t] != labels[k]).double().mean()),
                  "labeldiff_previous": float((labels[t] != labels[t - 1]).double().mean()),
                  "pixeldiff_fired": float((frames[t] - frames[k]).abs().mean()),
                  "pixeldiff_previous": float((frames[t] - frames[t - 1]).abs().mean()),
                  "frames_since_fired": float(t - k)}
        assert dict(zip(SIGNALS, row)) == pytest.approx(expect, abs=1e-6)


@pytest.mark.slow
def test_the_fit_learns_a_monotone_relation():
    rng = np.random.default_rng(1)
    n = 1200
    x = rng.uniform(0, 0.4, (n, len(SIGNALS)))
    x[:, 4] = rng.integers(1, 13, n)
    target = 0.05 + 0.8 * x[:, 2] ** 1.5 + rng.normal(0, 0.005, n).clip(-0.04, 0.04)
    samples = Samples(x, target, np.arange(n) // 50, x[:, 4].astype(int))
    mean, scale, layers, metrics = fit_clock(samples, FitSettings(epochs=2000, seed=3))
    assert metrics["held_out"]["rank_correlation"] > 0.97
    assert metrics["held_out"]["r2"] > 0.9
    assert metrics["held_out_signal_rank_correlation"]["pixeldiff_fired"] > 0.97
    model = make_model("tiny", "score_pool4", SIGNALS, mean, scale, layers, {})
    grid = [model.predict({**dict(zip(SIGNALS, x[0])), "pixeldiff_fired": v})
            for v in np.linspace(0.02, 0.38, 10)]
    assert all(b > a for a, b in zip(grid, grid[1:]))


@pytest.mark.parametrize("hidden", [0, 1, 5, 16])
def test_a_monotone_model_never_predicts_less_when_a_signal_grows(hidden):
    """Whatever the fit (here: barely started, from a random start), the exported plain
    weights keep the promise: raise any one signal and the prediction does not fall."""
    rng = np.random.default_rng(hidden)
    x = rng.uniform(0, 0.3, (200, len(SIGNALS)))
    samples = Samples(x, rng.uniform(0, 0.2, 200), np.arange(200) // 20, np.ones(200, int))
    mean, scale, layers, _ = fit_clock(samples, FitSettings(hidden=hidden, epochs=5, seed=2))
    model = make_model("tiny", "score_pool4", SIGNALS, mean, scale, layers, {})
    if hidden > 1:
        assert any(w < 0 for row in layers[0][0] for w in row)  # concave pieces too
    for point in rng.uniform(0, 0.5, (20, len(SIGNALS))):
        base = dict(zip(SIGNALS, point))
        for name in SIGNALS:
            values = [model.predict({**base, name: v}) for v in np.linspace(0, 40, 30)]
            assert all(b >= a - 1e-12 for a, b in zip(values, values[1:])), name


def test_ranks_and_rank_correlation():
    assert list(ranks(np.array([3.0, 1.0, 3.0, 2.0]))) == [3.5, 1.0, 3.5, 2.0]
    assert rank_correlation(np.arange(5), np.arange(5) ** 3) == pytest.approx(1.0)
    assert rank_correlation(np.ones(5), np.arange(5)) == 0.0


def test_motion_clips_are_seeded_and_move():
    image = (np.random.default_rng(0).random((90, 120, 3)) * 255).astype(np.uint8)
    motion = Motion(frames=5, speed=(6.0, 6.0), still=0.0, noise=0.0)
    a = motion_clip(image, (30, 40), np.random.default_rng(7), motion)
    b = motion_clip(image, (30, 40), np.random.default_rng(7), motion)
    assert len(a) == 5 and a[0].shape == (30, 40, 3) and a[0].dtype == np.uint8
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert all(not np.array_equal(x, y) for x, y in zip(a, a[1:]))
    with pytest.raises(InputError, match="at least 2 frames"):
        Motion(frames=1)


def test_data_specs(tmp_path):
    scenes = open_clip_set("scenes:2", SIZE)
    clips = list(scenes.clips())
    assert scenes.count == len(clips) == 2 and clips[0][1][0].shape == (64, 64, 3)
    with pytest.raises(InputError, match="motion:DIR"):
        open_clip_set(str(tmp_path / "nowhere"), SIZE)


def run(*argv):
    return main(["train-clock", *argv, "--quiet", "--threads", "1"])


def test_command_writes_a_model_that_loads_and_says_what_it_was_trained_on(tmp_path, capsys):
    schedule = tmp_path / "adaptive.cw"
    schedule.write_text(LABELDIFF)
    out = tmp_path / "clock.json"
    assert run(str(schedule), "--reads", "s2", "--data", "scenes:3", "--data", "demo",
               "--stride", "6", "--gap", "4", "--epochs", "100", "-o", str(out)) == 0
    model = load_clock_model(out)
    assert (model.network, model.head, model.signals) == ("tiny", "score_pool4", tuple(SIGNALS))
    record = json.loads(model.trained_on)
    assert [d["spec"] for d in record["data"]] == ["scenes:3", "demo"]
    assert record["clips"] == 4 and record["network"] == "tiny"
    assert record["weights"] == "tiny-demo.pt" and record["size"] == [64, 64]
    assert record["split"]["reads"] == "s2" and record["split"]["fires"] == "s3"
    assert record["gap"] == [1, 4] and record["seed"] == 0 and "date" in record
    assert {"r2", "rank_correlation"} <= set(record["fit"]["held_out"])
    assert "cache" in record["target"] and "cache" in model.target
    assert "held out" in capsys.readouterr().out
    # the model drives a schedule
    learned = tmp_path / "learned.cw"
    learned.write_text(LEARNED.format(theta=0.1).replace("m.json", "clock.json"))
    assert main(["check", str(learned)]) == 0


def test_minutes_bound_the_whole_command_and_the_model_says_what_was_cut(tmp_path, capsys):
    schedule = tmp_path / "adaptive.cw"
    schedule.write_text(LABELDIFF)
    out = tmp_path / "clock.json"
    assert run(str(schedule), "--reads", "s2", "--data", "scenes:200", "--gap", "4",
               "--epochs", "1000000", "--minutes", "0.1", "--threads", "1",
               "-o", str(out)) == 0
    record = json.loads(load_clock_model(out).trained_on)
    budget = record["budget"]
    assert budget["minutes"] == 0.1 and 0 < budget["clips_left_out"] < 200
    assert record["clips"] + budget["clips_left_out"] == 200
    assert 1 <= budget["epochs_run"] < 1_000_000
    assert record["seconds"] <= 6 * 1.2  # sampling stopped at 80%, the fit at the end
    assert "clips left out of sampling" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--data", "demo"], r"adaptive\.cw has no predicted\(\.\.\.\) clock: .*--reads"),
    (["--reads", "s9", "--data", "demo"], "--reads s9: .* no computed stage 's9'"),
    (["--reads", "s2", "--fires", "s1", "--data", "demo"], "must come after"),
    (["--reads", "s2", "--data", "nowhere/at/all"], "--data nowhere/at/all: not demo"),
    (["--reads", "s2", "--data", "motion:nowhere"], "nowhere: no such frames folder"),
    (["--reads", "s2", "--data", "demo", "--signals", "labeldiff_fired,speed"],
     "unknown: speed"),
    (["--reads", "s2", "--data", "demo", "--hold-out", "1.5"], "--hold-out"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message):
    schedule = tmp_path / "adaptive.cw"
    schedule.write_text(LABELDIFF)
    out = tmp_path / "clock.json"
    assert run(str(schedule), *args, "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert not out.exists() and list(tmp_path.iterdir()) == [schedule]


def test_data_with_one_frame_per_clip_writes_nothing(tmp_path, capsys):
    from PIL import Image

    (tmp_path / "frames").mkdir()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "frames" / "a_1.png")
    schedule = tmp_path / "adaptive.cw"
    schedule.write_text(LABELDIFF)
    out = tmp_path / "clock.json"
    assert run(str(schedule), "--reads", "s2", "--data", str(tmp_path / "frames"),
               "-o", str(out)) == 2
    assert "at least two frames" in capsys.readouterr().err
    assert not out.exists()


def test_output_path_is_checked_before_any_work(tmp_path, capsys):
    schedule = tmp_path / "adaptive.cw"
    schedule.write_text(LABELDIFF)
    (tmp_path / "dir").mkdir()
    assert run(str(schedule), "--reads", "s2", "--data", "demo", "-o",
               str(tmp_path / "dir")) == 2
    assert "cannot write clock model: it is a folder" in capsys.readouterr().err


def test_the_bundled_camvid_model_was_fitted_on_training_stills_only():
    from cwdsl.core.clockmodel import resolve_model

    model = load_clock_model(resolve_model("camvid", False, None))
    assert (model.network, model.head) == ("fcn8s_camvid", "score_pool4")
    record = json.loads(model.trained_on)
    assert [d["spec"] for d in record["data"]] == ["motion:../shared/data/camvid-half/train"]
    assert record["split"]["fires"] == "s3" and record["size"] == [180, 240]
    assert record["fit"]["monotone"] and record["fit"]["held_out"]["rank_correlation"] > 0.85
    program = compile_text((ROOT / "schedules" / "learned.cw").read_text(),
                           str(ROOT / "schedules" / "learned.cw"))
    assert program.measures[0].model.to_json() == model.to_json()
