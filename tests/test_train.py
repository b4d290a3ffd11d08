"""Training on generated scenes and on labeled folders: it learns, reports, and fails clearly."""
import json

import numpy as np
import pytest

import torch

from cwdsl.commands.main import main
from cwdsl.core.errors import InputError
from cwdsl.evaluate.datasets import open_labeled_folder
from cwdsl.nets import build_network
from cwdsl.nets.fcn import bilinear_kernel
from cwdsl.train.train import (TrainConfig, _class_weights, freeze_upsamplers,
                                  init_for_training, one_cycle, train)
from cwdsl.nets.weights import load_weights
from folders import make_folder


def test_training_on_scenes_lowers_the_loss_and_reports():
    config = TrainConfig(net="tiny", steps=40, batch=2, size=(64, 64), lr=3e-3, val_clips=1,
                         val_frames=2)
    net, report = train(config, progress=False)
    assert len(report.losses) == 40
    assert np.mean(report.losses[-10:]) < np.mean(report.losses[:10])
    assert set(report.val_mean_iu) == {"full", "s1+s2", "s1"}
    assert all(0 <= v <= 1 for v in report.val_mean_iu.values())


def test_class_weights_by_hand(tmp_path):
    root = tmp_path / "d"
    make_folder(root, 1, size=(4, 4), classes=1)  # every pixel class 0 ...
    from PIL import Image
    label = np.zeros((4, 4), np.uint8)
    label[0, :] = 1          # 4 pixels of class 1, 12 of class 0
    label[1, 0] = 9          # one void pixel
    Image.fromarray(label, mode="L").save(root / "labels" / "f0.png")
    folder = open_labeled_folder(root, void=9)
    w = _class_weights([folder.label(0, 3)], 3).numpy()
    raw = 1 / np.sqrt(np.array([11, 4, 1]) / 15)  # class 2 absent: counted as 1 pixel
    assert w == pytest.approx(raw / raw.mean(), rel=1e-6)


def test_train_command_on_a_labeled_folder(tmp_path, capsys):
    make_folder(tmp_path / "train", 3, size=(48, 64), classes=6, void=11)
    make_folder(tmp_path / "val", 2, size=(48, 64), classes=6, void=11)
    out = tmp_path / "w" / "net.pt"
    assert main(["train", "--net", "tiny", "--data", str(tmp_path / "train"), "--val",
                 str(tmp_path / "val"), "--void", "11", "--steps", "3", "--batch", "2",
                 "--size", "32x48", "-o", str(out), "--quiet"]) == 0
    assert "held-out mean IU, output full" in capsys.readouterr().out
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["config"]["data"] == str(tmp_path / "train") and report["config"]["void"] == 11
    load_weights(build_network("tiny"), out)


@pytest.mark.parametrize("args, message", [
    (["--data", "{d}/train"], "--data needs --val"),
    (["--data", "{d}/nowhere", "--val", "{d}/train"], "no such folder"),
    (["--data", "{d}/train", "--val", "{d}/train"], "give --void"),
    (["--net", "fcn8s_camvid"], "has 11 classes; the demo scenes have 6"),
    (["--lr", "0"], "--lr must be positive"),
    (["--hold-out", "A"], "--hold-out needs --data"),
    (["--data", "{d}/train", "--val", "{d}/train", "--void", "11", "--hold-out", "X"],
     "--hold-out: no sequence 'X' in"),
    (["--data", "{d}/train", "--val", "{d}/train", "--void", "11", "--hold-out", "f0"],
     "leaves nothing to train on"),
    (["--scale", "2:1"], "--scale must be LOW:HIGH"),
    (["--scale", "a:b"], "--scale must be LOW:HIGH"),
    (["--jitter", "1"], "--jitter must be in [0, 1)"),
    (["--minutes", "0"], "--minutes must be positive"),
    (["--minutes", "1"], "give --steps or --minutes, not both"),
])
def test_train_bad_input_exit_2_and_write_nothing(tmp_path, capsys, args, message):
    make_folder(tmp_path / "train", 1, size=(40, 40), classes=6, void=11)
    out = tmp_path / "out" / "w.pt"
    args = [a.format(d=tmp_path) for a in args]
    assert main(["train", *args, "--steps", "2", "-o", str(out), "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".json").exists()


def _sequences(root, names):
    """Rename a make_folder folder's f0, f1, … to the given SEQUENCE_FRAME names."""
    for i, name in enumerate(names):
        for sub in ("images", "labels"):
            (root / sub / f"f{i}.png").rename(root / sub / f"{name}.png")
    return root


def test_split_holds_a_whole_sequence_out(tmp_path):
    root = _sequences(make_folder(tmp_path / "d", 5, size=(8, 8), classes=3),
                      ["A_1", "B_7", "A_2", "B_8", "C_1"])
    folder = open_labeled_folder(root)
    assert folder.sequences() == {"A": 2, "B": 2, "C": 1}
    rest, held = folder.split("B")
    assert [p.stem for p in held.images] == ["B_7", "B_8"]
    assert [p.stem for p in rest.images] == ["A_1", "A_2", "C_1"]
    assert [p.stem for p in rest.labels] == ["A_1", "A_2", "C_1"]
    with pytest.raises(InputError, match=r"--hold-out: no sequence 'D' .* present: A \(2 "
                                         r"frames\), B \(2 frames\), C \(1 frames\)"):
        folder.split("D")
    with pytest.raises(InputError, match="leaves nothing to train on"):
        held.split("B")


def test_upsamplers_stay_bilinear_while_the_rest_learns():
    config = TrainConfig(net="tiny", steps=3, batch=2, size=(48, 48), val_clips=1,
                         val_frames=1)
    torch.manual_seed(config.seed)
    start = build_network("tiny")
    init_for_training(start)
    assert sorted(freeze_upsamplers(start)) == ["upscore2", "upscore8", "upscore_pool4"]
    assert not any(p.requires_grad for n, p in start.named_parameters() if "upscore" in n)
    net, _ = train(config, progress=False)
    before, after = start.state_dict(), net.state_dict()
    for name in ("upscore2", "upscore8", "upscore_pool4"):
        assert torch.equal(after[f"{name}.weight"], before[f"{name}.weight"])
        k = after[f"{name}.weight"].shape[-1]
        assert torch.equal(after[f"{name}.weight"], bilinear_kernel(6, k))
    assert torch.equal(before["conv1_1.weight"], start.state_dict()["conv1_1.weight"])
    for name in ("conv1_1.weight", "fc7.weight", "score_fr.weight", "score_pool3.bias"):
        assert not torch.equal(after[name], before[name]), name


def test_hold_out_chooses_the_best_checkpoint_and_reports_it(tmp_path, capsys):
    names = ["A_1", "A_2", "A_3", "B_1", "B_2"]
    _sequences(make_folder(tmp_path / "train", 5, size=(48, 64), classes=6, void=11), names)
    make_folder(tmp_path / "val", 2, size=(48, 64), classes=6, void=11)
    out = tmp_path / "net.pt"
    assert main(["train", "--net", "tiny", "--data", str(tmp_path / "train"), "--val",
                 str(tmp_path / "val"), "--void", "11", "--hold-out", "B", "--steps", "5",
                 "--eval-every", "2", "--batch", "2", "--size", "32x48", "-o", str(out),
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "held-out B mean IU, output full" in printed and "val mean IU, output full" in printed
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["trained_on"] == {"folder": str(tmp_path / "train"), "sequences": {"A": 3},
                                    "frames": 3}
    assert report["config"]["hold_out"] == "B" and report["steps"] == 5
    assert report["config"]["augment"] == {"flip": True, "scale": [0.75, 1.5], "jitter": 0.3}
    history = report["selection"]["history"]
    assert [step for step, _ in history] == [2, 4, 5]
    best = max(history, key=lambda h: h[1])   # the first of equals, as the run keeps it
    assert report["selection"]["best_step"] == best[0]
    # the kept weights are that checkpoint's: they score exactly what it scored
    assert report["held_out"]["sequence"] == "B" and report["held_out"]["frames"] == 2
    assert report["held_out"]["mean_iu"]["full"] == pytest.approx(best[1], abs=1e-12)
    assert set(report["val_mean_iu"]) == {"full", "s1+s2", "s1"}


def test_one_cycle_by_hand():
    assert one_cycle(0.0, 1.0) == pytest.approx((1 / 25, 0.95))
    assert one_cycle(0.1, 1.0) == pytest.approx((1.0, 0.85))
    assert one_cycle(0.55, 1.0) == pytest.approx(((1 + 1 / 25 / 1e4) / 2, 0.90))
    assert one_cycle(1.0, 1.0) == pytest.approx((1 / 25 / 1e4, 0.95))
    lrs = [one_cycle(t / 100, 2e-3)[0] for t in range(101)]
    assert lrs.index(max(lrs)) == 10


def test_training_for_a_wall_time_spends_it_on_the_whole_command():
    config = TrainConfig(net="tiny", batch=1, size=(32, 32), val_clips=2, val_frames=3,
                         minutes=0.25, threads=1)  # 1: a busy machine's threads spin
    _, report = train(config, progress=False)
    # training stops early enough for the final scoring to fit in the 15 s as well
    assert report.seconds < report.command_seconds <= 15 * 1.1
    assert report.command_seconds >= 15 * 0.6  # and the budget is used, not wasted
    assert report.steps == len(report.losses) >= 1 and report.steps != config.steps
    assert report.config["steps"] is None and report.config["minutes"] == 0.25


def test_a_budget_too_small_to_score_is_refused_before_training():
    config = TrainConfig(net="tiny", batch=1, size=(32, 32), val_clips=2, val_frames=6,
                         minutes=1e-5)
    with pytest.raises(InputError, match="leaves no time to train"):
        train(config, progress=False)
