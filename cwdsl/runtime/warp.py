"""Moving a stage's state along optical flow (``else warp``, as Deep Feature Flow does).

Flows follow :mod:`cwdsl.runtime.flow`'s convention: a flow of frame ``t`` back to ``k`` is
(1, 2, H, W) float32 pixels (dx, dy) with ``frame_t(x) ≈ frame_k(x + flow(x))``. A stage's
state on frame ``t`` is its state computed on frame ``k`` sampled, cell by cell, where the
cell's content was on frame ``k``: the flow at the cell's image position
(:class:`~cwdsl.nets.geometry.CellGrid`), in cells. Samples are bilinear and clamp to the
border (of the image for flows, of the map for states).

:func:`compose`, :func:`warp_tensor` and :func:`warp_state` are torch only, with no host
sync: they run on CUDA and on the meta device (the cost model traces them).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from cwdsl.nets.geometry import CellGrid
from cwdsl.nets.staged import Features, StagedNetwork


def _normalized(n: int) -> Tensor:
    """Cell indices ``0 .. n-1`` as grid_sample's coordinates (align_corners=True)."""
    return torch.linspace(-1.0, 1.0, n, dtype=torch.float32, device="cpu") if n > 1 \
        else torch.zeros(1, dtype=torch.float32, device="cpu")


@functools.lru_cache(maxsize=64)
def _identity(h: int, w: int, device: torch.device) -> Tensor:
    """(1, h, w, 2) grid_sample coordinates (x, y) of every cell of an h x w map."""
    ys, xs = torch.meshgrid(_normalized(h), _normalized(w), indexing="ij")
    return torch.stack((xs, ys), -1).unsqueeze(0).to(device)


def _to_normalized(h: int, w: int) -> Tensor:
    """Factors (x, y) turning a displacement in cells into grid_sample's units."""
    return torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], dtype=torch.float32,
                        device="cpu")


@functools.lru_cache(maxsize=64)
def _pixel_bases(h: int, w: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """An h x w image's pixel coordinates for grid_sample and the factors (x, y) turning
    pixels into its units."""
    return _identity(h, w, device), _to_normalized(h, w).to(device)


@functools.lru_cache(maxsize=64)
def _cell_bases(h: int, w: int, grid: CellGrid, input_hw: tuple[int, int],
                device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """For an h x w map on ``grid`` over an image of ``input_hw``: where each cell sits
    in the flow (grid_sample coordinates on the image, (1, h, w, 2)), where it sits in the
    map ((1, h, w, 2)), and the factors (x, y) turning flow pixels into map coordinates."""
    big_h, big_w = input_hw
    ys = grid.start_y + grid.jump_y * torch.arange(h, dtype=torch.float64, device="cpu")
    xs = grid.start_x + grid.jump_x * torch.arange(w, dtype=torch.float64, device="cpu")
    ys = (2.0 * ys / max(big_h - 1, 1) - 1.0).float()  # outside [-1, 1]: clamps to the border
    xs = (2.0 * xs / max(big_w - 1, 1) - 1.0).float()
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    on_image = torch.stack((gx, gy), -1).unsqueeze(0)
    scale = _to_normalized(h, w) / torch.tensor([grid.jump_x, grid.jump_y], dtype=torch.float32,
                                                device="cpu")
    return on_image.to(device), _identity(h, w, torch.device("cpu")).to(device), scale.to(device)


def compose(step: Tensor, total: Tensor | None) -> Tensor:
    """The flow of frame ``t`` back to ``k`` from ``step`` (``t`` → ``t-1``) and ``total``
    (``t-1`` → ``k``, None when ``k = t-1``): ``step(x) + total(x + step(x))``."""
    if total is None:
        return step
    h, w = step.shape[-2:]
    base, to_grid = _pixel_bases(int(h), int(w), step.device)
    where = base + step.permute(0, 2, 3, 1) * to_grid
    return step + F.grid_sample(total, where, mode="bilinear", padding_mode="border",
                                align_corners=True)


def warp_tensor(x: Tensor, flow: Tensor, grid: CellGrid, input_hw: Sequence[int]) -> Tensor:
    """``x`` (N, C, h, w), computed on frame ``k`` with its cells on ``grid``, moved to
    frame ``t`` by ``flow`` (``t`` → ``k``, (1, 2, H, W) at the image's ``input_hw``): each
    cell takes ``x`` at its own position plus the flow at its image position, in cells.
    Same dtype and shape as ``x``; two grid_samples."""
    hw = (int(input_hw[0]), int(input_hw[1]))
    if tuple(flow.shape[-2:]) != hw:
        raise ValueError(f"flow is {tuple(flow.shape[-2:])}, the image {hw}")
    n, _, h, w = x.shape
    on_image, base, scale = _cell_bases(h, w, grid, hw, x.device)
    moved = F.grid_sample(flow.float(), on_image, mode="bilinear", padding_mode="border",
                          align_corners=True)  # (1, 2, h, w): pixels, at each cell
    where = base + moved.permute(0, 2, 3, 1) * scale
    return F.grid_sample(x, where.to(x.dtype).expand(n, h, w, 2), mode="bilinear",
                         padding_mode="border", align_corners=True)


def warp_state(features: Mapping[str, Tensor], scores: Mapping[str, Tensor], flow: Tensor,
               grids: Mapping[str, CellGrid], input_hw: Sequence[int]
               ) -> tuple[Features, dict[str, Tensor]]:
    """A stage's state (its :class:`Features`, by layer name or ``"image"``, and its
    scores, by head name) moved by ``flow`` (see :func:`warp_tensor`); ``grids`` holds
    the :class:`CellGrid` of every name."""
    moved = Features({k: warp_tensor(v, flow, grids[k], input_hw) for k, v in features.items()})
    return moved, {k: warp_tensor(v, flow, grids[k], input_hw) for k, v in scores.items()}


def state_grids(net: StagedNetwork, features: Mapping[str, Tensor],
                scores: Mapping[str, Tensor], input_hw: Sequence[int]) -> dict[str, CellGrid]:
    """The :class:`CellGrid` of every tensor of a stage's state, from their own sizes."""
    return {name: net.cell_grid(name, input_hw, tuple(t.shape[-2:]))
            for name, t in (*features.items(), *scores.items())}


def relative(flow: Tensor, other: Tensor) -> Tensor:
    """The flow of frame ``t`` back to ``k`` from two flows into the same earlier frame
    ``r``: ``flow`` (``t`` → ``r``) and ``other`` (``k`` → ``r``), for ``r < k < t`` (a
    B frame's vectors point to an anchor before the frame a stage last computed on). It is
    ``g`` with ``x + g(x) + other(x + g(x)) = x + flow(x)``, by two fixed-point steps from
    ``flow - other``: an approximation where ``other`` varies within ``g``."""
    h, w = flow.shape[-2:]
    base, to_grid = _pixel_bases(int(h), int(w), flow.device)
    g = flow - other
    for _ in range(2):
        where = base + g.permute(0, 2, 3, 1) * to_grid
        g = flow - F.grid_sample(other, where, mode="bilinear", padding_mode="border",
                                 align_corners=True)
    return g


ANCHORS_KEPT = 2
"""Totals a warping stage keeps at anchor frames (those later flows point back to)."""


class StageWarp:
    """What a stage that warps keeps: the state it last computed (on frame ``since``) and
    the flow composed since (None right after it computes: the state is the current
    frame's), and its totals at the last anchor frames (frames a later frame's flow may
    point back to: every frame for optical flow, I and P frames for a codec's vectors)."""

    def __init__(self, net: StagedNetwork):
        self.net = net
        self.features: Features | None = None
        self.scores: dict[str, Tensor] | None = None
        self.total: Tensor | None = None
        self.since = -1
        self._anchors: dict[int, Tensor] = {}
        self._grids: dict[tuple, dict[str, CellGrid]] = {}

    def computed(self, frame: int, features: Features, scores: Mapping[str, Tensor]) -> None:
        """The stage computed on ``frame``: its state is new, nothing to compose yet."""
        self.features, self.scores, self.total = features, dict(scores), None
        self.since = frame
        self._anchors = {}

    def warp(self, step: Tensor, input_hw: Sequence[int],
             composed: dict[int, Tensor] | None = None, *, frame: int | None = None,
             back: int = 1, anchor: bool = True,
             flow_of: Callable[[int], tuple[Tensor, int] | None] | None = None
             ) -> tuple[Features, dict[str, Tensor]]:
        """Compose this frame's ``step`` flow (frame ``t`` → ``t - back``) into the total
        and move the last computed state to this frame. ``composed``: this frame's totals
        of one flow method by the frame they start from, shared by stages that computed
        on the same frame (their totals are the same flows composed: one compose serves
        them all). ``frame``: ``t`` (None: the frame after the last one, ``back`` 1);
        ``anchor``: later flows may point back to this frame; ``flow_of(k)``: frame
        ``k``'s own flow and its ``back``, when the stage computed on a frame after the
        one this flow points to (None: not known, the flow is taken as the total)."""
        if self.features is None:
            raise RuntimeError("a stage warps before it ever computed (frame 0 computes all)")
        if composed is not None and self.since in composed:
            self.total = composed[self.since]
        else:
            reference = None if frame is None else frame - back
            if reference is None:
                self.total = compose(step, self.total)
            elif reference == self.since:
                self.total = step
            elif reference > self.since:
                self.total = compose(step, self._anchors.get(reference, self.total))
            else:  # the reference is before the frame the stage computed on
                own = flow_of(self.since) if flow_of is not None else None
                self.total = relative(step, own[0]) if own is not None \
                    and self.since - own[1] == reference else step
            if composed is not None:
                composed[self.since] = self.total
        if anchor and frame is not None:
            self._anchors[frame] = self.total
            for old in sorted(self._anchors)[:-ANCHORS_KEPT]:
                del self._anchors[old]
        hw = (int(input_hw[0]), int(input_hw[1]))
        key = (hw, *((k, tuple(v.shape)) for k, v in (*self.features.items(),
                                                       *self.scores.items())))
        grids = self._grids.get(key)
        if grids is None:
            grids = self._grids[key] = state_grids(self.net, self.features, self.scores, hw)
        return warp_state(self.features, self.scores, self.total, grids, hw)
