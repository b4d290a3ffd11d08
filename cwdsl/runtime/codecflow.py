"""``warp(flow=codec)``: a frame's flow from the motion vectors its decoder exported.

A frame's :class:`~cwdsl.media.motionvectors.CodecMotion` (block vectors into the anchor
``back`` frames before it) becomes a dense flow, in :mod:`cwdsl.runtime.flow`'s convention
(``current(x) ≈ reference(x + flow(x))``, (1, 2, H, W) float32 pixels), on the host:

1. **cells**: each block's vector is written into every 8×8-pixel cell the block covers
   (H.264 partitions are 16, 8 or 4 pixels a side, FFmpeg reports sub-8×8 ones as 8×8);
2. **holes** (intra blocks, blocks predicted from the future only) take the vector of the
   nearest cell a block vector covers;
   a frame with no usable vector (an intra frame, corrupt side data) gets a zero flow: the
   state stays as it was, as ``else cache`` would, and the frame's result says why;
3. **pixels**: the cell map is upsampled (bilinear) to the frame and, when the network
   runs at another size, resized to it, the vectors scaled with it: on a CPU by OpenCV
   (:func:`dense_flow`), on a GPU by torch after the cells' upload (:func:`upsample_cells`;
   the cells are a few KB where the flow is megabytes).

:func:`codec_flow_work` estimates the host's part for the cost model (numpy and OpenCV
code, which ``FlopCounterMode`` cannot see into); it traces :func:`upsample_cells`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from cwdsl.media.motionvectors import CodecMotion

CELL = 8
"""Pixels a side of the cells block vectors are written into: the smallest block FFmpeg
exports for H.264 (it reports a sub-8×8 partition as its 8×8 block) and MPEG-4 (4MV)."""

CODEC_METHOD = "codec"
"""The flow method (``else warp(flow=codec)``) this module implements."""


def needs_motion(program) -> bool:
    """Whether ``program`` (an ``ir.graph.Program``) warps by the codec's motion vectors
    (``flow=codec``): its frames must come with them."""
    return any(f.method == CODEC_METHOD for f in program.flows)


@dataclass(frozen=True, eq=False)
class FrameFlow:
    """A frame's flow back to the frame ``back`` frames before it (1: the previous one);
    ``anchor``: later frames' flows may point back to this frame; ``problem``: why it is a
    zero flow (None: it is the frame's own)."""

    flow: Tensor
    back: int = 1
    anchor: bool = True
    problem: str | None = None


PAD = 1 + 64 // CELL
"""Cells of margin around the frame's grid that blocks reaching out of the frame write into
(cropped away after), so no block needs a bounds check."""


def cell_vectors(motion: CodecMotion) -> tuple[np.ndarray, np.ndarray]:
    """(cells_h, cells_w, 2) float32 vectors of the :data:`CELL`-pixel cells of the frame
    and the (cells_h, cells_w) mask of the cells a block vector covers (a block smaller
    than a cell writes the cell its centre lies in). Few numpy calls, however many blocks:
    each block's cells are flat indices into a padded grid."""
    h, w = motion.size
    ch, cw = -(-h // CELL), -(-w // CELL)
    width = cw + 2 * PAD
    flow = np.zeros(((ch + 2 * PAD) * width, 2), np.float32)
    known = np.zeros((ch + 2 * PAD) * width, bool)
    rows = motion.past
    if len(rows):
        r = rows[:, :4].astype(np.int64)                 # dst_x, dst_y, w, h
        n = np.maximum(r[:, 2:] // CELL, 1)              # cells across, down
        # the first cell: the block's left (top) edge, or the cell its centre lies in when
        # the block is smaller than a cell
        corner = (r[:, :2] - np.maximum(r[:, 2:] - CELL, 0) // 2) // CELL
        start = (corner[:, 1] + PAD) * width + (corner[:, 0] + PAD)
        counts = n[:, 0] * n[:, 1]
        block = np.repeat(np.arange(len(rows)), counts)  # one entry per (block, cell)
        offset = np.arange(len(block)) - np.repeat(np.cumsum(counts) - counts, counts)
        across = n[block, 0]
        at = np.clip(start[block] + (offset // across) * width + offset % across,
                     0, len(known) - 1)
        flow[at] = rows[block, 4:]
        known[at] = True
    grid = (ch + 2 * PAD, width)
    return (flow.reshape(*grid, 2)[PAD:PAD + ch, PAD:PAD + cw],
            known.reshape(grid)[PAD:PAD + ch, PAD:PAD + cw])


def fill_holes(flow: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``flow`` with each cell outside ``known`` set to the vector of the nearest known
    cell (Euclidean, OpenCV's distance transform with labels); zeros when none is known."""
    if known.all():
        return flow
    if not known.any():
        return np.zeros_like(flow)
    # labels number the zero cells (the known ones) in row-major order, from 1
    _, label = cv2.distanceTransformWithLabels((~known).astype(np.uint8), cv2.DIST_L2, 5,
                                               labelType=cv2.DIST_LABEL_PIXEL)
    return flow[known][label - 1]


def cover_size(frame_hw: Sequence[int], hw: Sequence[int]) -> tuple[int, int]:
    """The (height, width) the cell map of a frame of ``frame_hw`` is resized to so that
    the frame's own pixels land on ``hw`` (the cells cover ``ceil(side / CELL) * CELL``
    pixels, a little more than the frame)."""
    (fh, fw), (h, w) = frame_hw, hw
    return (round(math.ceil(fh / CELL) * CELL * h / fh),
            round(math.ceil(fw / CELL) * CELL * w / fw))


def dense_flow(motion: CodecMotion, hw: Sequence[int]) -> np.ndarray:
    """The (H, W, 2) float32 flow in pixels (dx, dy) of a frame run at ``hw`` = (H, W)
    from its motion vectors (see the module's docstring), on the host (OpenCV's bilinear
    resize); zeros when none is usable."""
    h, w = int(hw[0]), int(hw[1])
    if not motion.usable:
        return np.zeros((h, w, 2), np.float32)
    cells = fill_holes(*cell_vectors(motion))
    (fh, fw), (cover_h, cover_w) = motion.size, cover_size(motion.size, (h, w))
    flow = cv2.resize(cells, (cover_w, cover_h), interpolation=cv2.INTER_LINEAR)[:h, :w]
    if (fh, fw) != (h, w):  # the vectors are in the frame's pixels
        flow = flow * np.array([w / fw, h / fh], np.float32)
    return flow


def upsample_cells(cells: Tensor, frame_hw: Sequence[int], hw: Sequence[int]) -> Tensor:
    """(1, 2, cells_h, cells_w) vectors of a frame of ``frame_hw`` → its (1, 2, H, W) flow
    at ``hw`` (bilinear, half-pixel centres, as :func:`dense_flow` on the host), where
    ``cells`` are.
    Torch only: it runs on the GPU, and on meta tensors for the cost model."""
    h, w = int(hw[0]), int(hw[1])
    (fh, fw) = frame_hw
    flow = F.interpolate(cells, size=cover_size(frame_hw, (h, w)), mode="bilinear",
                         align_corners=False)[..., :h, :w]
    return flow * torch.tensor([w / fw, h / fh], dtype=flow.dtype,
                               device="cpu").to(flow.device).view(1, 2, 1, 1)


class CodecFlow:
    """The executor's flow of method ``codec``: a frame's motion vectors as a dense flow
    on ``device`` (the same calling convention as :class:`~cwdsl.runtime.flow.OpticalFlow`
    but for its input: the frame's :class:`CodecMotion`, not two frames). On a GPU only
    the cells go up (a few KB, not the whole flow) and are upsampled there."""

    method = CODEC_METHOD

    def __call__(self, motion: CodecMotion, hw: Sequence[int],
                 device: torch.device | str = "cpu") -> FrameFlow:
        target = torch.device(device)
        problem = None if motion.usable else (motion.problem or "no motion vectors")
        if target.type == "cpu" or problem is not None:  # (1, 2, H, W), a view of (H, W, 2)
            flow = torch.from_numpy(dense_flow(motion, hw)).permute(2, 0, 1).unsqueeze(0)
            flow = flow.to(target)
        else:
            cells = torch.from_numpy(fill_holes(*cell_vectors(motion))).permute(2, 0, 1)
            cells = cells.unsqueeze(0).contiguous().pin_memory().to(target, non_blocking=True)
            flow = upsample_cells(cells, motion.size, hw)
        return FrameFlow(flow, motion.back if problem is None else 1, motion.anchor, problem)


MOTIONS_KEPT = 8
"""Frames of motion vectors a :class:`CodecFlows` keeps (a B frame's flow may need an
earlier frame's, when a stage computed between it and the reference it points to)."""


class CodecFlows:
    """The executor's codec flows of the last frames: each frame's motion vectors as given
    (:meth:`put`), made a flow once when asked (:meth:`flow`) on ``device`` at ``hw``."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self._make = CodecFlow()
        self._motions: dict[int, CodecMotion] = {}
        self._flows: dict[int, FrameFlow] = {}

    def put(self, frame: int, motion: CodecMotion) -> None:
        self._motions[frame] = motion
        for old in [k for k in self._motions if k < frame - MOTIONS_KEPT]:
            self._motions.pop(old)
            self._flows.pop(old, None)

    def flow(self, frame: int, hw: Sequence[int]) -> FrameFlow:
        """Frame ``frame``'s flow (computed once)."""
        flow = self._flows.get(frame)
        if flow is None:
            flow = self._flows[frame] = self._make(self._motions[frame], hw, self.device)
        return flow

    def earlier(self, frame: int, hw: Sequence[int]) -> tuple[Tensor, int] | None:
        """An earlier frame's own flow and how far back it points, if it is one of the last
        frames and had usable vectors (else None)."""
        if frame not in self._motions:
            return None
        flow = self.flow(frame, hw)
        return None if flow.problem is not None else (flow.flow, flow.back)


# Per-element operation counts of the steps above (numpy and OpenCV): an estimate.
VECTOR_BYTES = 40            # one AVMotionVector record read from the side data
VECTOR_FLOPS = 12            # its columns converted, the corner and size computed
CELL_FLOPS = 8               # per cell and pass: the mask test, the scatter of two floats
FILL_FLOPS = 12              # per cell: the distance transform (two passes), the gather
VECTORS_PER_MACROBLOCK = 1.3 # H.264 at typical rates: some macroblocks split in 8x8


def codec_flow_work(hw: Sequence[int]) -> tuple[int, int]:
    """An ESTIMATE of the (floating point operations, bytes moved) of one codec flow's
    host part for a frame of ``hw`` = (H, W): the side data read (about
    :data:`VECTORS_PER_MACROBLOCK` vectors per 16×16 macroblock), the cells written and
    their holes filled. Upsampling the cells to the frame is :func:`upsample_cells`, which
    the cost model traces."""
    h, w = int(hw[0]), int(hw[1])
    vectors = VECTORS_PER_MACROBLOCK * math.ceil(h / 16) * math.ceil(w / 16)
    cells = math.ceil(h / CELL) * math.ceil(w / CELL)
    flops = VECTOR_FLOPS * vectors + CELL_FLOPS * cells + FILL_FLOPS * cells
    moved = VECTOR_BYTES * vectors + 3 * 9 * cells
    return int(flops), int(moved)
