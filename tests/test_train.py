"""Training on generated scenes and on labeled folders: it learns, reports, and fails clearly."""
import json

import numpy as np
import pytest

from cwdsl.commands.main import main
from cwdsl.evaluate.datasets import open_labeled_folder
from cwdsl.nets import build_network
from cwdsl.evaluate.train import TrainConfig, _class_weights, train
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
])
def test_train_bad_input_exit_2_and_write_nothing(tmp_path, capsys, args, message):
    make_folder(tmp_path / "train", 1, size=(40, 40), classes=6, void=11)
    out = tmp_path / "out" / "w.pt"
    args = [a.format(d=tmp_path) for a in args]
    assert main(["train", *args, "--steps", "2", "-o", str(out), "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".json").exists()
