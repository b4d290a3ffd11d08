"""`cwdsl run` end to end: the demo, a real video file, and every kind of bad input."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cwdsl.commands.main import main
from cwdsl.demo.scenes import generate_clip
from cwdsl.demo.clip import DEMO
from cwdsl.nets import build_network
from cwdsl.nets.bundled import bundled_weights
from cwdsl.media.encode import write_video
from cwdsl.media.video import read_video, write_frames_dir
from cwdsl.nets.weights import save_weights

ROOT = Path(__file__).resolve().parents[1]
ADAPTIVE = str(ROOT / "schedules" / "adaptive.cw")


def test_bundled_weights_exist_and_load():
    net = build_network("tiny")
    from cwdsl.nets.weights import load_weights
    load_weights(net, bundled_weights(DEMO.network))
    assert bundled_weights(DEMO.network).with_suffix(".json").is_file()  # the training report


def test_demo_run_writes_record_masks_and_overlay(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", ADAPTIVE, "--max-frames", "12", "--out", str(out),
                 "--save", "masks,overlay", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "mean IU vs ground truth" in text and "agreement with the frame oracle" in text
    record = json.loads((out / "run.json").read_text())
    assert record["network"] == "tiny" and len(record["frames"]) == 12
    assert record["frames"][0]["computed"] == ["s1", "s2", "s3"]
    atom = "labeldiff(s2, since=fired) >= 0.03"
    assert all(atom in f["atoms"] for f in record["frames"])
    assert 0 <= record["summary"]["mean_iu"] <= 1
    assert len(list((out / "masks").glob("*.png"))) == 12
    overlay = list(read_video(out / "overlay.mp4"))
    # each overlay frame is the 128x128 frame with the class legend to its right
    assert len(overlay) == 12 and overlay[0].shape[0] == 128 and overlay[0].shape[1] > 128
    assert sorted(p.name for p in out.iterdir()) == ["masks", "overlay.mp4", "run.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left


def test_trace_from_a_run_replays_in_explain(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", ADAPTIVE, "--max-frames", "8", "--out", str(out), "--quiet",
                 "--no-oracle"]) == 0
    record = json.loads((out / "run.json").read_text())
    capsys.readouterr()
    assert main(["explain", ADAPTIVE, "--frames", "8", "--trace", str(out / "run.json")]) == 0
    grid = capsys.readouterr().out
    s3 = next(line for line in grid.splitlines() if line.startswith("s3 ")).split()[1:]
    assert s3 == ["C" if "s3" in f["computed"] else "." for f in record["frames"]]


def test_video_file_round_trip(tmp_path, capsys):
    clip = generate_clip(5, 10, (96, 128))
    video = tmp_path / "clip.mp4"
    write_video(video, clip.frames, fps=10)
    out = tmp_path / "out"
    assert main(["run", ADAPTIVE, "--video", str(video), "--net", "tiny", "--out", str(out),
                 "--save", "overlay", "--quiet"]) == 0
    frames = list(read_video(out / "overlay.mp4"))
    assert len(frames) == 10 and frames[0].shape[0] == 96 and frames[0].shape[1] > 128  # + legend
    record = json.loads((out / "run.json").read_text())
    assert record["source"] == str(video) and "mean_iu" not in record["summary"]


def test_frames_folder_and_sequential_pipeline(tmp_path, capsys):
    clip = generate_clip(6, 5, (64, 64))
    folder = tmp_path / "frames"
    write_frames_dir(folder, clip.frames)
    assert main(["run", str(ROOT / "schedules" / "pipeline3.cw"), "--frames", str(folder),
                 "--net", "tiny", "--sequential", "--quiet"]) == 0
    assert "pipeline3 on" in capsys.readouterr().out


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "cwdsl.commands.main", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def wrong_weights(tmp_path_factory):
    """A real weights file of another network (fcn8s-shaped keys, other shapes)."""
    path = tmp_path_factory.mktemp("w") / "other.pt"
    from cwdsl.core.netspec import InputNorm
    from cwdsl.nets import stage_module
    from torch import nn
    stage_module("othernet", [("a", nn.Conv2d(3, 4, 3, padding=1))],
                 {"ha": ("a", nn.Conv2d(4, 6, 1))}, num_classes=6, default_input=(32, 32),
                 norm=InputNorm(), replace=True)
    save_weights(build_network("othernet"), path)
    return path


@pytest.mark.parametrize("case", ["missing_video", "corrupt_video", "empty_folder",
                                  "wrong_weights", "no_weights_for_fcn8s", "bad_save"])
@pytest.mark.slow
def test_bad_input_exits_2_and_leaves_nothing(tmp_path, case, wrong_weights):
    out = tmp_path / "out"
    args = ["run", ADAPTIVE, "--out", str(out), "--quiet", "--max-frames", "3"]
    expect = ""
    if case == "missing_video":
        args += ["--video", str(tmp_path / "nope.mp4"), "--net", "tiny"]
        expect = str(tmp_path / "nope.mp4")
    elif case == "corrupt_video":
        bad = tmp_path / "bad.mp4"
        bad.write_bytes(np.random.default_rng(0).bytes(5000))
        args += ["--video", str(bad), "--net", "tiny"]
        expect = str(bad)
    elif case == "empty_folder":
        (tmp_path / "empty").mkdir()
        args += ["--frames", str(tmp_path / "empty"), "--net", "tiny"]
        expect = str(tmp_path / "empty")
    elif case == "wrong_weights":
        args += ["--weights", str(wrong_weights)]
        expect = str(wrong_weights)
    elif case == "no_weights_for_fcn8s":
        args += ["--net", "fcn8s"]
        expect = "needs --weights"
    elif case == "bad_save":
        args += ["--save", "masks,gif"]
        expect = "unknown item(s) gif"
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert expect in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow
def test_schedule_naming_another_network_is_rejected_for_these_weights(tmp_path):
    sched = tmp_path / "toy.cw"
    sched.write_text("network tiny\nstage s1 = conv1_1 .. pool3 head score_pool3\n"
                     "compute s1 when 1\noutput fuse(s1)\n")
    weights = str(bundled_weights(DEMO.network))
    proc = run_cli("run", str(sched), "--net", "fcn8s", "--weights", weights,
                   "--max-frames", "2", "--quiet")
    assert proc.returncode == 2 and weights in proc.stderr
    assert "Traceback" not in proc.stderr


def test_failure_mid_run_leaves_out_untouched(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    import cwdsl.run.run as run_module
    calls = {"n": 0}
    real = run_module.save_label_png

    def failing(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(*a, **k)

    monkeypatch.setattr(run_module, "save_label_png", failing)
    with pytest.raises(OSError):
        run_module.run(run_module.RunOptions(ADAPTIVE, out=str(out), save=frozenset({"masks"}),
                                             max_frames=5, progress=False, force=True))
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_parent_folder_made_meanwhile_by_another_process_is_used(tmp_path, monkeypatch):
    """``--nproc`` ranks write their streams under one new folder: the rank that finds the
    folder made between its look and its mkdir takes it, and does not remove it after."""
    from pathlib import Path

    from cwdsl.core import staging

    out = tmp_path / "out" / "stream-1"
    real = Path.mkdir

    def racing(self, *args, **kwargs):
        if self == tmp_path / "out" and not self.exists():
            real(self)            # the other rank gets there first
            raise FileExistsError(17, "File exists")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", racing)
    with staging.staged_dir(out) as tmp:
        (tmp / "run.json").write_text("{}")
    assert (out / "run.json").is_file()
