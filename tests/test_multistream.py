"""The multi-stream executor against one single-stream executor per stream.

Streams play the demo clip offset in time (some start late: ``None`` frames until then),
one of them at another size (its own batch). Every stream's clocks, computed and warped
stages and labels must be the single-stream executor's exactly; scores equal up to
:data:`SCORE_ATOL`: a batched convolution may block its sums differently from one image's
(oneDNN picks kernels by batch size), so last bits of float32 may differ. Measured on the
development CPU (x86-64, torch's oneDNN): the largest difference over these runs is
1.1e-5 (pipeline3; 9.5e-6 adaptive and skipframe_warp; stages and fuses batched) on scores
of order 10, a few float32 ulps; the bound is the tightest round one above that. Unbatched, the path is
the single-stream one and must match bit for bit; labels always match exactly.
"""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cwdsl import load
from cwdsl.demo.clip import demo_clip
from cwdsl.nets import build_network
from cwdsl.nets.bundled import bundled_weights
from cwdsl.nets.preprocess import frame_tensor
from cwdsl.nets.weights import load_weights
from cwdsl.runtime.executor import Executor
from cwdsl.runtime.multistream import MultiStreamExecutor

ROOT = Path(__file__).resolve().parents[1]
SCORE_ATOL = 2e-5
FRAMES = 14          # frames per stream
OFFSETS = (0, 5, 11)  # where in the clip each stream starts
LATE = (0, 0, 2)      # ticks each stream waits before its first frame
SMALL = (96, 112)     # stream 1 runs at this size (a batch of its own)


@pytest.fixture(scope="module")
def net():
    return load_weights(build_network("tiny"), bundled_weights("tiny")).eval()


@pytest.fixture(scope="module")
def streams():
    clip = demo_clip(max(OFFSETS) + FRAMES)
    out = []
    for i, offset in enumerate(OFFSETS):
        frames = clip.frames[offset:offset + FRAMES]
        if i == 1:
            frames = [np.asarray(Image.fromarray(f).resize(SMALL[::-1])) for f in frames]
        out.append([frame_tensor(f) for f in frames])
    return out


def _ticks(streams):
    """Per tick, each stream's frame or None (late starts, early ends)."""
    length = max(len(s) + late for s, late in zip(streams, LATE))
    return [[s[t - late] if 0 <= t - late < len(s) else None for s, late in zip(streams, LATE)]
            for t in range(length)]


def _single(program, net, frames):
    executor = Executor(program, net)
    try:
        return [executor.step(x) for x in frames]
    finally:
        executor.close()


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("schedule", ["adaptive", "pipeline3", "skipframe_warp"])
def test_streams_match_single_stream_executors(net, streams, schedule, batched):
    program = load(ROOT / "schedules" / f"{schedule}.cw", network="tiny")
    expected = [_single(program, net, frames) for frames in streams]
    multi = MultiStreamExecutor(program, net, len(streams), batched=batched)
    got = [[] for _ in streams]
    sizes = []
    real = multi.runner.run_stage

    def spy(x, *args, **kwargs):  # what batch sizes the runner saw
        sizes.append(int((x if isinstance(x, torch.Tensor) else next(iter(x.values())))
                         .shape[0]))
        return real(x, *args, **kwargs)

    multi.runner.run_stage = spy
    fused = []
    real_fuse = multi.runner.fuse

    def fuse_spy(heads, hw):
        fused.append(int(next(iter(heads.values())).shape[0]))
        return real_fuse(heads, hw)

    multi.runner.fuse = fuse_spy
    try:
        for frames in _ticks(streams):
            results = multi.tick(frames)
            latencies = {r.latency_ms for r in results if r is not None}
            assert len(latencies) == 1  # every frame waited for the whole tick
            for i, (frame, result) in enumerate(zip(frames, results)):
                assert (result is None) == (frame is None)
                if result is not None:
                    got[i].append(result)
    finally:
        multi.close()
    assert max(sizes) == (2 if batched else 1)  # streams 0 and 2 batch; 1 is another size
    assert max(fused) == (2 if batched else 1)  # and so do their fuses
    worst = 0.0
    for mine, theirs in zip(got, expected):
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs):
            assert (a.frame, a.computed, a.warped, a.atom_values) == \
                (b.frame, b.computed, b.warped, b.atom_values)
            assert a.differences == pytest.approx(b.differences, abs=1e-9)
            assert torch.equal(a.labels, b.labels)
            worst = max(worst, float((a.scores - b.scores).abs().max()))
    print(f"{schedule} batched={batched}: worst score difference {worst:.3g}")
    assert worst <= SCORE_ATOL
    if not batched:  # the same path, one frame at a time: bit for bit
        assert worst == 0.0


def test_adaptive_streams_fire_on_different_frames(net, streams):
    program = load(ROOT / "schedules" / "adaptive.cw", network="tiny")
    runs = [[r.computed for r in _single(program, net, frames)] for frames in streams]
    assert runs[0] != runs[2]  # the data-driven clock differs between streams


def test_tick_wants_one_frame_per_stream(net):
    program = load(ROOT / "schedules" / "adaptive.cw", network="tiny")
    multi = MultiStreamExecutor(program, net, 2)
    with pytest.raises(ValueError, match="one frame"):
        multi.tick([None])
    assert multi.tick([None, None]) == [None, None]
    multi.close()


# -- cwdsl run with several streams ---------------------------------------------------------
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from cwdsl.commands.main import main  # noqa: E402
from cwdsl.demo.scenes import generate_clip  # noqa: E402
from cwdsl.nets.bundled import bundled_weights  # noqa: E402
from cwdsl.media.encode import write_video  # noqa: E402
from cwdsl.media.video import load_label_png  # noqa: E402

ADAPTIVE = str(ROOT / "schedules" / "adaptive.cw")


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Two tiny videos of different sizes (two batches) and lengths, in a folder."""
    folder = tmp_path_factory.mktemp("videos")
    for name, seed, frames, size in (("a", 3, 8, (64, 80)), ("b", 4, 6, (64, 80)),
                                     ("c", 5, 5, (48, 64))):
        write_video(folder / f"{name}.mp4", generate_clip(seed, frames, size).frames, fps=10)
    return folder


def _masks(folder: Path) -> list[np.ndarray]:
    return [load_label_png(p) for p in sorted((folder / "masks").iterdir())]


def test_several_videos_write_what_single_runs_write(videos, tmp_path, capsys):
    args = ["run", ADAPTIVE, "--net", "tiny", "--save", "masks", "--quiet"]
    out = tmp_path / "multi"
    assert main(args + ["--video", str(videos / "a.mp4"), "--video", str(videos / "c.mp4"),
                        "--video", str(videos / "b.mp4"), "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "total:" in table and "p99 ms" in table
    summary = json.loads((out / "streams.json").read_text())
    assert [s["name"] for s in summary["streams"]] == ["a", "c", "b"]
    assert summary["frames"] == 8 + 5 + 6 and summary["batched"]
    for name in "acb":
        single = tmp_path / f"single-{name}"
        assert main(args + ["--video", str(videos / f"{name}.mp4"), "--out", str(single)]) == 0
        mine = json.loads((out / name / "run.json").read_text())
        theirs = json.loads((single / "run.json").read_text())
        assert [f["computed"] for f in mine["frames"]] == \
            [f["computed"] for f in theirs["frames"]]
        assert mine["source"] == theirs["source"] and mine["size"] == theirs["size"]
        assert all(np.array_equal(x, y) for x, y in zip(_masks(out / name), _masks(single)))
        assert len(_masks(out / name)) == len(_masks(single))


def test_a_video_that_does_not_open_writes_nothing(videos, tmp_path, capsys):
    out = tmp_path / "out"
    missing = tmp_path / "missing.mp4"
    assert main(["run", ADAPTIVE, "--net", "tiny", "--quiet", "--out", str(out),
                 "--video", str(videos / "a.mp4"), "--video", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    assert not out.exists()


def test_corpus_resumes_and_streams_replay(videos, tmp_path, capsys):
    out = tmp_path / "corpus"
    args = ["run", ADAPTIVE, "--net", "tiny", "--quiet", "--videos", str(videos),
            "--out", str(out)]
    assert main(args) == 0
    first = (out / "b" / "run.json").read_text()
    (out / "c" / "run.json").unlink()  # as if interrupted before c finished
    (out / "c").rmdir()
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert err.count("kept") == 2 and str(out / "a") in err
    assert (out / "b" / "run.json").read_text() == first  # kept, not rerun
    streams = json.loads((out / "streams.json").read_text())["streams"]
    assert [(s["name"], s["skipped"]) for s in streams] == \
        [("a", True), ("b", True), ("c", False)]
    # the same weights from another path (torchrun -m cwdsl loads another copy): kept
    copy = tmp_path / "copy.pt"
    copy.write_bytes(bundled_weights("tiny").read_bytes())
    assert main(args + ["--weights", str(copy)]) == 0
    assert capsys.readouterr().err.count("kept") == 3
    assert main(args + ["--size", "32x40"]) == 0  # another size: everything reruns, saying why
    err = capsys.readouterr().err
    assert "kept" not in err and err.count("runs again: its run used another frame size") == 3
    replay = tmp_path / "replay"
    assert main(["run", ADAPTIVE, "--quiet", "--streams", "3", "--max-frames", "6",
                 "--out", str(replay), "--unbatched"]) == 0
    record = json.loads((replay / "stream-2" / "run.json").read_text())
    assert record["source"].endswith("from frame 4") and len(record["frames"]) == 6


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_torchrun_shares_a_corpus(videos, tmp_path):
    out = tmp_path / "out"
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
         "--master-addr", "127.0.0.1", "--master-port", str(_free_port()), "-m", "cwdsl", "run", ADAPTIVE, "--net", "tiny", "--quiet",
         "--videos", str(videos), "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "streams.json").read_text())
    assert summary["processes"] == 2 and summary["frames"] == 8 + 6 + 5
    assert [s["name"] for s in summary["streams"]] == ["a", "b", "c"]
    for name in "abc":
        assert json.loads((out / name / "run.json").read_text())["cwdsl_run"] == 1
    assert done.stdout.count("total:") == 1  # rank 0 prints


def test_capped_batches_split_a_stage_and_keep_results(net, streams):
    program = load(ROOT / "schedules" / "pipeline3.cw", network="tiny")
    frames = [s[:4] for s in (streams[0], streams[0], streams[2])]  # three of one size
    expected = [_single(program, net, f) for f in frames]
    multi = MultiStreamExecutor(program, net, 3, max_batch=2)
    sizes = []
    real = multi.runner.run_stage
    multi.runner.run_stage = lambda x, *a, **k: sizes.append(x.shape[0] if isinstance(
        x, torch.Tensor) else next(iter(x.values())).shape[0]) or real(x, *a, **k)
    try:
        got = [multi.tick([f[t] for f in frames]) for t in range(4)]
    finally:
        multi.close()
    assert sorted(set(sizes)) == [1, 2]
    for t in range(4):
        for i in range(3):
            assert torch.equal(got[t][i].labels, expected[i][t].labels)
            assert torch.allclose(got[t][i].scores, expected[i][t].scores, rtol=0,
                                  atol=SCORE_ATOL)
    with pytest.raises(ValueError, match="max_batch"):
        MultiStreamExecutor(program, net, 2, max_batch=0)


def test_stream_options_that_do_not_fit_exit_2(videos, tmp_path, capsys):
    cases = ((["--videos", str(videos), "--streams", "2"], "--streams N replays one source"),
             (["--video", str(videos / "a.mp4"), "--video", str(videos / "b.mp4"),
               "--streams", "2"], "--streams N replays one source"),
             (["--videos", str(tmp_path)], "holds no video files"),
             (["--videos", str(tmp_path / "none")], "no such folder of videos"),
             (["--video", str(videos / "a.mp4"), "--video", str(videos / "a.mp4")],
              "the same folder: a"))
    for args, message in cases:
        assert main(["run", ADAPTIVE, "--net", "tiny", "--quiet", *args]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.parametrize("schedule", ["adaptive", "pipeline3"])
def test_the_simulator_batches_what_the_executor_batches(net, streams, schedule):
    """The batched capacity model (sim.batching.tick_price) groups each tick's stages as
    the executor does: the same stages in batches of the same sizes, tick by tick (three
    streams of one size, offset in time; adaptive's clocks replayed from the run)."""
    from cwdsl.ir.plan import Planner
    from cwdsl.sim.batching import tick_price
    from cwdsl.fitting.load import load_device
    from cwdsl.sim.costs import schedule_costs

    program = load(ROOT / "schedules" / f"{schedule}.cw", network="tiny")
    frames = [streams[0], streams[0][3:], streams[2]]
    ticks = min(len(f) for f in frames)
    by_range = {(s.first, s.last): s.name for s in program.stage_nodes}
    multi = MultiStreamExecutor(program, net, 3)
    seen: list[tuple[str, int]] = []
    real = multi.runner.run_stage
    multi.runner.run_stage = lambda x, first, last, *a, **k: seen.append((
        by_range[first, last], (x if isinstance(x, torch.Tensor) else next(iter(x.values())))
        .shape[0])) or real(x, first, last, *a, **k)
    planner = Planner(program)
    costs = schedule_costs(program, load_device("cpu"), (128, 128))
    try:
        for t in range(ticks):
            seen.clear()
            results = multi.tick([f[t] for f in frames])
            plans = [planner.plan(r.frame, r.atom_values) for r in results]
            priced = tick_price(plans, costs).batches
            assert sorted(seen) == sorted((stage, k) for _, stage, k in priced), t
    finally:
        multi.close()
