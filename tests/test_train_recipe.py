"""ESPNet's training recipe: ENet's weights, the schedule, seeded batches, checkpoints that
resume to the same weights, the progress file, a background run, and clear refusals."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from cwdsl.commands.main import main
from cwdsl.core.metrics import IGNORE
from cwdsl.evaluate.datasets import open_labeled_folder
from cwdsl.nets import build_network
from cwdsl.nets.bundled import bundled_weights, resolve_weights
from cwdsl.nets.weights import load_weights
from cwdsl.train.augment import Augment
from cwdsl.train.checkpoint import checkpoint_path, progress_path
from cwdsl.train.recipe import batch_at, enet_class_weights, poly_lr
from cwdsl.train.segtrain import RecipeConfig, train_recipe
from folders import make_folder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("recipe")
    make_folder(d / "train", 6, size=(40, 48), classes=11, void=11)
    make_folder(d / "val", 2, size=(40, 48), classes=11, void=11)
    return d


def small(d, **kw) -> RecipeConfig:
    base = dict(data=str(d / "train"), val=str(d / "val"), void=11, hold_out="every:3",
                steps=4, batch=2, size=(32, 40), eval_size=(40, 48), eval_every=2, warmup=1,
                threads=1)
    return RecipeConfig(**(base | kw))


def test_enet_weights_by_hand():
    label = np.zeros((4, 5), np.uint8)
    label[0, :] = 1            # 5 of class 1, 14 of class 0, one void, class 2 absent
    label[1, 0] = IGNORE
    w = enet_class_weights([label], 3).numpy()
    p = np.array([14, 5, 0]) / 19
    assert w == pytest.approx(1 / np.log(1.02 + p), rel=1e-6)
    assert w[2] == pytest.approx(1 / np.log(1.02))      # an absent class: the cap, ~50.5


def test_poly_schedule_warms_up_then_decays_to_zero():
    assert poly_lr(0, 100, 1e-3, 10) == pytest.approx(1e-4)
    assert poly_lr(10, 100, 1e-3, 10) == pytest.approx(1e-3)
    assert poly_lr(55, 100, 1e-3, 10) == pytest.approx(1e-3 * 0.5 ** 0.9)
    assert poly_lr(100, 100, 1e-3, 10) == 0
    lrs = [poly_lr(s, 100, 1e-3, 10) for s in range(10, 100)]
    assert all(a > b for a, b in zip(lrs, lrs[1:]))


def test_a_steps_batch_depends_on_the_seed_and_step_alone():
    rng = np.random.default_rng(0)
    pairs = [(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8),
              rng.integers(0, 3, (20, 24), dtype=np.uint8)) for _ in range(5)]
    a = batch_at(pairs, 7, 3, (16, 16), 0, Augment())
    b = batch_at(pairs, 7, 3, (16, 16), 0, Augment())
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], batch_at(pairs, 7, 3, (16, 16), 1, Augment())[0])
    # within an epoch every pair is drawn once: steps 0-4 of batch 1 see all five images
    plain = Augment.off()
    seen = {batch_at(pairs, s, 1, (20, 24), 0, plain)[0][0].tobytes() for s in range(5)}
    assert seen == {p[0].tobytes() for p in pairs}


def test_every_n_holds_out_frames_spread_over_the_folder(data):
    folder = open_labeled_folder(data / "train", 11)
    train, held = folder.hold_out("every:3")
    assert [p.name for p in held.images] == ["f1.png", "f4.png"]
    assert len(train) == 4 and not set(train.images) & set(held.images)


def test_training_writes_weights_report_and_progress(data, tmp_path):
    out = tmp_path / "e.pt"
    report = train_recipe(small(data), out, progress=False)
    assert report["steps"] == 4 and report["selection"]["best_step"] in (2, 4)
    assert [h[0] for h in report["selection"]["history"]] == [2, 4]
    assert report["data"]["held_out"]["names"] == ["f1.png", "f4.png"]
    assert report["recipe"]["lr"] == 1e-3 and report["recipe"]["augment"]["scale"] == [0.75, 1.25]
    assert 0 <= report["val"]["mean_iu"] <= 1 and set(report["class_weights"]) >= {"Sky", "Road"}
    assert json.loads(out.with_suffix(".json").read_text())["steps"] == 4
    progress = json.loads(progress_path(out).read_text())
    assert progress["state"] == "done" and progress["step"] == 4
    assert not checkpoint_path(out).exists()          # removed once the weights are written
    load_weights(build_network("espnet"), out)


def test_an_interrupted_run_resumes_to_the_same_weights(data, tmp_path, monkeypatch):
    straight = tmp_path / "a.pt"
    train_recipe(small(data), straight, progress=False)
    # the same run stopped after its first check (step 2), as a kill would, then resumed
    import cwdsl.train.segtrain as segtrain
    calls = {"n": 0}
    real = segtrain.save_checkpoint

    def stop_after_first(out, state):
        real(out, state)
        calls["n"] += 1
        raise KeyboardInterrupt

    monkeypatch.setattr(segtrain, "save_checkpoint", stop_after_first)
    resumed = tmp_path / "b.pt"
    with pytest.raises(KeyboardInterrupt):
        train_recipe(small(data), resumed, progress=False)
    assert checkpoint_path(resumed).is_file() and not resumed.exists()
    assert json.loads(progress_path(resumed).read_text())["state"] == "interrupted"
    monkeypatch.setattr(segtrain, "save_checkpoint", real)
    report = train_recipe(small(data), resumed, resume=True, progress=False)
    assert report["resumed_at"] == 2 and report["steps"] == 4
    a, b = torch.load(straight), torch.load(resumed)
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


def test_resume_refuses_another_recipe_and_a_leftover_checkpoint(data, tmp_path, monkeypatch):
    import cwdsl.train.segtrain as segtrain
    from cwdsl.core.errors import InputError

    def stop(out, state):
        segtrain.torch.save(state, checkpoint_path(out))
        raise KeyboardInterrupt

    monkeypatch.setattr(segtrain, "save_checkpoint", stop)
    out = tmp_path / "c.pt"
    with pytest.raises(KeyboardInterrupt):
        train_recipe(small(data), out, progress=False)
    monkeypatch.undo()
    with pytest.raises(InputError, match="written by a run with other settings \\(lr 0.001"):
        train_recipe(small(data, lr=5e-4), out, resume=True, progress=False)
    with pytest.raises(InputError, match="left a checkpoint; --resume continues it"):
        train_recipe(small(data), out, progress=False)
    checkpoint_path(out).write_bytes(b"torn")
    with pytest.raises(InputError, match="c.pt.ckpt: not a checkpoint cwdsl can read"):
        train_recipe(small(data), out, resume=True, progress=False)


def test_the_command_trains_espnet_and_says_what_it_kept(data, tmp_path, capsys):
    out = tmp_path / "w" / "e.pt"
    assert main(["train", "--net", "espnet", "--data", str(data / "train"), "--val",
                 str(data / "val"), "--void", "11", "--hold-out", "every:3", "--steps", "2",
                 "--batch", "2", "--size", "32x40", "--eval-every", "1", "--threads", "1",
                 "--quiet", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "kept the checkpoint of step" in text and "val mean IU (40x48, 2 frames)" in text
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["recipe"]["eval_size"] == [40, 48]      # the frames' size, sides of 8


@pytest.mark.parametrize("args, message", [
    (["--val", "{d}/val"], "--net espnet trains on a labeled folder: give --data"),
    (["--data", "{d}/train", "--val", "{d}/val", "--hold-out", "every:0"],
     "every:N needs a whole N from 2"),
    (["--data", "{d}/train", "--val", "{d}/val", "--hold-out", "0001TP"], "no sequence '0001TP'"),
    (["--data", "{d}/train", "--val", "{d}/val", "--size", "30x40"], "needs sides divisible by 8"),
    (["--data", "{d}/train", "--val", "{d}/val", "--resume"], "no checkpoint to resume from"),
    (["--data", "{d}/train", "--val", "{d}/val", "--no-augment", "--scale", "1:2"],
     "--no-augment takes plain crops"),
])
def test_recipe_bad_input_exit_2_and_write_nothing(data, tmp_path, capsys, args, message):
    out = tmp_path / "x.pt"
    argv = ["train", "--net", "espnet", "--void", "11", "-o", str(out), "--quiet",
            "--hold-out", "every:3"]  # the six frames hold no every:8; a later one wins
    assert main(argv + [a.format(d=data) for a in args]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option", [["--background"], ["--resume"],
                                    ["--encoder-weight", "0.5"]])
def test_recipe_options_are_refused_for_other_networks(tmp_path, capsys, option):
    assert main(["train", "--net", "tiny", "-o", str(tmp_path / "t.pt"), *option]) == 2
    assert "ESPNet's recipe" in capsys.readouterr().err


def test_a_background_run_returns_at_once_and_finishes_with_progress(data, tmp_path):
    out = tmp_path / "bg.pt"
    done = subprocess.run(
        [sys.executable, "-m", "cwdsl", "train", "--net", "espnet", "--data",
         str(data / "train"), "--val", str(data / "val"), "--void", "11", "--hold-out",
         "every:3", "--steps", "2", "--batch", "2", "--size", "32x40", "--threads", "1",
         "--background", "-o", str(out)], capture_output=True, text=True, cwd=ROOT,
        timeout=60)
    assert done.returncode == 0, done.stderr
    assert "training in the background (pid" in done.stdout and "progress.json" in done.stdout
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if progress_path(out).is_file() and \
                json.loads(progress_path(out).read_text())["state"] == "done":
            break
        time.sleep(0.5)
    assert json.loads(progress_path(out).read_text())["state"] == "done", \
        Path(f"{out}.log").read_text()
    assert out.is_file() and out.with_suffix(".json").is_file()


def test_espnet_has_bundled_weights_with_their_report():
    path = bundled_weights("espnet")
    assert path is not None and path.name == "espnet_camvid.pt"
    assert resolve_weights("espnet", None) == str(path)
    load_weights(build_network("espnet"), path)
    report = json.loads(path.with_suffix(".json").read_text())
    assert report["network"] == "espnet" and report["recipe"]["eval_size"] == [184, 240]
    assert report["data"]["held_out"]["frames"] > 0 and report["val"]["mean_iu"] >= 0.55
    assert path.stat().st_size < 4 * 2**20


CAMVID = ROOT.parent / "shared" / "data" / "camvid-half"


@pytest.mark.skipif(not CAMVID.is_dir(), reason="needs ../shared/data/camvid-half")
def test_the_readmes_training_command_is_the_bundled_weights_recipe(monkeypatch):
    """The command README.md gives builds exactly the recipe the bundled weights record (the
    same steps, seed, crops, rates and held-out frames), read from the repository root."""
    import re
    import shlex

    from cwdsl.commands.main import build_parser
    from cwdsl.commands.train_recipe import recipe_config
    from cwdsl.core.netspec import get_network

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = re.search(r"^cwdsl train --net espnet .*$", readme, re.M).group(0)
    monkeypatch.chdir(ROOT)
    argv = shlex.split(line)[1:]
    args = build_parser().parse_args(argv)
    config = recipe_config(args, get_network("espnet"))
    recorded = json.loads(bundled_weights("espnet").with_suffix(".json").read_text())
    assert config.recipe() == recorded["recipe"]
    assert config.threads == recorded["machine"]["torch_threads"]


def test_a_wall_time_cap_stops_early_and_says_so(data, tmp_path):
    report = train_recipe(small(data, minutes=1e-9), tmp_path / "m.pt", progress=False)
    assert report["steps"] == 0 and report["stopped_by"].startswith("the 1e-09-minute cap")
    assert report["selection"]["best_step"] == 0      # the weights it had: scored and kept
    assert (tmp_path / "m.pt").is_file()
