"""Optical flow for ``else warp``: OpenCV's DIS (Kroeger et al., ECCV 2016) at its presets.

Convention (the one :mod:`cwdsl.runtime.warp` composes and applies): a flow of frame ``t``
back to frame ``k`` is a (1, 2, H, W) float32 tensor in pixels, channel 0 = dx, channel 1 =
dy, such that ``frame_t(x) ≈ frame_k(x + flow(x))``: for each pixel of the current frame,
where its content was in the earlier one. OpenCV's ``calc(I0, I1)`` returns the flow with
``I0(x) ≈ I1(x + flow(x))``, so the current frame is its ``I0``.

DIS refines a flow coarse to fine from a start; its pyramid is as deep as the image allows,
so a motion of more than a few cells at the coarsest level (32 px on an 80-pixel-wide crop,
a pan at 5 Hz) is missed from a zero start. Each flow therefore starts from the frame's
dominant translation, found by phase correlation (``cv2.phaseCorrelate``, Hann-windowed),
when its peak is clear (:data:`PEAK_RESPONSE`); otherwise from zero, as plain DIS. On the
``shift32`` crops of CamVid this takes the pixels whose flow is within 2 px of the true
32 px from 6% to 85% (``dis``).

DIS runs on the host, on 8-bit grey images: on CUDA the grey frames go through host memory
(the executor hands it the frames it uploaded, so no device sync is needed) and the flow is
uploaded back. :func:`gray_frame` is torch only, so the cost model can trace it on meta.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch import Tensor

PRESETS = {"dis": cv2.DISOPTICAL_FLOW_PRESET_FAST,
           "dis_ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
           "dis_medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
"""Flow method (each of :data:`cwdsl.lang.ast.FLOW_METHODS`) → OpenCV DIS preset."""

GRAY_WEIGHTS = (0.299, 0.587, 0.114)
"""ITU-R BT.601 luma weights of R, G, B (OpenCV's ``COLOR_RGB2GRAY``)."""


@functools.lru_cache(maxsize=8)
def _gray_weights(device: torch.device) -> Tensor:
    return (torch.tensor(GRAY_WEIGHTS, dtype=torch.float32, device="cpu") * 255.0).to(device)


def gray_frame(pixels: Tensor) -> Tensor:
    """(1, 3, H, W) RGB in [0, 1] → (H, W) uint8 grey (BT.601 luma × 255, rounded), on the
    pixels' device. Torch ops only (it runs on meta tensors), few of them: one weighted
    sum over the channels, then rounding in place."""
    luma = torch.einsum("chw,c->hw", pixels[0].float(), _gray_weights(pixels.device))
    return luma.round_().clamp_(0, 255).to(torch.uint8)


def create_dis(method: str) -> cv2.DISOpticalFlow:
    """A DIS object at the preset of ``method``; ``ValueError`` for an unknown method."""
    if method not in PRESETS:
        raise ValueError(f"unknown optical flow method {method!r}; choose from "
                         f"{', '.join(PRESETS)}")
    return cv2.DISOpticalFlow_create(PRESETS[method])


PEAK_RESPONSE = 0.1
"""The least phase-correlation peak (OpenCV's response, 1 for a perfect shift) taken as the
frame's dominant translation; below it DIS starts from zero. Pure translations of CamVid
crops give about 0.4, unrelated frames below 0.05."""


def global_shift(now, before, window) -> tuple[float, float] | None:
    """The dominant translation (dx, dy) in pixels with ``now(x) ≈ before(x + (dx, dy))``,
    by phase correlation of two grey (H, W) uint8 host arrays; None when the peak is weak."""
    (dx, dy), response = cv2.phaseCorrelate(now.astype("float32"), before.astype("float32"),
                                            window)
    return (dx, dy) if response >= PEAK_RESPONSE else None


class OpticalFlow:
    """DIS optical flow by ``method``, started from the dominant translation (one OpenCV
    object per instance: not thread-safe).

    OpenCV runs single-threaded: beside torch's OpenMP pool on a small CPU its thread pool
    contends (measured on 2 cores: DIS 1.3 ms → 56 ms, small torch ops 8 → 32 ms), and one
    thread is fast enough at these sizes (``dis``: 0.8 ms at 180x240, 4.7 ms at 500x500)."""

    def __init__(self, method: str):
        self.method = method
        self._dis = create_dis(method)
        self._windows: dict[tuple[int, int], object] = {}
        cv2.setNumThreads(1)

    def __call__(self, previous: Tensor, current: Tensor,
                 device: torch.device | str | None = None) -> Tensor:
        """The flow of ``current`` back to ``previous`` (both (1, 3, H, W) RGB in [0, 1], on
        any device): (1, 2, H, W) float32 pixels with ``current(x) ≈ previous(x + flow(x))``,
        on ``device`` (default: the current frame's)."""
        if previous.shape != current.shape:
            raise ValueError(f"frames of different sizes: {tuple(previous.shape)} and "
                             f"{tuple(current.shape)}")
        before = gray_frame(previous).cpu().numpy()  # the host: DIS is OpenCV (CPU) code
        now = gray_frame(current).cpu().numpy()
        window = self._windows.get(now.shape)
        if window is None:
            window = self._windows[now.shape] = cv2.createHanningWindow(now.shape[::-1],
                                                                        cv2.CV_32F)
        # Always a start (zeros without a clear shift): DIS given no flow keeps state from
        # its previous call (measured: a frame's flow then depends on the frames before).
        start = np.zeros(now.shape + (2,), np.float32)
        shift = global_shift(now, before, window)
        if shift is not None:  # DIS refines a flow it is given (OpenCV: a non-empty flow)
            start[..., 0], start[..., 1] = shift
        flow = torch.from_numpy(self._dis.calc(now, before, start))  # (H, W, 2): dx, dy
        flow = flow.permute(2, 0, 1).unsqueeze(0)
        target = torch.device(device) if device is not None else current.device
        if target.type == "cuda":  # pinned, so the upload need not wait for the stream
            return flow.contiguous().pin_memory().to(target, non_blocking=True)
        return flow.contiguous()


# Per-element operation counts of DIS, read off OpenCV's implementation (dis_flow.cpp,
# variational_refinement.cpp); approximate by nature, so flow_work is an estimate.
PATCH_PIXEL_FLOPS = 15      # bilinear sample of I1 (8), difference, gradient products, sums
PATCH_PIXEL_BYTES = 6       # I0, I1 (uint8) and I0x, I0y (int16) read per patch pixel
DENSIFY_FLOPS = 20          # per pixel and covering patch: bilinear sample, weight, sums
DENSIFY_BYTES = 10          # per pixel and covering patch: the patch's flow, I1 samples
PYRAMID_FLOPS = 30          # per pixel and level: two area resizes, Sobel gradients, box sums
PYRAMID_BYTES = 40
VARIATIONAL_FLOPS = 120     # per pixel and fixed-point iteration: warp, data, smoothness terms
VARIATIONAL_BYTES = 160
SOR_FLOPS = 26              # per pixel and SOR sweep (OpenCV uses 5 per fixed-point iteration)
SOR_BYTES = 60
SOR_ITERATIONS = 5


def coarsest_scale(dis: cv2.DISOpticalFlow, hw: Sequence[int]) -> int:
    """The pyramid's coarsest level for an image of ``hw`` as OpenCV chooses it: about a
    quarter of the long side in patches, and no level smaller than a patch (never finer
    than the finest scale)."""
    stated = dis.getCoarsestScale() if hasattr(dis, "getCoarsestScale") else -1
    if stated >= 0:
        return max(stated, dis.getFinestScale())
    p = dis.getPatchSize()
    auto = min(int(math.log2(max(hw) / (4.0 * p)) + 0.5), int(math.log2(min(hw) / p)))
    return max(auto, dis.getFinestScale())


def flow_work(method: str, hw: Sequence[int]) -> tuple[int, int]:
    """An ESTIMATE of the (floating point operations, bytes moved) of one DIS flow by
    ``method`` between two frames of ``hw`` = (H, W), from the preset's parameters (patch
    size and stride, finest scale, gradient-descent and variational-refinement iterations)
    and the pyramid down to the coarsest level. DIS is OpenCV code, which
    ``FlopCounterMode`` cannot see into: the counts per element are constants above, read
    off OpenCV's implementation, good to a small factor, not exact."""
    dis = create_dis(method)
    patch, stride = dis.getPatchSize(), dis.getPatchStride()
    iters, refine = dis.getGradientDescentIterations(), dis.getVariationalRefinementIterations()
    finest = dis.getFinestScale()
    flops = bytes_ = 0
    h, w = int(hw[0]), int(hw[1])
    for level in range(finest, coarsest_scale(dis, (h, w)) + 1):
        lh, lw = max(h >> level, 1), max(w >> level, 1)
        pixels = lh * lw
        patches = (1 + max(lh - patch, 0) // stride) * (1 + max(lw - patch, 0) // stride)
        # inverse search: each patch runs the gradient descent and, with spatial propagation,
        # 3 candidate SSDs per pass of 2 passes
        visits = patches * patch * patch * (iters + 6)
        cover = (patch / stride) ** 2  # patches overlapping one pixel
        flops += (PYRAMID_FLOPS * pixels + PATCH_PIXEL_FLOPS * visits
                  + DENSIFY_FLOPS * cover * pixels
                  + refine * (VARIATIONAL_FLOPS + SOR_ITERATIONS * SOR_FLOPS) * pixels)
        bytes_ += (PYRAMID_BYTES * pixels + PATCH_PIXEL_BYTES * visits
                   + DENSIFY_BYTES * cover * pixels
                   + refine * (VARIATIONAL_BYTES + SOR_ITERATIONS * SOR_BYTES) * pixels)
    # the grey frames in, the finest flow upsampled to full size (bilinear) and out
    flops += 2 * 8 * h * w
    bytes_ += 2 * h * w + 2 * 2 * 4 * h * w
    # phase correlation: window both frames, two forward FFTs, the normalised cross-power
    # spectrum, one inverse FFT (5 N log2 N each), the peak search; the start flow written
    n = h * w
    flops += 3 * 5 * n * max(math.log2(n), 1) + 2 * n + 6 * n + n
    bytes_ += 2 * n * (1 + 4) + 3 * 2 * 8 * n + 4 * n + 2 * 4 * n
    return int(flops), int(bytes_)
