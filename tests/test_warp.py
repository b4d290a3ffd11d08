"""Warping (cwdsl.runtime.warp, cell grids, the executor's Flow/Warp steps) against
references written out by hand: receptive-field arithmetic, numpy bilinear sampling with
loops, translations whose composition is known, and the frame oracle."""
from pathlib import Path

import numpy as np
import pytest
import torch

from cwdsl import compile_text
from cwdsl.core.netspec import FCN8S, TINY
from cwdsl.demo.scenes import generate_clip
from cwdsl.nets import build_network
from cwdsl.nets.bundled import bundled_weights
from cwdsl.nets.geometry import CellGrid, cell_grid, image_window, uniform_grid
from cwdsl.nets.preprocess import frame_tensor, normalize
from cwdsl.nets.weights import load_weights
from cwdsl.runtime.executor import Executor
from cwdsl.runtime.flow import OpticalFlow
from cwdsl.runtime.warp import compose, state_grids, warp_state, warp_tensor

ROOT = Path(__file__).resolve().parents[1]


def constant_flow(dx: float, dy: float, hw=(40, 48)) -> torch.Tensor:
    flow = torch.empty(1, 2, *hw)
    flow[0, 0], flow[0, 1] = dx, dy
    return flow


# -- cell grids -------------------------------------------------------------------------
def test_fcn8s_cell_grids_by_hand():
    # conv1_1 (k3, pad 100): start 1 - 100 = -99; conv1_2 keeps it; pool1 (k2 s2): +0.5 →
    # -98.5, jump 2; conv2_x keep; pool2: +0.5*2 → -97.5, jump 4; pool3: +2 → -95.5, jump 8;
    # pool4: +4 → -91.5, jump 16; pool5: +8 → -83.5, jump 32; fc6 (k7, no pad): +3*32 → 12.5.
    hw = (500, 500)
    assert cell_grid(FCN8S, "pool3", hw) == CellGrid(-95.5, 8, -95.5, 8)
    assert cell_grid(FCN8S, "pool4", hw) == CellGrid(-91.5, 16, -91.5, 16)
    assert cell_grid(FCN8S, "fc7", hw) == CellGrid(12.5, 32, 12.5, 32)
    net = build_network("fcn8s", device="meta")
    assert net.cell_grid("score_pool4", hw) == CellGrid(-91.5, 16, -91.5, 16)
    assert net.cell_grid("score_fr", hw) == net.cell_grid("fc7", hw) == CellGrid(12.5, 32, 12.5, 32)
    assert net.cell_grid("image", hw) == CellGrid(0, 1, 0, 1)
    with pytest.raises(ValueError, match="no layer or head"):
        net.cell_grid("score_pool5", hw)


def test_cell_grid_agrees_with_image_window():
    for layer in ("pool3", "pool4", "fc7"):
        grid = cell_grid(TINY, layer, (128, 96))
        ys, xs = image_window(TINY, layer, (128, 96))
        assert grid.start_y + ys.start * grid.jump_y >= 0 > grid.start_y + (ys.start - 1) * grid.jump_y
        assert grid.start_x + (xs.stop - 1) * grid.jump_x <= 95 < grid.start_x + xs.stop * grid.jump_x


def test_head_with_input_scale_keeps_its_layers_grid():
    net = build_network("fcn8s_atonce", device="meta")
    assert net.cell_grid("score_pool3", (64, 64)) == cell_grid(FCN8S, "pool3", (64, 64))


def test_module_layers_fall_back_to_a_uniform_grid():
    net = build_network("espnet", device="meta")
    hw = (360, 480)
    # score_l3 is 1/8 of the input: 45x60 cells of 8 pixels, cell 0 centred on pixel 3.5
    assert net.cell_grid("score_l3", hw) == CellGrid(3.5, 8, 3.5, 8)
    assert net.cell_grid("level3_C", hw) == CellGrid(1.5, 4, 1.5, 4)
    assert net.cell_grid("b1", hw, (180, 240)) == CellGrid(0.5, 2, 0.5, 2)
    assert uniform_grid((10, 30), (4, 5)) == CellGrid(0.75, 2.5, 2.5, 6)
    with pytest.raises(ValueError, match="map_hw"):
        cell_grid(net.spec, "b3", hw)


# -- compose ----------------------------------------------------------------------------
def test_compose_of_two_translations_is_their_sum():
    out = compose(constant_flow(1.5, -2.0), constant_flow(-4.0, 0.25))
    assert torch.allclose(out, constant_flow(-2.5, -1.75), atol=1e-6)
    step = constant_flow(2.0, 1.0)
    assert compose(step, None) is step


def test_compose_samples_total_where_step_points():
    h, w = 30, 40
    xs = torch.arange(w, dtype=torch.float32).expand(h, w)
    total = torch.zeros(1, 2, h, w)
    total[0, 0] = 0.1 * xs  # dx grows along x: total(x) depends on where it is read
    out = compose(constant_flow(3.0, 0.0, (h, w)), total)
    # step(x) + total(x + step(x)) = 3 + 0.1 (x + 3) inside; x + 3 clamps to w - 1 beyond
    expected = 3.0 + 0.1 * np.minimum(np.arange(w) + 3.0, w - 1)
    assert np.allclose(out[0, 0].numpy(), np.broadcast_to(expected, (h, w)), atol=1e-5)
    assert torch.allclose(out[0, 1], torch.zeros(h, w), atol=1e-6)


# -- warp_tensor against a numpy reference ----------------------------------------------
def bilinear_reference(x: np.ndarray, flow: np.ndarray, grid: CellGrid) -> np.ndarray:
    """Loops: each cell looks up the flow at its image position (clamped to the image),
    converts it to cells and samples x there (bilinear, clamped to the map)."""
    c, h, w = x.shape
    big_h, big_w = flow.shape[1:]

    def sample(img, y, xx):
        y = min(max(y, 0.0), img.shape[-2] - 1.0)
        xx = min(max(xx, 0.0), img.shape[-1] - 1.0)
        y0, x0 = int(np.floor(y)), int(np.floor(xx))
        y1, x1 = min(y0 + 1, img.shape[-2] - 1), min(x0 + 1, img.shape[-1] - 1)
        fy, fx = y - y0, xx - x0
        return ((1 - fy) * (1 - fx) * img[..., y0, x0] + (1 - fy) * fx * img[..., y0, x1]
                + fy * (1 - fx) * img[..., y1, x0] + fy * fx * img[..., y1, x1])

    out = np.empty_like(x)
    for i in range(h):
        for j in range(w):
            py, px = grid.start_y + i * grid.jump_y, grid.start_x + j * grid.jump_x
            dx, dy = sample(flow, py, px)
            out[:, i, j] = sample(x, i + dy / grid.jump_y, j + dx / grid.jump_x)
    return out


@pytest.mark.parametrize("dx, dy", [(16.0, -8.0), (5.0, 3.0), (-27.0, 0.0)])
def test_translation_moves_a_tiny_score_map_by_translation_over_jump(dx, dy):
    hw = (96, 128)
    grid = cell_grid(TINY, "pool3", hw)  # jump 8, cell 0 at -95.5
    x = torch.randn(2, 3, 36, 40, generator=torch.Generator().manual_seed(0))
    out = warp_tensor(x, constant_flow(dx, dy, hw), grid, hw)
    assert out.shape == x.shape and out.dtype == x.dtype
    for n in range(2):
        ref = bilinear_reference(x[n].numpy(), constant_flow(dx, dy, hw)[0].numpy(), grid)
        assert np.allclose(out[n].numpy(), ref, atol=1e-5)
    if (dx, dy) == (16.0, -8.0):  # whole cells: an exact shift by (-1, +2) cells
        assert torch.allclose(out[:, :, 1:, :-2], x[:, :, :-1, 2:], atol=1e-5)


def test_varying_flow_is_read_at_each_cells_image_position():
    hw = (64, 80)
    flow = torch.zeros(1, 2, *hw)
    flow[0, 0] = 0.25 * torch.arange(80, dtype=torch.float32)  # dx grows to the right
    flow[0, 1] = -0.1 * torch.arange(64, dtype=torch.float32)[:, None]
    x = torch.randn(1, 4, 10, 12, generator=torch.Generator().manual_seed(1))
    for grid in (uniform_grid(hw, (10, 12)), cell_grid(TINY, "pool4", hw)):
        if grid.jump_y == 16:
            x = torch.randn(1, 4, 10, 11, generator=torch.Generator().manual_seed(2))
        out = warp_tensor(x, flow, grid, hw)
        ref = bilinear_reference(x[0].numpy(), flow[0].numpy(), grid)
        assert np.allclose(out[0].numpy(), ref, atol=1e-5)


def test_zero_flow_is_the_identity_and_dtype_is_kept():
    hw = (40, 48)
    x = torch.randn(1, 5, 7, 9, dtype=torch.float64)
    out = warp_tensor(x, torch.zeros(1, 2, *hw), uniform_grid(hw, (7, 9)), hw)
    assert out.dtype == torch.float64 and torch.allclose(out, x, atol=1e-5)  # a float32 grid
    with pytest.raises(ValueError, match="flow is"):
        warp_tensor(x, torch.zeros(1, 2, 10, 10), uniform_grid(hw, (7, 9)), hw)


def test_warp_state_and_compose_trace_on_meta():
    hw = (500, 500)
    net = build_network("fcn8s", device="meta")
    flow = torch.empty(1, 2, *hw, device="meta")
    total = compose(flow, compose(flow, None))
    assert total.device.type == "meta" and total.shape == flow.shape
    x = torch.empty(1, 512, 32, 32, device="meta", dtype=torch.float16)
    out = warp_tensor(x, total, net.cell_grid("pool4", hw), hw)
    assert out.device.type == "meta" and out.shape == x.shape and out.dtype == torch.float16
    feats, scores = warp_state({"pool4": x}, {"score_pool4": x[:, :21]}, total,
                               {"pool4": net.cell_grid("pool4", hw),
                                "score_pool4": net.cell_grid("score_pool4", hw)}, hw)
    assert feats["pool4"].shape == x.shape and scores["score_pool4"].shape[1] == 21


# -- the executor -----------------------------------------------------------------------
SKIP = """network tiny
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr
clock even = every 2
compute s1 when even else {c}
compute s2 when even else {c}
compute s3 when even else {c}
output fuse(s1, s2, s3)
"""


@pytest.fixture(scope="module")
def trained():
    net = build_network("tiny")
    load_weights(net, bundled_weights("tiny"))
    return net.eval()


@pytest.fixture(scope="module")
def panning():
    clip = generate_clip(3, 16, (128, 128), motion="translate")
    return [frame_tensor(f) for f in clip.frames]


def agreement(net, program, frames):
    """Per odd (skipped) frame, the fraction of pixels labelled as the frame oracle does;
    even frames (every stage fires) must equal the oracle bit for bit."""
    executor = Executor(program, net)
    out = []
    for t, x in enumerate(frames):
        result = executor.step(x)
        with torch.inference_mode():
            oracle = net(normalize(x, net.spec.norm))
        if t % 2 == 0:
            assert torch.equal(result.scores, oracle) and result.warped == ()
        else:
            out.append((result.labels == oracle[0].argmax(0)).float().mean().item())
        if t == 0:
            assert result.warped == () and result.flow_ms == {} and result.warp_ms == {}
    return np.array(out), result


def test_warping_skipframe_agrees_with_the_oracle_better_than_caching(trained, panning):
    warp, last = agreement(trained, compile_text(SKIP.format(c="warp")), panning)
    cache, _ = agreement(trained, compile_text(SKIP.format(c="cache")), panning)
    assert last.warped == ("s1", "s2", "s3") and set(last.warp_ms) == {"s1", "s2", "s3"}
    assert set(last.flow_ms) == {"dis"} and last.computed == ()
    # measured: 0.963 vs 0.937 of pixels on this pan (3-4 pixels a frame); the warp wins
    # on every skipped frame
    assert warp.mean() > cache.mean() + 0.01
    assert (warp > cache).all()


def test_warped_features_feed_the_next_stage_and_reset_forgets(trained, panning):
    program = compile_text("""network tiny
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. fc7   head score_pool4, score_fr
compute s1 when every 2 else warp(flow=dis_ultrafast)
compute s2 when 1
output fuse(s1, s2)
""")
    executor = Executor(program, trained)
    hw = (128, 128)
    flow_of = OpticalFlow("dis_ultrafast")
    for t, x in enumerate(panning[:4]):
        result = executor.step(x)
        assert result.warped == (("s1",) if t % 2 else ())
        with torch.inference_mode():
            if t % 2 == 0:  # s1 computes: keep what it computed
                f1, s1 = trained.run_stage(normalize(x, trained.spec.norm), "conv1_1",
                                           "pool3", ["score_pool3"])
                continue
            # s1 warps: its state of frame t-1 moved by the flow; s2 reads the warped pool3
            flow = flow_of(panning[t - 1], x)
            moved, scores = warp_state(f1, s1, flow, state_grids(trained, f1, s1, hw), hw)
            _, s2 = trained.run_stage(moved, "conv4_1", "fc7", ["score_pool4", "score_fr"])
            expected = trained.fuse({**scores, **s2}, hw)
        assert torch.allclose(result.scores, expected, atol=1e-5)
        assert set(result.flow_ms) == {"dis_ultrafast"}
    executor.reset()
    first = executor.step(panning[3])
    assert first.frame == 0 and first.computed == ("s1", "s2") and first.warped == ()


def test_warp_with_delay_and_pipeline_runs(trained, panning):
    program = compile_text("""network tiny
stage s1 = conv1_1 .. pool4 head score_pool3, score_pool4
stage s2 = conv5_1 .. fc7   head score_fr
compute s1 when 1
compute s2 when every 3 delay 1 else warp(flow=dis_medium)
output fuse(s1, s2)
""")
    executor = Executor(program, trained)
    warped = []
    for x in panning[:7]:
        result = executor.step(x)
        assert result.scores.shape == (1, 6, 128, 128) and torch.isfinite(result.scores).all()
        warped.append(result.warped)
    assert warped == [(), ("s2",), ("s2",), (), ("s2",), ("s2",), ()]


def test_stages_warping_from_different_frames_match_a_from_scratch_reference(trained, panning):
    """exponential-like clocks (1, 2, 4): on frame 3, s2 warps from frame 2 and s3 from
    frame 0; the reference recomposes every flow since each stage's last compute."""
    program = compile_text("""network tiny
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr
compute s1 when 1
compute s2 when every 2 else warp(flow=dis_ultrafast)
compute s3 when every 4 else warp(flow=dis_ultrafast)
output fuse(s1, s2, s3)
""")
    executor = Executor(program, trained)
    hw, flow_of = (128, 128), OpticalFlow("dis_ultrafast")
    flows = [None] + [flow_of(panning[u - 1], panning[u]) for u in range(1, 7)]
    stages = (("conv1_1", "pool3", "score_pool3", 1), ("conv4_1", "pool4", "score_pool4", 2),
              ("conv5_1", "fc7", "score_fr", 4))
    kept = {}  # stage → (frame computed, features, scores)
    for t, x in enumerate(panning[:7]):
        result = executor.step(x)
        state, heads = normalize(x, trained.spec.norm), {}
        with torch.inference_mode():
            for first, last, head, period in stages:
                if t % period == 0:
                    feats, scores = trained.run_stage(state, first, last, [head])
                    kept[head] = (t, feats, scores)
                else:
                    since, feats0, scores0 = kept[head]
                    total = None
                    for u in range(since + 1, t + 1):
                        total = compose(flows[u], total)
                    feats, scores = warp_state(feats0, scores0, total,
                                               state_grids(trained, feats0, scores0, hw), hw)
                state = feats
                heads.update(scores)
            expected = trained.fuse(heads, hw)
        assert result.warped == tuple(s for s, p in (("s2", 2), ("s3", 4)) if t % p)
        assert torch.allclose(result.scores, expected, atol=1e-5), t


def test_espnet_warps_module_layers_and_its_image_on_uniform_grids():
    """ESPNet's first stage hands on b1 and the image; both warp (b1 on a uniform grid, the
    image on its own), and a still frame warps to (nearly) what caching gives."""
    text = (ROOT / "schedules" / "espnet" / "alternating.cw").read_text()
    text = text.replace("compute s1 when 1", "compute s1 when even else warp")
    torch.manual_seed(0)
    net = build_network("espnet").eval()
    executor = Executor(compile_text(text.replace("else cache", "else warp")), net)
    cached = Executor(compile_text(text.replace("else warp", "else cache")), net)
    x = torch.rand(1, 3, 64, 80, generator=torch.Generator().manual_seed(4))
    for t in range(3):
        result, reference = executor.step(x), cached.step(x)
        assert result.warped == (() if t % 2 == 0 else ("s1", "s3"))
        assert torch.allclose(result.scores, reference.scores, atol=1e-4)
