"""Optical flow (cwdsl.runtime.flow): the sign convention on known shifts, the grey frame,
and the cost estimate's shape."""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cwdsl.lang.ast import FLOW_METHODS
from cwdsl.runtime.flow import PRESETS, OpticalFlow, flow_work, gray_frame


def textured(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """A smooth random texture (1, 3, h, w) in [0, 1]: coarse noise upsampled bicubically."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    coarse = torch.rand(1, 3, h // 8, w // 8, generator=g, device="cpu")
    return F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


DIS_METHODS = tuple(m for m in FLOW_METHODS if m != "codec")
"""The optical flow methods (``codec`` reads motion vectors: tests/test_codec_flow.py)."""


def test_every_language_method_has_a_preset():
    assert tuple(PRESETS) == DIS_METHODS and FLOW_METHODS == (*DIS_METHODS, "codec")
    with pytest.raises(ValueError, match="unknown optical flow method"):
        OpticalFlow("farneback")


@pytest.mark.parametrize("method", DIS_METHODS)
@pytest.mark.parametrize("dy, dx", [(2, 3), (-3, 1)])
def test_flow_of_a_shifted_image_points_back_to_where_content_was(method, dy, dx):
    image = textured(240, 280, seed=1)
    m = 20
    previous = image[:, :, m:-m, m:-m]
    # The content moved by (dy, dx): current(y, x) = previous(y - dy, x - dx), so the flow
    # back to the previous frame is (-dx, -dy) everywhere.
    current = image[:, :, m - dy:image.shape[2] - m - dy, m - dx:image.shape[3] - m - dx]
    flow = OpticalFlow(method)(previous, current)
    assert flow.shape == (1, 2, *previous.shape[-2:]) and flow.dtype == torch.float32
    inner = flow[0, :, 16:-16, 16:-16]
    assert inner[0].median().item() == pytest.approx(-dx, abs=0.15)
    assert inner[1].median().item() == pytest.approx(-dy, abs=0.15)
    assert (inner[0] + dx).abs().mean() < 0.3 and (inner[1] + dy).abs().mean() < 0.3


def test_flow_of_identical_frames_is_zero_and_sizes_must_match():
    image = textured(96, 128)
    flow = OpticalFlow("dis")(image, image.clone())
    assert flow.abs().max() < 1e-3
    with pytest.raises(ValueError, match="different sizes"):
        OpticalFlow("dis")(image, image[:, :, :64])


def test_gray_frame_is_bt601_luma_rounded():
    image = torch.rand(1, 3, 17, 23, generator=torch.Generator().manual_seed(3))
    gray = gray_frame(image)
    assert gray.dtype == torch.uint8 and gray.shape == (17, 23)
    r, g, b = (image[0, c].double().numpy() for c in range(3))
    expected = np.clip(np.rint((0.299 * r + 0.587 * g + 0.114 * b) * 255), 0, 255)
    assert np.abs(gray.numpy().astype(int) - expected.astype(int)).max() <= 1  # float32 ties
    rgb8 = (image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    opencv = cv2.cvtColor(rgb8, cv2.COLOR_RGB2GRAY)
    assert np.abs(gray.numpy().astype(int) - opencv.astype(int)).max() <= 1
    assert gray_frame(torch.zeros(1, 3, 2, 2)).max() == 0
    assert gray_frame(torch.ones(1, 3, 2, 2)).min() == 255


def test_gray_frame_traces_on_meta():
    gray = gray_frame(torch.empty(1, 3, 180, 240, device="meta"))
    assert gray.device.type == "meta" and gray.shape == (180, 240) and gray.dtype == torch.uint8


def test_flow_work_is_an_estimate_that_grows_with_size_and_preset():
    for method in DIS_METHODS:
        small, big = flow_work(method, (180, 240)), flow_work(method, (500, 500))
        assert all(isinstance(v, int) and v > 0 for v in small + big)
        assert big[0] > 3 * small[0] and big[1] > 3 * small[1]  # ~5.8x the pixels
    fast, ultra, medium = (flow_work(m, (360, 480))[0]
                           for m in ("dis", "dis_ultrafast", "dis_medium"))
    assert ultra < fast < medium  # ultrafast drops the variational refinement
    assert flow_work("dis", (16, 16))[0] > 0  # a pyramid of one level still costs


def test_a_flow_does_not_depend_on_the_calls_before():
    """DIS called without a start flow keeps state between calls; OpticalFlow always gives
    one, so a frame pair's flow is the same from a fresh object and a used one."""
    from test_executor import frames_like  # repeats, drifts and jumps: found the bug

    frames = frames_like(65535, 6)
    used = OpticalFlow("dis")
    for t in range(1, len(frames)):
        assert torch.equal(used(frames[t - 1], frames[t]),
                           OpticalFlow("dis")(frames[t - 1], frames[t]))
