"""`cwdsl run` against what a user (or a signal) can do to it: issue 11's items for `run`.

Every bad input exits 2 with the path and the reason, no traceback, nothing half-written."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cwdsl.commands.main import main
from cwdsl.demo.scenes import generate_clip
from cwdsl.media.encode import write_video
from cwdsl.run.records import FRAME0_ONLY, format_fps, summary_table
from cwdsl.run.run import RunOptions, run
from cwdsl.media.video import write_frames_dir

ROOT = Path(__file__).resolve().parents[1]
ADAPTIVE = str(ROOT / "schedules" / "adaptive.cw")
ORACLE = str(ROOT / "schedules" / "oracle.cw")
EXAMPLE = ROOT / "examples"
FAST = ["--max-frames", "2", "--quiet", "--no-oracle"]


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(capsys, *args, expect: str) -> str:
    code, out, err = cli(capsys, *args)
    assert code == 2, err
    assert expect in err and "Traceback" not in err, err
    return err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------ 1: the schedule's network

def test_plugin_example_runs_its_own_network_on_the_demo(capsys):
    code, out, err = cli(capsys, "--plugin", str(EXAMPLE / "custom_backbone.py"), "run",
                         str(EXAMPLE / "custom_backbone.cw"), "--weights", "random", *FAST)
    assert code == 0, err
    assert "network toynet" in out
    assert "scoring against ground truth skipped" in err  # 6 demo classes, toynet has 5
    assert "mean IU vs ground truth" not in out


def test_schedule_network_without_weights_says_so(capsys):
    err = refused(capsys, "--plugin", str(EXAMPLE / "custom_backbone.py"), "run",
                  str(EXAMPLE / "custom_backbone.cw"), *FAST, expect="network toynet")
    assert "--weights" in err


@pytest.mark.slow
def test_paper_schedule_on_the_demo_runs_on_tiny_with_a_note(tmp_path, capsys):
    code, out, err = cli(capsys, "run", ORACLE, *FAST)
    assert code == 0 and "network tiny" in out
    assert "names network fcn8s" in err and "runs it on tiny" in err


@pytest.mark.slow
def test_net_override_wins_over_the_schedule(tmp_path, capsys):
    sched = tmp_path / "camvid.cw"
    sched.write_text("network fcn8s_camvid\nstage s1 = conv1_1 .. fc7 head score_fr\n"
                     "compute s1 when 1\noutput fuse(s1)\n")
    code, out, err = cli(capsys, "run", str(sched), *FAST)
    assert code == 0 and "network fcn8s_camvid" in out   # its own network, bundled weights
    code, out, err = cli(capsys, "run", str(sched), "--net", "tiny", *FAST)
    assert code == 0 and "network tiny" in out


# ------------------------------------------------------------------ 3: input size

def test_schedule_input_size_resizes_the_frames(tmp_path, capsys):
    sched = tmp_path / "small.cw"
    sched.write_text("network tiny input 64x96\nstage s1 = conv1_1 .. fc7 head score_fr\n"
                     "compute s1 when 1\noutput fuse(s1)\n")
    out_dir = tmp_path / "out"
    code, out, err = cli(capsys, "run", str(sched), "--out", str(out_dir), *FAST)
    assert code == 0, err
    record = json.loads((out_dir / "run.json").read_text())
    assert record["size"] == [64, 96] and "resized from 128x128 to 64x96" in err
    assert "mean IU vs ground truth" in out   # labels resized with the frames


@pytest.mark.slow
def test_size_option_and_far_from_training_note(tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = cli(capsys, "run", ORACLE, "--net", "tiny", "--size", "384x384",
                         "--out", str(out_dir), *FAST)
    assert code == 0, err
    assert json.loads((out_dir / "run.json").read_text())["size"] == [384, 384]
    assert "3x the linear size network tiny was trained at (128x128)" in err
    assert "--size 128x128" in err


def test_net_override_ignores_the_schedule_input_line(tmp_path, capsys):
    # adaptive.cw says `network fcn8s input 500x500`: on tiny the frames keep their size
    code, out, err = cli(capsys, "run", ADAPTIVE, "--net", "tiny", *FAST)
    assert code == 0 and "at 128x128" in out and "resized" not in err


@pytest.mark.parametrize("size, expect", [("12", "not HEIGHTxWIDTH"),
                                          ("99999x2", "too large")])
def test_bad_size(capsys, size, expect):
    refused(capsys, "run", ADAPTIVE, "--size", size, *FAST, expect=expect)


# ------------------------------------------------------------------ 10: --out holds one run

@pytest.mark.slow
def test_out_replaces_a_previous_run_entirely(tmp_path, capsys):
    out_dir = tmp_path / "out"
    assert cli(capsys, "run", ADAPTIVE, "--out", str(out_dir), "--save", "masks", *FAST)[0] == 0
    assert (out_dir / "masks").is_dir()
    assert cli(capsys, "run", ADAPTIVE, "--out", str(out_dir), *FAST)[0] == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["run.json"]   # no stale masks
    assert leftovers(tmp_path) == []


def test_out_refuses_a_foreign_folder_without_force(tmp_path, capsys):
    out_dir = tmp_path / "mine"
    out_dir.mkdir()
    (out_dir / "thesis.tex").write_text("precious")
    refused(capsys, "run", ADAPTIVE, "--out", str(out_dir), *FAST, expect="--force")
    assert (out_dir / "thesis.tex").read_text() == "precious" and leftovers(tmp_path) == []
    assert cli(capsys, "run", ADAPTIVE, "--out", str(out_dir), "--force", *FAST)[0] == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["run.json"]


def test_out_refuses_a_folder_holding_the_input(tmp_path, capsys):
    sched = tmp_path / "s.cw"
    sched.write_text(Path(ORACLE).read_text())
    refused(capsys, "run", str(sched), "--out", str(tmp_path), "--force", *FAST,
            expect="holds the input")


def test_concurrent_run_to_the_same_out_is_refused(tmp_path, capsys):
    import fcntl
    out_dir = tmp_path / "out"
    lock = tmp_path / ".out.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)   # what a running `cwdsl run --out out` holds
    try:
        refused(capsys, "run", ADAPTIVE, "--out", str(out_dir), *FAST,
                expect="another cwdsl process is writing")
    finally:
        os.close(fd)
    assert not out_dir.exists()


# ------------------------------------------------------------------ 8, 9: paths and files

@pytest.mark.parametrize("kind", ["proc", "file", "under-file"])
def test_unwritable_out(tmp_path, capsys, kind):
    target = {"proc": "/proc/cwdsl-x", "file": str(tmp_path / "f"),
              "under-file": str(tmp_path / "f" / "x")}[kind]
    (tmp_path / "f").write_text("a file")
    refused(capsys, "run", ADAPTIVE, "--out", target, *FAST, expect=target)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("option", ["--video", "--weights"])
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_non_regular_inputs_are_refused_without_hanging(tmp_path, capsys, option, kind):
    if kind == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
        what = "FIFO"
    else:
        path, what = Path("/dev/zero"), "character device"
    extra = ["--net", "tiny"] if option == "--video" else []
    refused(capsys, "run", ADAPTIVE, option, str(path), *extra, "--out", str(tmp_path / "o"),
            *FAST, expect=what)
    assert not (tmp_path / "o").exists()


def test_missing_frames_folder_says_folder(tmp_path, capsys):
    refused(capsys, "run", ADAPTIVE, "--frames", str(tmp_path / "nowhere"), "--net", "tiny",
            *FAST, expect="no such frames folder")


# ------------------------------------------------------------------ 13: one throughput figure

@pytest.mark.slow
def test_throughput_is_one_labelled_unrounded_figure(tmp_path):
    assert format_fps(0.5321) == "0.532 fps" and format_fps(28.44) == "28.4 fps"
    sched = tmp_path / "once.cw"   # s2 computes on frame 0 only
    sched.write_text("network tiny\nstage s1 = conv1_1 .. pool4 head score_pool4\n"
                     "stage s2 = conv5_1 .. fc7 head score_fr\nclock never = every 1000\n"
                     "compute s1 when 1\ncompute s2 when never else cache\n"
                     "output fuse(s1, s2)\n")
    record = run(RunOptions(str(sched), max_frames=3, progress=False, oracle=False))
    text = summary_table(record)
    assert "nan" not in text and FRAME0_ONLY in text
    assert f"throughput: {format_fps(record.summary.fps)}" in text
    assert text.count("fps") == 1
    assert record.to_json()["summary"]["stage_ms_mean"]["s2"] is None


# ------------------------------------------------------------------ 16: truncated video

def truncated_avi(tmp_path: Path) -> Path:
    full = tmp_path / "full.avi"
    write_video(full, generate_clip(3, 40, (64, 64)).frames)
    cut = tmp_path / "cut.avi"
    data = full.read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    return cut


@pytest.mark.slow
def test_truncated_video_fails_early_or_keeps_partial(tmp_path, capsys, monkeypatch):
    cut = truncated_avi(tmp_path)
    import cwdsl.run.sources as sources
    monkeypatch.setattr(sources, "read_video", lambda *a, **k: pytest.fail("decoded"))
    refused(capsys, "run", ADAPTIVE, "--video", str(cut), "--net", "tiny", "--quiet",
            expect="--keep-partial")   # before a frame is decoded
    monkeypatch.undo()
    out_dir = tmp_path / "out"
    code, out, err = cli(capsys, "run", ADAPTIVE, "--video", str(cut), "--net", "tiny",
                         "--keep-partial", "--quiet", "--out", str(out_dir))
    assert code == 0, err
    record = json.loads((out_dir / "run.json").read_text())
    assert 0 < len(record["frames"]) < 40
    assert any("truncated" in n for n in record["notes"]) and "truncated" in err


# ------------------------------------------------------------------ 11: signals, stale folders

def test_stale_partial_folders_of_the_target_are_removed(tmp_path, capsys):
    (tmp_path / ".out.partial-abc123").mkdir()
    (tmp_path / ".out.partial-abc123" / "run.json").write_text("{}")
    (tmp_path / ".other.partial-abc123").mkdir()   # another target's: not ours to remove
    assert cli(capsys, "run", ADAPTIVE, "--out", str(tmp_path / "out"), *FAST)[0] == 0
    assert leftovers(tmp_path) == [".other.partial-abc123"]


@pytest.mark.slow
def test_sigterm_cleans_up_and_exits_130(tmp_path):
    frames = tmp_path / "frames"
    write_frames_dir(frames, generate_clip(1, 200, (128, 128)).frames)  # several seconds
    proc = subprocess.Popen([sys.executable, "-m", "cwdsl", "run", ADAPTIVE, "--frames",
                             str(frames), "--net", "tiny", "--out", str(tmp_path / "out"),
                             "--save", "masks", "--quiet"], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any((tmp_path / p).is_dir() for p in os.listdir(tmp_path)
                  if p.startswith(".out.partial-")):
        if proc.poll() is not None:
            pytest.fail(f"ended before the signal (exit {proc.returncode}): {proc.stderr.read()}")
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)  # well inside the run
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


# ------------------------------------------------------------------ 2: the documents' CamVid path

CAMVID = ROOT.parent / "shared" / "data" / "camvid-half"


def test_documented_camvid_commands_use_one_path_and_run(tmp_path, capsys):
    """README.md and docs/*.md (where the reference moved, project issue 20)."""
    docs = "\n".join(p.read_text() for p in [ROOT / "README.md",
                                               *sorted((ROOT / "docs").glob("*.md"))])
    paths = {word for line in docs.splitlines() if line.startswith("cwdsl ")
             or line.startswith("    --") for word in line.split() if "camvid-half" in word}
    paths = {p.split(":", 1)[-1] for p in paths}  # motion:DIR, shift32:DIR name a folder too
    assert paths and all(p.startswith("../shared/data/camvid-half/") for p in paths), paths
    command = next(line for line in docs.splitlines()
                   if line.startswith("cwdsl run") and "camvid-half" in line)
    if not CAMVID.is_dir():
        pytest.skip("CamVid is not at ../shared/data/camvid-half")
    args = command.split()[1:]
    args[args.index("--frames") + 1] = str(CAMVID / "val" / "images")
    args[args.index("--out") + 1] = str(tmp_path / "camvid")
    code, out, err = cli(capsys, *args, "--max-frames", "2", "--quiet")
    assert code == 0, err
    assert "network fcn8s_camvid" in out and "at 180x240" in out and "note" not in err
