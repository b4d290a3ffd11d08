"""Labeled folders, the translated-crop protocol, eval and sweep."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cwdsl import load
from cwdsl.commands.main import main
from cwdsl.evaluate.datasets import open_labeled_folder
from cwdsl.train.augment import random_crops
from cwdsl.core.errors import InputError
from cwdsl.evaluate.evaluation import evaluate_schedules
from cwdsl.core.metrics import IGNORE, confusion, mean_iu
from cwdsl.demo.clip import DEMO
from cwdsl.nets import build_network
from cwdsl.nets.bundled import bundled_weights
from cwdsl.nets.preprocess import frame_tensor, normalize
from cwdsl.evaluate.protocol import CROP_FRAMES, load_eval_data, translated_crops
from cwdsl.evaluate.sweep import parse_range, sweep_programs, with_theta
from cwdsl.nets.weights import load_weights
from folders import make_folder

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = ROOT / "schedules"


def test_translated_crops_slide_along_the_long_side():
    image = np.arange(100 * 200 * 3, dtype=np.int64).reshape(100, 200, 3).astype(np.uint8)
    label = (np.arange(200)[None, :] // 10 % 5).repeat(100, 0).astype(np.uint8)
    clip = translated_crops(image, label, 16, first_scored=0)
    assert len(clip.frames) == CROP_FRAMES == 6
    for i, (frame, lab) in enumerate(zip(clip.frames, clip.labels)):
        assert frame.shape == (100, 200 - 5 * 16, 3) and lab.shape == (100, 120)
        assert (frame == image[:, 16 * i:16 * i + 120]).all()
        assert (lab == label[:, 16 * i:16 * i + 120]).all()
    portrait = translated_crops(image.transpose(1, 0, 2), label.T, 32, first_scored=0)
    assert portrait.frames[1].shape == (200 - 5 * 32, 100, 3)
    assert (portrait.labels[2] == label.T[64:64 + 40]).all()
    with pytest.raises(InputError, match="too small to slide 6 frames by 32 px"):
        translated_crops(image[:, :150], label[:, :150], 32)


def test_generated_shift_protocols():
    data = load_eval_data("shift32", 6, scenes=3)
    assert len(data.clips) == 3 and data.frames == 18 and data.scored == 12  # frames 2-5
    first = data.clips[0]
    assert all(f.shape == (128, 128, 3) for f in first.frames)
    # consecutive frames are the same scene moved by 32 px
    assert (first.frames[1][:, :-32] == first.frames[0][:, 32:]).all()
    with pytest.raises(InputError, match="16 or 32"):
        load_eval_data("shift8", 6)


def test_labeled_folder_pairs_void_and_errors(tmp_path):
    folder = open_labeled_folder(make_folder(tmp_path / "d", 3, void=11), void=11)
    assert len(folder) == 3 and [p.name for p in folder.images] == ["f0.png", "f1.png", "f2.png"]
    image, label = folder.pair(0, 3)
    assert image.shape == (40, 120, 3) and (label[0] == IGNORE).all() and label[1:].max() < 3
    with pytest.raises(InputError, match=r"label value 11 is outside .* give --void"):
        open_labeled_folder(tmp_path / "d").label(0, 3)
    with pytest.raises(InputError, match="no label for 1 image"):
        open_labeled_folder(make_folder(tmp_path / "e", 2, skip=(1,)))
    with pytest.raises(InputError, match="labels/ is missing"):
        (tmp_path / "f" / "images").mkdir(parents=True)
        open_labeled_folder(tmp_path / "f")
    with pytest.raises(InputError, match="no such folder"):
        open_labeled_folder(tmp_path / "nowhere")
    frames, labels = next(random_crops(list(folder.pairs(3)), 4, (32, 64), 0))
    assert frames.shape == (4, 32, 64, 3) and labels.shape == (4, 32, 64)


def test_folder_protocols_and_sparse_sequences(tmp_path):
    make_folder(tmp_path / "d", 2, classes=6)
    data = load_eval_data(f"shift16:{tmp_path / 'd'}", 6)
    assert len(data.clips) == 2 and all(len(c.frames) == 6 for c in data.clips)
    assert data.clips[0].frames[0].shape == (40, 40, 3)
    make_folder(tmp_path / "seq", 5, classes=6, skip=(1, 3))
    seq = load_eval_data(str(tmp_path / "seq"), 6)
    assert seq.frames == 5 and seq.scored == 3
    assert [lab is None for lab in seq.clips[0].labels] == [False, True, False, True, False]
    with pytest.raises(InputError, match="not demo, shift16"):
        load_eval_data(str(tmp_path / "missing"), 6)


def test_eval_of_the_oracle_equals_the_networks_own_score():
    data = load_eval_data("shift16", 6, scenes=2)
    program = load(SCHEDULES / "oracle.cw", "tiny")
    row = evaluate_schedules(data, str(bundled_weights(DEMO.network)), [program], progress=False)[0]
    net = build_network("tiny")
    load_weights(net, bundled_weights(DEMO.network))
    net.eval()
    n = np.zeros((6, 6), np.int64)
    with torch.inference_mode():
        for clip in data.clips:
            for rgb, truth in zip(clip.frames[2:], clip.labels[2:]):
                pred = net(normalize(frame_tensor(rgb), net.spec.norm))[0].argmax(0).numpy()
                n += confusion(pred, truth, 6)
    assert row.mean_iu == pytest.approx(100 * mean_iu(n), abs=1e-9)
    assert row.time_pct_of_full == pytest.approx(100)
    assert row.all_stages_pct == 100 and row.scored_frames == 8


@pytest.mark.slow
def test_sweep_thresholds_and_monotone_firing():
    assert parse_range("0:0.5:0.25") == (0.0, 0.25, 0.5)
    assert parse_range("0.1,0.3") == (0.1, 0.3)
    for bad in ("0:1:0", "a:b", "0.5,2"):
        with pytest.raises(InputError):
            parse_range(bad)
    programs, oracle = sweep_programs(SCHEDULES / "adaptive.cw", (0.05, 0.15, 0.3, 0.6), "tiny")
    assert [p.network.name for p in programs] == ["tiny"] * 4
    assert oracle.atom_ids == () and programs[1].atom_ids == ("labeldiff(s2, since=fired) >= 0.15",)
    data = load_eval_data("demo", 6)
    rows = evaluate_schedules(data, str(bundled_weights(DEMO.network)), programs, progress=False)
    fired = [r.all_stages_pct for r in rows]
    assert fired == sorted(fired, reverse=True) and fired[0] > fired[-1]
    with pytest.raises(InputError, match="no labeldiff or pixeldiff threshold"):
        sweep_programs(SCHEDULES / "exponential.cw", (0.1,), None)


def test_with_theta_changes_only_thresholds():
    from cwdsl.lang.parser import parse_file
    from cwdsl.lang.printer import print_schedule
    schedule = parse_file(SCHEDULES / "adaptive.cw")
    text = print_schedule(with_theta(schedule, 0.4))
    assert ">= 0.4" in text and ">= 0.03" not in text
    assert text.replace(">= 0.4", ">= 0.03") == print_schedule(schedule)


def test_eval_and_sweep_commands(tmp_path, capsys):
    assert main(["eval", str(SCHEDULES / "oracle.cw"), str(SCHEDULES / "skipframe.cw"),
                 "--data", "shift32", "--scenes", "2", "--json", "--quiet"]) == 0
    record = json.loads(capsys.readouterr().out)
    rows = {r["schedule"]: r for r in record["rows"]}
    assert record["network"] == "tiny" and set(rows) == {"oracle", "skipframe"}
    assert rows["skipframe"]["time_pct_of_full"] < 100
    for key in ("mean_iu", "fw_iu", "mean_iu_bdry", "fw_iu_bdry"):
        assert 0 <= rows["oracle"][key] <= 100
    out = tmp_path / "fig" / "sweep.png"
    assert main(["sweep", str(SCHEDULES / "adaptive.cw"), "--theta", "0.1,0.5", "--data",
                 "shift16", "--scenes", "2", "-o", str(out), "--quiet"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    table = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert [r["theta"] for r in table] == ["0.1", "0.5"]
    assert "frame oracle" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["eval", "schedules/oracle.cw", "--data", "nowhere/", "--net", "tiny"], "not demo, shift16"),
    (["eval", "schedules/oracle.cw", "--data", "shift8"], "16 or 32"),
    (["eval", "schedules/oracle.cw", "--data", "demo", "--net", "fcn8s"], "needs --weights"),
    (["sweep", "schedules/oracle.cw", "-o", "x.png"], "no labeldiff or pixeldiff"),
    (["sweep", "schedules/adaptive.cw", "-o", "x.txt"], "must be .png, .svg or .pdf"),
    (["sweep", "schedules/adaptive.cw", "--theta", "0:2:1", "-o", "x.png"], "in [0, 1]"),
    (["layers", "--data", "tests"], "--data tests: give --net"),
    (["layers", "--plot", "x.txt"], "x.txt: the plot must be .png, .svg or .pdf"),
])
def test_eval_and_sweep_bad_input_exit_2(args, message, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not Path("x.png").exists()


def test_layer_stats_agree_with_eval_and_ordering(capsys, tmp_path):
    from cwdsl.evaluate.layers import layer_stats, layer_table
    from cwdsl.evaluate.evaluation import prepare_network
    from cwdsl.core.netspec import get_network

    data = load_eval_data("shift16", 6, scenes=2)
    net = prepare_network(get_network("tiny"), str(bundled_weights(DEMO.network)))
    stats = layer_stats(net, data)
    rows = layer_table(net, stats)
    assert [r.output for r in rows] == [None, "s1", "s1+s2", "full"]
    assert all(0 <= r.mean <= 1 for r in rows)
    assert all(len(c["score_fr"]) == 5 for c in stats.changes.values())  # 6 frames → 5 pairs
    oracle = evaluate_schedules(data, str(bundled_weights(DEMO.network)),
                                [load(SCHEDULES / "oracle.cw", "tiny")], progress=False)[0]
    assert stats.truncated_miu["full"] == pytest.approx(oracle.mean_iu, abs=1e-9)
    # the temporal difference compares whole score maps (the authors' notebook), by hand:
    clip = data.clips[0]
    with torch.no_grad():
        maps = []
        for rgb in clip.frames[:2]:
            x = normalize(frame_tensor(rgb), net.spec.norm)
            maps.append(net.run_stage(x, "conv1_1", "pool4", ["score_pool4"])[1][
                "score_pool4"][0].argmax(0).numpy())
    key = clip.name or "clip0"
    assert stats.changes[key]["score_pool4"][0] == np.mean(maps[0] != maps[1])
    plot = tmp_path / "fig2.png"
    assert main(["layers", "--data", "shift32", "--scenes", "1", "--plot", str(plot),
                 "--quiet"]) == 0
    assert "score_pool4 (reads pool4)" in capsys.readouterr().out
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_eval_timeline(tmp_path, capsys):
    plot = tmp_path / "fig7.png"
    assert main(["eval", str(SCHEDULES / "adaptive.cw"), str(SCHEDULES / "oracle.cw"),
                 "--data", "shift16", "--scenes", "1", "--timeline", str(plot), "--json",
                 "--quiet"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows[1]["first_clip_all_stages"] == [True] * 6
    assert rows[0]["first_clip_all_stages"][0] is True
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert main(["eval", str(SCHEDULES / "oracle.cw"), "--timeline", str(tmp_path / "t.txt")]) == 2


CAMVID = ROOT.parent / "shared" / "data" / "camvid-half"


@pytest.mark.slow
@pytest.mark.skipif(not (CAMVID / "val").is_dir(), reason="needs ../shared/data/camvid-half")
def test_bundled_camvid_network_scores_what_its_training_report_says():
    """The oracle schedule over the 15 Hz validation sequence is the per-frame network, so
    eval's mean IU must equal the held-out mean IU that training reported."""
    weights = bundled_weights("fcn8s_camvid")
    report = json.loads(weights.with_suffix(".json").read_text())
    data = load_eval_data(str(CAMVID / "val"), 11, void=11)
    assert data.frames == data.scored == 101
    row = evaluate_schedules(data, str(weights), [load(SCHEDULES / "oracle.cw", "fcn8s_camvid")],
                             progress=False)[0]
    assert row.mean_iu == pytest.approx(100 * report["val_mean_iu"]["full"], abs=1e-6)
    assert row.mean_iu > 45
