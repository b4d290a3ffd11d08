"""``else warp(flow=codec)``: the decoder's motion vectors as flow, against clips whose
motion is known. Every clip here is a crop moving by (dx, dy) = (3, 2) pixels a frame over
a still image (``frame_i = image[y0 + 2i :, x0 + 3i :]``), so ``current(x) =
previous(x + (3, 2))``: the flow of frame t back to the frame ``back`` frames before it is
``back * (3, 2)`` everywhere (cwdsl.runtime.flow's convention). Real PyAV/FFmpeg encodes
and decodes throughout (nothing of PyAV is mocked)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from cwdsl import compile_text
from cwdsl.core.errors import InputError
from cwdsl.demo.scenes import generate_clip
from cwdsl.evaluate.codecdata import check_motion_data, encode_data
from cwdsl.evaluate.protocol import EvalData, LabeledClip
from cwdsl.media.encode import available_encoders, write_video
from cwdsl.media.motionvectors import ANCHOR_PICTURES, CodecMotion, from_array
from cwdsl.media.transcode import (CodecSettings, decode, encode, parse_codec,
                                   transcode)
from cwdsl.media.video import MotionLog, read_video
from cwdsl.nets import build_network
from cwdsl.nets.bundled import bundled_weights
from cwdsl.nets.geometry import IDENTITY_GRID
from cwdsl.nets.preprocess import frame_tensor, normalize
from cwdsl.nets.weights import load_weights
from cwdsl.run.sources import check_motion
from cwdsl.runtime.codecflow import (CodecFlow, cell_vectors, dense_flow, fill_holes,
                                     upsample_cells)
from cwdsl.runtime.executor import Executor
from cwdsl.runtime.warp import warp_tensor

ROOT = Path(__file__).resolve().parents[1]
STEP = np.array([3.0, 2.0])          # (dx, dy) pixels a frame
H, W, N = 96, 128, 12                 # the texture clip
MARGIN = 16                           # pixels from the border that a crop's motion uncovers

# AVMotionVector as PyAV's side data gives it (the fields from_array reads, and the rest)
MV_DTYPE = np.dtype([("source", "<i4"), ("w", "u1"), ("h", "u1"), ("src_x", "<i2"),
                     ("src_y", "<i2"), ("dst_x", "<i2"), ("dst_y", "<i2"), ("flags", "<u8"),
                     ("motion_x", "<i4"), ("motion_y", "<i4"), ("motion_scale", "<u2")])


def records(rows) -> np.ndarray:
    """AVMotionVector records from (source, w, h, dst_x, dst_y, motion_x, motion_y, scale)."""
    out = np.zeros(len(rows), MV_DTYPE)
    for i, (source, w, h, x, y, mx, my, scale) in enumerate(rows):
        out[i] = (source, w, h, x + mx // max(scale, 1), y + my // max(scale, 1), x, y, 0,
                  mx, my, scale)
    return out


def panning(image: np.ndarray, frames: int, hw: tuple[int, int], start: int = 8):
    h, w = hw
    return [np.ascontiguousarray(image[start + 2 * i:start + 2 * i + h,
                                       start + 3 * i:start + 3 * i + w]) for i in range(frames)]


def texture_pan(frames: int = N, hw: tuple[int, int] = (H, W)) -> list[np.ndarray]:
    """A blurred random texture panned by (3, 2) pixels a frame."""
    rng = np.random.default_rng(0)
    h, w = hw
    noise = rng.integers(0, 256, (h + 2 * frames + 16, w + 3 * frames + 16, 3)).astype(np.uint8)
    return panning(cv2.GaussianBlur(noise, (0, 0), 2.0), frames, hw)


def dense(motion: CodecMotion, hw) -> np.ndarray:
    """:func:`dense_flow` (documented as (H, W, 2): x and y last) as (2, H, W) planes."""
    flow = dense_flow(motion, hw)
    assert flow.shape == (int(hw[0]), int(hw[1]), 2) and flow.dtype == np.float32
    return np.ascontiguousarray(flow.transpose(2, 0, 1))


def median_vector(flow: np.ndarray) -> np.ndarray:
    return np.median(flow.reshape(2, -1), axis=1)


def within(flow: np.ndarray, vector, tolerance: float = 0.5) -> float:
    """The fraction of pixels whose flow is within ``tolerance`` of ``vector`` (both axes)."""
    error = np.abs(flow - np.asarray(vector, np.float32)[:, None, None]).max(axis=0)
    return float(np.mean(error <= tolerance))


def anchors_before(pictures: list[str]) -> list[int | None]:
    """For each frame (display order) the last I/P frame before it, from the pictures."""
    out, last = [], None
    for t, picture in enumerate(pictures):
        out.append(last)
        if picture in ANCHOR_PICTURES:
            last = t
    return out


@pytest.fixture(scope="module")
def frames():
    return texture_pan()


@pytest.fixture(scope="module")
def coded_p(frames):
    return transcode(frames, parse_codec("h264:bframes=0"))


@pytest.fixture(scope="module")
def coded_b(frames):
    return transcode(frames, parse_codec("h264:bframes=2"))


@pytest.fixture(scope="module")
def tiny():
    threads = torch.get_num_threads()
    torch.set_num_threads(min(threads, 2))
    net = build_network("tiny")
    load_weights(net, bundled_weights("tiny"))
    yield net.eval()
    torch.set_num_threads(threads)


# -- the convention, P frames only -----------------------------------------------------
def test_p_frame_vectors_are_the_pan(coded_p):
    motions = coded_p.motions
    assert len(coded_p.frames) == N and coded_p.frames[0].shape == (H, W, 3)
    assert coded_p.psnr_db > 30 and coded_p.bytes > 0
    first = motions[0]
    assert first.picture == "I" and not first.usable and "intra" in first.problem
    assert not dense(first, (H, W)).any()
    for t, motion in enumerate(motions[1:], 1):
        assert motion.picture == "P" and motion.back == 1 and motion.usable, t
        assert motion.size == (H, W) and motion.past.shape[1] == 6
        flow = dense(motion, (H, W))
        assert flow.shape == (2, H, W) and flow.dtype == np.float32
        assert np.allclose(median_vector(flow), STEP), (t, median_vector(flow))
        assert within(flow, STEP) > 0.9, (t, within(flow, STEP))


def test_codec_flow_at_another_run_size_is_scaled(coded_p):
    motion = coded_p.motions[3]
    half = dense(motion, (H // 2, W // 2))
    assert half.shape == (2, H // 2, W // 2)
    assert np.allclose(median_vector(half), STEP / 2)
    wide = dense(motion, (H, 2 * W))  # x doubles, y stays
    assert np.allclose(median_vector(wide), STEP * [2, 1])
    flow = CodecFlow()(motion, (H, W), "cpu")
    assert flow.flow.shape == (1, 2, H, W) and flow.flow.dtype == torch.float32
    assert flow.back == 1 and flow.anchor and flow.problem is None
    assert np.array_equal(flow.flow[0].numpy(), dense(motion, (H, W)))


def test_torch_upsampling_of_the_cells_matches_the_hosts(coded_b):
    """upsample_cells (the GPU path, run here on the CPU) gives dense_flow's flow."""
    for motion in coded_b.motions[1:4]:
        cells = torch.from_numpy(fill_holes(*cell_vectors(motion))).permute(2, 0, 1)[None]
        for hw in ((H, W), (H // 2, W // 2), (72, 200)):
            torch_flow = upsample_cells(cells.contiguous(), motion.size, hw)
            assert torch_flow.shape == (1, 2, *hw)
            assert np.allclose(torch_flow[0].numpy(), dense(motion, hw), atol=1e-4), hw


def test_warping_the_previous_frame_by_the_codec_flow_gives_the_current(coded_p):
    inner = (slice(MARGIN, H - MARGIN), slice(MARGIN, W - MARGIN))
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    for t in range(1, N):
        previous = coded_p.frames[t - 1].astype(np.float32)
        current = coded_p.frames[t].astype(np.float32)
        flow = CodecFlow()(coded_p.motions[t], (H, W)).flow
        moved = warp_tensor(torch.from_numpy(previous).permute(2, 0, 1)[None], flow,
                            IDENTITY_GRID, (H, W))[0].permute(1, 2, 0).numpy()
        # the same sampling written out with OpenCV: previous at x + flow(x)
        f = flow[0].numpy()
        remapped = cv2.remap(previous, xs + f[0], ys + f[1], cv2.INTER_LINEAR)
        assert np.abs(moved[inner] - remapped[inner]).max() < 0.05, t
        warped = np.abs(moved - current)[inner].mean()
        still = np.abs(previous - current)[inner].mean()
        # measured: 1.5-2.3 against 7.3-8.1 (grey levels): near the coding noise
        assert warped < 0.4 * still and warped < 4.0, (t, warped, still)
        # the other sign (reference(x - flow)) moves the frame the wrong way
        backwards = warp_tensor(torch.from_numpy(previous).permute(2, 0, 1)[None], -flow,
                                IDENTITY_GRID, (H, W))[0].permute(1, 2, 0).numpy()
        assert np.abs(backwards - current)[inner].mean() > still, t


# -- B frames --------------------------------------------------------------------------
def test_b_frames_point_back_to_the_last_anchor(coded_b):
    motions = coded_b.motions
    pictures = [m.picture for m in motions]
    assert pictures[0] == "I" and "B" in pictures
    anchor = anchors_before(pictures)
    p_after_b = [t for t in range(2, N) if pictures[t] == "P" and pictures[t - 1] == "B"]
    assert p_after_b, pictures
    for t in range(1, N):
        motion = motions[t]
        assert motion.back == t - anchor[t], (t, pictures)
        assert motion.usable, (t, motion.problem)
        flow = dense(motion, (H, W))
        assert np.allclose(median_vector(flow), motion.back * STEP), \
            (t, pictures[t], motion.back, median_vector(flow))
        assert within(flow, motion.back * STEP) > 0.8, t
        frame_flow = CodecFlow()(motion, (H, W))
        assert frame_flow.back == motion.back
        assert frame_flow.anchor == (motion.picture == "P")
    assert {motions[t].back for t in p_after_b} <= {2, 3}
    assert 3 in {motions[t].back for t in p_after_b}  # two B frames between anchors
    assert any(m.future > 0 for m in motions if m.picture == "B")


def test_read_video_logs_each_frames_vectors(tmp_path, frames):
    """A file's frames read for flow=codec: read_video's MotionLog gives what decode does."""
    path = tmp_path / "pan.mp4"
    data = encode(frames, parse_codec("h264:bframes=2"))
    path.write_bytes(data)
    _, expected = decode(data, (H, W))
    log = MotionLog()
    count = 0
    for t, rgb in enumerate(read_video(path, motion=log)):
        assert rgb.shape == (H, W, 3)
        motion = log.take(t)
        assert isinstance(motion, CodecMotion)
        assert (motion.picture, motion.back) == (expected[t].picture, expected[t].back)
        assert np.array_equal(motion.past, expected[t].past)
        if t:
            assert np.allclose(median_vector(dense(motion, (H, W))), motion.back * STEP)
        with pytest.raises(KeyError):
            log.take(t)
        count += 1
    assert count == N


def test_vectors_of_write_videos_own_mp4_match_their_back(tmp_path, frames):
    if "libx264" not in available_encoders():
        pytest.skip("write_video encodes with libx264 (B frames) only where PyAV has it")
    path = tmp_path / "written.mp4"
    write_video(path, frames)
    log, wrong = MotionLog(), []
    for t, _ in enumerate(read_video(path, motion=log)):
        motion = log.take(t)
        if motion.usable:
            median = median_vector(dense(motion, (H, W)))
            if not np.allclose(median, motion.back * STEP):
                wrong.append((t, motion.picture, motion.back, tuple(median)))
    assert wrong == []


def test_mpeg4_b_frames_are_refused_or_read_as_without_vectors(frames):
    """FFmpeg exports MPEG-4 part 2 B frames' vectors as zero: --codec refuses them, and a
    file that has them reads its B frames as frames without usable vectors."""
    with pytest.raises(InputError, match="B frames"):
        parse_codec("mpeg4:bframes=2")
    settings = CodecSettings("mpeg4", gop=250, bframes=2)  # what a user's file may hold
    coded = transcode(frames, settings)
    b_frames = [m for m in coded.motions if m.picture == "B"]
    assert b_frames and all(not m.usable and "B frame" in m.problem for m in b_frames)
    p_frames = [m for m in coded.motions[1:] if m.picture == "P" and m.usable]
    assert p_frames and all(np.allclose(median_vector(dense(m, (H, W))), m.back * STEP)
                            for m in p_frames)


# -- the executor ----------------------------------------------------------------------
KEYED = """network tiny
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr
clock key = every {k}
compute s1 when key else {c}
compute s2 when key else {c}
compute s3 when key else {c}
output fuse(s1, s2, s3)
"""
CODEC = "warp(flow=codec)"


@pytest.fixture(scope="module")
def scene_pan():
    """A demo scene (objects the tiny network labels) panned by (3, 2) pixels a frame, coded
    without and with B frames."""
    hw = (128, 160)
    image = generate_clip(1, 1, (hw[0] + 2 * N + 16, hw[1] + 3 * N + 16)).frames[0]
    frames = panning(image, N, hw)
    return {b: transcode(frames, parse_codec(f"h264:bframes={b}")) for b in (0, 2)}


def run_keyed(net, coded, method: str, k: int = 4):
    """Each frame's labels and oracle agreement; with the codec, the s1 totals."""
    executor = Executor(compile_text(KEYED.format(k=k, c=method)), net,
                        concurrency="sequential")
    labels, agreement, totals = [], [], []
    for t, (rgb, motion) in enumerate(zip(coded.frames, coded.motions)):
        x = frame_tensor(rgb)
        result = executor.step(x, motion=motion)
        with torch.inference_mode():
            oracle = net(normalize(x, net.spec.norm))[0].argmax(0)
        labels.append(result.labels)
        agreement.append((result.labels == oracle).float().mean().item())
        if t % k == 0:
            assert result.computed == ("s1", "s2", "s3") and result.warped == ()
        else:
            assert result.computed == ()
            assert result.warped == (("s1", "s2", "s3") if method == CODEC else ())
            assert result.flow_problems == {}
        if method == CODEC:
            assert executor.needs_motion
            total = executor._warps["s1"].total
            totals.append(None if total is None else total[0].numpy())
    executor.close()
    return labels, np.array(agreement), totals


def test_codec_warp_with_and_without_b_frames_agree_and_beat_the_cache(tiny, scene_pan):
    k = 4
    skipped = [t for t in range(N) if t % k]
    runs = {}
    for b, coded in scene_pan.items():
        assert any(m.picture == "B" for m in coded.motions) == (b > 0)
        warp_labels, warp, totals = run_keyed(tiny, coded, CODEC, k)
        _, cache, _ = run_keyed(tiny, coded, "cache", k)
        runs[b] = warp_labels
        # the warped state follows the pan: composed totals are (t mod k) frames of motion
        for t in skipped:
            assert np.allclose(median_vector(totals[t]), (t % k) * STEP), (b, t)
            assert within(totals[t], (t % k) * STEP) > 0.8, (b, t)
        for t in range(0, N, k):
            assert totals[t] is None
        # measured: 0.87 against 0.81 of pixels labelled as the oracle, over skipped frames
        assert warp[skipped].mean() > cache[skipped].mean() + 0.03, (b, warp, cache)
        assert (warp[skipped] > cache[skipped]).all(), (b, warp, cache)
        assert np.allclose(warp[::k], 1.0) and np.allclose(cache[::k], 1.0)
    between = [(x == y).float().mean().item() for x, y in zip(runs[0], runs[2])]
    assert min(between) > 0.95, np.round(between, 3)


def test_codec_schedule_needs_motion_and_others_do_not(tiny, coded_p):
    executor = Executor(compile_text(KEYED.format(k=2, c=CODEC)), tiny)
    assert executor.needs_motion
    x = frame_tensor(coded_p.frames[0])
    with pytest.raises(ValueError, match="motion"):
        executor.step(x)
    assert executor.frame == 0
    result = executor.step(x, motion=coded_p.motions[0])  # frame 0 computes every stage
    assert result.frame == 0 and result.flow_problems == {}
    with pytest.raises(ValueError, match="flow=codec"):
        executor.step(frame_tensor(coded_p.frames[1]))
    dis = Executor(compile_text(KEYED.format(k=2, c="warp(flow=dis_ultrafast)")), tiny)
    assert not dis.needs_motion
    assert dis.step(x).frame == 0 and dis.step(frame_tensor(coded_p.frames[1])).warped


# -- bad input -------------------------------------------------------------------------
def test_corrupt_vectors_are_not_usable():
    size = (H, W)
    good = from_array(records([(-1, 16, 16, 8, 8, 12, 8, 4)]), size, 1, "P")
    assert good.usable and good.problem is None
    assert np.allclose(good.past, [[8, 8, 16, 16, 3, 2]])
    cases = {
        "scale <= 0": records([(-1, 16, 16, 8, 8, 12, 8, 0)]),
        "outside the frame": records([(-1, 16, 16, W + 100, 8, 12, 8, 4)]),
        "block size": records([(-1, 5, 16, 8, 8, 12, 8, 4)]),
        "longer than the frame": records([(-1, 16, 16, 8, 8, 4 * (W + 200), 0, 4)]),
    }
    for phrase, array in cases.items():
        motion = from_array(array, size, 1, "P")
        assert not motion.usable and motion.problem.startswith("corrupt"), motion.problem
        assert phrase in motion.problem and len(motion.past) == 0
        assert not dense(motion, size).any()
    missing = from_array(np.zeros(1, [("source", "<i4"), ("w", "u1")]), size, 1, "P")
    assert missing.problem.startswith("corrupt") and "motion_scale" in missing.problem
    future = from_array(records([(1, 16, 16, 8, 8, 12, 8, 4)]), size, 2, "B")
    assert not future.usable and "past" in future.problem and future.back == 2


def test_intra_frames_give_a_zero_flow_that_says_why():
    intra = from_array(None, (H, W), 1, "I")
    assert not intra.usable and "intra" in intra.problem
    flow = CodecFlow()(intra, (H, W))
    assert flow.problem == intra.problem and flow.back == 1 and flow.anchor
    assert not flow.flow.any() and flow.flow.shape == (1, 2, H, W)


def test_executor_records_a_zero_flow_for_corrupt_and_intra_frames(tiny):
    frames = texture_pan(8, (H, W))
    coded = transcode(frames, parse_codec("h264:gop=4"))
    assert [m.picture for m in coded.motions][:5] == ["I", "P", "P", "P", "I"]
    corrupt = from_array(records([(-1, 16, 16, 8, 8, 12, 8, 0)]), (H, W), 1, "P")
    motions = list(coded.motions)
    motions[1] = corrupt
    warp = Executor(compile_text(KEYED.format(k=8, c=CODEC)), tiny)
    cache = Executor(compile_text(KEYED.format(k=8, c="cache")), tiny)
    for t, (rgb, motion) in enumerate(zip(coded.frames, motions)):
        x = frame_tensor(rgb)
        result, cached = warp.step(x, motion=motion), cache.step(x)
        if t == 1:  # a zero flow: the state stays as it was, as a cache keeps it
            assert result.flow_problems == {"codec": corrupt.problem}
            assert result.flow_problems["codec"].startswith("corrupt")
            assert result.warped == ("s1", "s2", "s3")
            assert torch.allclose(result.scores, cached.scores, atol=1e-5)
        elif t == 4:
            assert set(result.flow_problems) == {"codec"}
            assert "intra" in result.flow_problems["codec"]
        else:
            assert result.flow_problems == {}, t
        if t in (2, 3, 5):  # real vectors: the warped state moves, unlike a cache's
            assert not torch.allclose(result.scores, cached.scores, atol=1e-3), t


def test_a_video_whose_codec_has_no_vectors_is_an_input_error(tmp_path, frames):
    path = tmp_path / "intra.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=15)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuvj420p"
        for rgb in frames[:3]:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert len(list(read_video(path))) == 3  # a good video, without vectors
    with pytest.raises(InputError) as error:
        read_video(path, motion=MotionLog())
    message = str(error.value)
    assert "mjpeg" in message and str(path) in message


@pytest.mark.parametrize("text, phrase", [
    ("h265", "name a codec"), ("hevc:crf=20", "name a codec"), ("", "name a codec"),
    ("h264:crf=99", "crf must be"), ("h264:crf=-1", "crf must be"),
    ("h264:gop=0", "gop must be"), ("h264:bframes=17", "bframes must be"),
    ("h264:bframes=two", "bframes must be"), ("h264:foo=1", "unknown setting"),
    ("h264:crf", "unknown setting"), ("mpeg4:crf=20", "crf is x264's"),
])
def test_bad_codec_text_is_an_input_error(text, phrase):
    with pytest.raises(InputError, match=phrase) as error:
        parse_codec(text)
    assert "--codec" in str(error.value)


@pytest.mark.parametrize("text, expected", [
    ("h264", CodecSettings("h264", 23, 250, 0)),
    ("h264:crf=28,gop=30", CodecSettings("h264", 28, 30, 0)),
    (" h264:bframes=3,crf=0,gop=1 ", CodecSettings("h264", 0, 1, 3)),
    ("h264:crf=51,gop=100000,bframes=16", CodecSettings("h264", 51, 100000, 16)),
    ("mpeg4:gop=12", CodecSettings("mpeg4", 23, 12, 0)),
    ("mpeg4", CodecSettings("mpeg4", 23, 250, 0)),
])
def test_codec_text_round_trips(text, expected):
    settings = parse_codec(text)
    assert settings == expected
    assert parse_codec(settings.text) == settings
    assert parse_codec(settings.text).text == settings.text
    assert ("crf=" in settings.text) == (settings.codec == "h264")


def test_check_motion_refuses_sources_without_vectors(tmp_path):
    codec = compile_text(KEYED.format(k=4, c=CODEC))
    folder = tmp_path / "frames"
    folder.mkdir()
    for source, phrase in [((None, None), "demo"), ((None, str(folder)), "folder"),
                           ((str(folder), None), "folder"),
                           (("rtsp://camera.invalid/live", None), "live")]:
        with pytest.raises(InputError, match=phrase) as error:
            check_motion(codec, *source)
        assert "flow=codec" in str(error.value)
    with pytest.raises(InputError, match="realtime"):
        check_motion(codec, str(tmp_path / "clip.mp4"), None, realtime=True)
    check_motion(codec, str(tmp_path / "clip.mp4"), None)  # a video file has them
    check_motion(compile_text(KEYED.format(k=4, c="cache")), None, None)  # needs none


def test_check_motion_data_wants_coded_clips(frames):
    codec = compile_text(KEYED.format(k=4, c=CODEC))
    labels = tuple(np.zeros((H, W), np.uint8) for _ in frames[:4])
    data = EvalData("four frames", (LabeledClip("pan", tuple(frames[:4]), labels),))
    with pytest.raises(InputError, match="--codec"):
        check_motion_data([codec], data)
    check_motion_data([compile_text(KEYED.format(k=4, c="cache"))], data)
    coded = encode_data(data, parse_codec("h264:bframes=2"))
    check_motion_data([codec], coded)
    clip = coded.clips[0]
    assert len(clip.motion) == 4 and clip.labels == labels
    assert [m.picture for m in clip.motion][0] == "I"
    assert all(m.usable for m in clip.motion[1:])
    assert coded.codec["bframes"] == 2 and coded.codec["bytes"] > 0
    assert "h264:crf=23,gop=250,bframes=2" in coded.description


# -- cell vectors ----------------------------------------------------------------------
def test_holes_take_the_nearest_known_cell():
    # a 32x48 frame: 4x6 cells; block A (1, 0) over cells rows 0-1, cols 0-1; block B
    # (0, 5) over rows 2-3, cols 4-5
    motion = from_array(records([(-1, 16, 16, 8, 8, 4, 0, 4), (-1, 16, 16, 40, 24, 0, 20, 4)]),
                        (32, 48), 1, "P")
    flow, known = cell_vectors(motion)
    assert known.sum() == 8 and known[:2, :2].all() and known[2:, 4:].all()
    filled = fill_holes(flow, known)
    a, b = [1, 0], [0, 5]
    for (y, x), vector in {(0, 2): a, (3, 0): a, (2, 1): a, (0, 5): b, (1, 4): b,
                           (3, 3): b, (2, 3): b}.items():
        assert np.array_equal(filled[y, x], vector), (y, x, filled[y, x])
    assert np.array_equal(filled[known], flow[known])
    assert not fill_holes(np.zeros((2, 3, 2), np.float32), np.zeros((2, 3), bool)).any()


def test_a_block_smaller_than_a_cell_writes_the_cell_it_lies_in():
    motion = from_array(records([(-1, 4, 4, 10, 10, 8, 8, 4)]), (32, 48), 1, "P")
    _, known = cell_vectors(motion)
    assert known[1, 1] and known.sum() == 1


# -- the command line ------------------------------------------------------------------
CLI_SCHEDULE = """network tiny
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. fc7   head score_pool4, score_fr
clock key = every 4
compute s1 when key else warp(flow=codec)
compute s2 when key else warp(flow=codec)
output fuse(s1, s2)
"""


def cwdsl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cwdsl", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """A schedule warping by flow=codec and a labelled six-frame pan (images/, labels/)."""
    root = tmp_path_factory.mktemp("cli")
    (root / "codec.cw").write_text(CLI_SCHEDULE)
    clip = generate_clip(1, 6, (64, 80), motion="translate")
    for sub in ("images", "labels"):
        (root / "data" / sub).mkdir(parents=True)
    for i, (rgb, label) in enumerate(zip(clip.frames, clip.labels)):
        Image.fromarray(rgb).save(root / "data" / "images" / f"f{i:02d}.png")
        Image.fromarray(label).save(root / "data" / "labels" / f"f{i:02d}.png")
    return root


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    return lines[0]


def test_cli_eval_of_a_codec_schedule_wants_codec(labelled):
    line = one_line_error(cwdsl("eval", "codec.cw", "--data", "data", "--quiet",
                                cwd=labelled))
    assert "--codec" in line and "flow=codec" in line
    done = cwdsl("eval", "codec.cw", "--data", "data", "--quiet", "--json",
                 "--codec", "h264:bframes=2", cwd=labelled)
    assert done.returncode == 0, done.stderr
    table = json.loads(done.stdout)
    assert table["codec"]["bframes"] == 2 and table["codec"]["codec"] == "h264"
    row, = table["rows"]
    assert row["schedule"] == "codec" and row["frames"] == 6
    assert 0 < row["mean_iu"] <= 100


def test_cli_run_of_a_codec_schedule_on_a_frames_folder_exits_2(labelled):
    line = one_line_error(cwdsl("run", "codec.cw", "--frames", "data/images", "--out",
                                "out", "--quiet", cwd=labelled))
    assert "flow=codec" in line and "folder" in line
    assert not (labelled / "out").exists()


def test_cli_run_reads_vectors_from_a_file_and_from_several_streams(labelled):
    """One video, then two streams batched (--videos), warping by the vectors each file's
    decoder exports: the records say the codec flow ran and which frames had no vectors."""
    videos = labelled / "videos"
    videos.mkdir()
    for stem, seed in (("a", 1), ("b", 2)):
        write_video(videos / f"{stem}.mp4", generate_clip(seed, 9, (64, 80),
                                                          motion="translate").frames, fps=10)
    done = cwdsl("run", "codec.cw", "--video", "videos/a.mp4", "--out", "one", "--quiet",
                 cwd=labelled)
    assert done.returncode == 0, done.stderr
    record = json.loads((labelled / "one" / "run.json").read_text())
    assert record["summary"]["flow_ms_mean"]["codec"] > 0
    warped = [f for f in record["frames"] if f["warped"]]
    assert len(warped) == 6 and all("codec" in f["flow_ms"] for f in warped)  # 9 frames, k=4
    assert record["summary"]["zero_flow_frames"]["codec"] == sum(
        "codec" in f.get("flow_problems", {}) for f in record["frames"])
    done = cwdsl("run", "codec.cw", "--videos", "videos", "--out", "many", "--quiet",
                 cwd=labelled)
    assert done.returncode == 0, done.stderr
    for stem in ("a", "b"):
        frames = json.loads((labelled / "many" / stem / "run.json").read_text())["frames"]
        assert len(frames) == 9 and sum(bool(f["warped"]) for f in frames) == 6
