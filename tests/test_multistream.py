"""The multi-stream executor against one single-stream executor per stream.

Streams play the demo clip offset in time (some start late: ``None`` frames until then),
one of them at another size (its own batch). Every stream's clocks, computed and warped
stages and labels must be the single-stream executor's exactly; scores equal up to
:data:`SCORE_ATOL`: a batched convolution may block its sums differently from one image's
(oneDNN picks kernels by batch size), so last bits of float32 may differ. Measured on the
development CPU (x86-64, torch's oneDNN): the largest difference over these runs is
7.6e-6 (adaptive, skipframe_warp; 5.7e-6 pipeline3) on scores of order 10, a few float32
ulps; the bound is that with a ~2.5x margin for other CPUs' kernels. Unbatched, the path is
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
