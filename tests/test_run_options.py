"""Issue 21, item 5: the throughput of several streams counts the frames of the ticks it
times, and options that cannot act in a combination are refused (exit 2, the reason, no
traceback, nothing written) instead of being silently ignored.

The throughput tests replace each tick's measured latency with a fixed one (the first tick
1000 ms, the others 100 ms), so the expected frames/s is exact: 2 streams x 4 frames run 8
frames, of which the 6 after the first tick take 0.3 s: 20 frames/s. Counting all 8 frames over
those 0.3 s (what the issue found) would say 26.7; all 8 over all 1.3 s, 6.15."""
import json
from dataclasses import replace
from pathlib import Path

import pytest

from cwdsl.commands.main import build_parser, main
from cwdsl.runtime.multistream import MultiStreamExecutor

ROOT = Path(__file__).resolve().parents[1]
ADAPTIVE = str(ROOT / "schedules" / "adaptive.cw")
ORACLE = str(ROOT / "schedules" / "oracle.cw")
FIRST_MS, LATER_MS = 1000.0, 100.0


@pytest.fixture
def fixed_latency(monkeypatch):
    """Every tick of a multi-stream executor reports FIRST_MS (its first) or LATER_MS."""
    real = MultiStreamExecutor.tick

    def tick(self, frames, motions=None):
        self._ticks = getattr(self, "_ticks", 0) + 1
        ms = FIRST_MS if self._ticks == 1 else LATER_MS
        return [None if r is None else replace(r, latency_ms=ms) for r in real(self, frames, motions)]

    monkeypatch.setattr(MultiStreamExecutor, "tick", tick)


def _refused(capsys, args, *expect):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for text in expect:
        assert text in err, err
    return err


def test_streams_throughput_counts_the_frames_of_the_ticks_it_times(fixed_latency, tmp_path,
                                                                     capsys):
    out = tmp_path / "out"
    assert main(["run", ADAPTIVE, "--net", "tiny", "--quiet", "--streams", "2",
                 "--max-frames", "4", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    record = json.loads((out / "streams.json").read_text())
    assert record["frames"] == 8
    assert record["timed_frames"] == 6  # every stream's frame 0 (the first tick) left out
    assert record["timed"] == [{"frames": 6, "seconds": pytest.approx(0.3)}]
    assert record["fps"] == pytest.approx(20.0)
    assert "total: 8 frames run; 20 frames/s over the 6 after the first tick" in table
    for name in ("stream-0", "stream-1"):  # each stream's frames carry the ticks' times
        frames = json.loads((out / name / "run.json").read_text())["frames"]
        assert [f["latency_ms"] for f in frames] == [FIRST_MS] + [LATER_MS] * 3


def test_streams_of_different_lengths_time_the_frames_they_ran(fixed_latency, tmp_path,
                                                                capsys):
    """Streams of 5 and 3 frames: ticks 2-3 run two frames, ticks 4-5 one: 6 frames timed
    over 4 ticks (0.4 s), not 8 over them."""
    from cwdsl.demo.scenes import generate_clip
    from cwdsl.media.encode import write_video

    for name, frames in (("long", 5), ("short", 3)):
        write_video(tmp_path / f"{name}.mp4", generate_clip(7, frames, (64, 80)).frames, fps=10)
    out = tmp_path / "out"
    assert main(["run", ADAPTIVE, "--net", "tiny", "--quiet", "--video",
                 str(tmp_path / "long.mp4"), "--video", str(tmp_path / "short.mp4"),
                 "--out", str(out)]) == 0
    record = json.loads((out / "streams.json").read_text())
    assert (record["frames"], record["timed_frames"]) == (8, 6)
    assert record["timed"][0]["seconds"] == pytest.approx(0.4)
    assert record["fps"] == pytest.approx(6 / 0.4)


def test_streams_throughput_of_one_tick_says_there_is_none(capsys):
    assert main(["run", ADAPTIVE, "--net", "tiny", "--quiet", "--streams", "2",
                 "--max-frames", "1"]) == 0
    assert "2 frames run in one tick, the warm-up" in capsys.readouterr().out


def test_quiet_acts_with_several_streams(capsys):
    args = ["run", ADAPTIVE, "--net", "tiny", "--streams", "2", "--max-frames", "2"]
    assert main(args) == 0
    assert "frame" in capsys.readouterr().err  # the bar
    assert main(args + ["--quiet"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("args, expect", [
    (["--max-batch", "2"], ["--max-batch 2", "this run has one stream"]),
    (["--unbatched"], ["--unbatched", "this run has one stream"]),
    (["--streams", "1", "--unbatched"], ["--unbatched", "this run has one stream"]),
    (["--streams", "1", "--max-batch", "1"], ["--max-batch 1", "this run has one stream"]),
    (["--streams", "2", "--unbatched", "--max-batch", "1"],
     ["--max-batch 1", "--unbatched batches nothing"]),
    (["--max-batch", "2", "--nproc", "2"], ["--max-batch 2"]),  # before processes start
    (["--keep-partial"], ["--keep-partial", "the demo is generated"]),
])
def test_run_options_that_cannot_act_exit_2_and_write_nothing(args, expect, tmp_path,
                                                               capsys):
    out = tmp_path / "out"
    _refused(capsys, ["run", ADAPTIVE, "--net", "tiny", "--quiet", "--out", str(out), *args],
             *expect)
    assert not out.exists()


def test_run_force_keep_partial_and_streams_one_where_they_cannot_act(tmp_path, capsys):
    _refused(capsys, ["run", ADAPTIVE, "--net", "tiny", "--quiet", "--force"],
             "--force", "give --out DIR")
    frames = tmp_path / "frames"
    frames.mkdir()
    _refused(capsys, ["run", ADAPTIVE, "--net", "tiny", "--quiet", "--frames", str(frames),
                      "--keep-partial"], "--keep-partial", "--frames DIR is a folder of images")
    videos = tmp_path / "videos"
    videos.mkdir()
    out = tmp_path / "out"
    _refused(capsys, ["run", ADAPTIVE, "--net", "tiny", "--quiet", "--videos", str(videos),
                      "--streams", "1", "--out", str(out)], "--streams N replays one source")
    assert not out.exists()


def test_sequential_acts_only_where_something_runs_concurrently(capsys):
    """--sequential orders a wave's stages (pipelines) or a wave's batches (several batched
    streams of a program with lane threads); elsewhere it is refused."""
    base = ["run", "--net", "tiny", "--quiet", "--max-frames", "2", "--sequential"]
    for schedule, extra in (("adaptive", []), ("adaptive", ["--streams", "2", "--unbatched"]),
                            ("baseline3", ["--streams", "2"])):
        _refused(capsys, [base[0], str(ROOT / "schedules" / f"{schedule}.cw"), *base[1:],
                          *extra], "--sequential", f"no wave of {schedule} holds two")
    for schedule, extra in (("pipeline3", []), ("adaptive", ["--streams", "2"])):
        assert main([base[0], str(ROOT / "schedules" / f"{schedule}.cw"), *base[1:],
                     *extra]) == 0


def test_shares_a_wave_follows_the_planner():
    from cwdsl import load
    from cwdsl.ir.plan import Planner
    from cwdsl.run.run import shares_a_wave

    for path in sorted((ROOT / "schedules").rglob("*.cw")):
        program = load(path)
        planner = Planner(program)
        every_atom = dict.fromkeys(program.atom_ids + planner.deadline_ids, True)
        widest = max(len(w.computes) for t in range(1, 9)
                     for w in planner.plan(t, every_atom).steps if hasattr(w, "computes"))
        assert shares_a_wave(program) == (widest > 1), path


def test_max_batch_help_says_what_cuda_does():
    """Capped batches of one stage share that stage's CUDA stream: the help says serial."""
    text = next(a.help for a in _subparser("run")._actions if "--max-batch" in a.option_strings)
    assert "one after another on CUDA" in text


def _subparser(name):
    import argparse

    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


@pytest.mark.parametrize("command", [
    ["eval", ORACLE], ["sweep", ADAPTIVE, "-o", "{tmp}/s.png"], ["layers"]])
@pytest.mark.parametrize("args, expect", [
    (["--data", "demo", "--scenes", "3"], ["--scenes 3", "--data demo is neither"]),
    (["--data", "demo", "--score", "all"], ["--score all", "--data demo has no translated"]),
    (["--data", "shift16", "--void", "3"], ["--void 3", "--data shift16 is generated"]),
])
def test_data_options_that_cannot_act_exit_2(command, args, expect, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path) for a in command] + ["--net", "tiny", "--quiet", *args]
    _refused(capsys, argv, *expect)
    assert not any(tmp_path.iterdir())


def test_scenes_of_a_folder_and_of_layers_motion_exit_2(tmp_path, capsys):
    folder = tmp_path / "seq"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    _refused(capsys, ["eval", ORACLE, "--net", "tiny", "--data", str(folder), "--scenes", "2"],
             "--scenes 2", f"--data {folder} is neither")
    _refused(capsys, ["layers", "--scenes", "2"], "--data motion is neither")


def test_data_options_keep_their_defaults_and_act_where_they_can(capsys):
    args = build_parser().parse_args(["eval", ORACLE])
    assert (args.scenes, args.score) == (24, "filled")
    assert main(["eval", ORACLE, "--net", "tiny", "--quiet", "--json", "--data", "shift16",
                 "--scenes", "1", "--score", "all"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert "1 generated scenes" in record["data"] and "every frame scored" in record["data"]


def test_clock_options_that_cannot_act_exit_2(tmp_path, capsys):
    _refused(capsys, ["explain", ORACLE, "--fire-rate", "0.3"],
             "--fire-rate 0.3", "oracle has no data-driven clock")
    _refused(capsys, ["explain", ORACLE, "--seed", "4"], "--seed 4")
    trace = tmp_path / "run.json"
    trace.write_text('{"frames": []}')
    for command in ("explain", "simulate"):
        _refused(capsys, [command, ADAPTIVE, "--trace", str(trace), "--seed", "1"],
                 "--seed 1: --trace replays recorded clock values")
    assert main(["explain", ADAPTIVE, "--seed", "3", "--frames", "4"]) == 0
    assert "(seed 3)" in capsys.readouterr().out


@pytest.mark.parametrize("args, expect", [
    (["--scale", "1:2"], ["--scale 1:2", "acts on a labeled folder"]),
    (["--jitter", "0.1"], ["--jitter 0.1", "acts on a labeled folder"]),
    (["--no-augment"], ["--no-augment", "acts on a labeled folder"]),
    (["--void", "3"], ["--void 3", "acts on a labeled folder"]),
    (["--val", "somewhere"], ["--val somewhere", "acts on a labeled folder"]),
    (["--eval-every", "5"], ["--eval-every 5", "give --hold-out"]),
    (["--data", "x", "--val", "y", "--no-augment", "--jitter", "0.2"],
     ["--jitter 0.2", "--no-augment takes plain crops"]),
])
def test_train_options_that_cannot_act_exit_2(args, expect, tmp_path, capsys):
    out = tmp_path / "t.pt"
    _refused(capsys, ["train", "--steps", "1", "--quiet", "-o", str(out), *args], *expect)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("args, expect", [
    (["--data", "scenes:2", "--max-speed", "3"], ["--max-speed 3", "no --data is one"]),
    (["--data", "demo", "--clip-frames", "4"], ["--clip-frames 4"]),
    (["--data", "scenes:2", "--clips-per-image", "2"], ["--clips-per-image 2"]),
    (["--data", "motion:{tmp}", "--stride", "2"], ["--stride 2", "motion:DIR clips"]),
])
def test_train_clock_options_that_cannot_act_exit_2(args, expect, tmp_path, capsys):
    out = tmp_path / "clock.json"
    _refused(capsys, ["train-clock", ADAPTIVE, "--reads", "s2", "--quiet", "-o", str(out),
                      *[a.format(tmp=tmp_path) for a in args]], *expect)
    assert not out.exists()
