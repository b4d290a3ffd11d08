"""The cost model's on-demand traces: optical flow, warps and learned clocks.

:class:`MotionTrace` keeps the meta tensors of one :func:`cwdsl.sim.cost.network_cost`
trace (the frame, every layer's output, every head's scores) and traces, when a program
first asks, with the executor's own functions on the meta device:

- a **flow** (``flow_op``), by ``codec``: the motion vectors read into cells on the host
  (``runtime.codecflow.codec_flow_work``'s estimate, marked ``host`` and ``estimate``),
  the cells' upload and their upsampling (``upsample_cells``, traced); by DIS: as the executor runs it, all on the host (it hands
  ``OpticalFlow`` the frame it was given, in host memory): the two frames' conversion to
  gray (``runtime.flow.gray_frame``, traced, its kernels marked ``host``), OpenCV's DIS (not
  traceable: ``runtime.flow.flow_work``'s analytic estimate, a kernel marked ``host`` and
  ``estimate``) and the flow's upload to the device (``link_bytes``);
- a **composition** (``compose_op``): ``runtime.warp.compose`` of a frame's flow into a
  total, in the general case (a total exists); the executor composes once per flow method
  and frame the warping stages last computed on, and not at all for a stage that computed
  on the frame before (the simulator decides which from the plans);
- a **warp part** (``warp_part``): ``warp_tensor`` of one tensor a stage holds: the features
  it hands on (``"features:NAME"``, NAME a layer or ``image``) or a head's scores
  (``"head:NAME"``); :func:`warp_parts` says which parts a stage's state is;
- a **learned clock's measurement** (``predicted_op``): the head's labels, the signals the
  model reads (``runtime.measure.clock_signals``, through ``PredictedState.measure``) and
  the model's MLP on the host (its FLOPs counted from the model, an estimate).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from cwdsl.core.clockmodel import ClockModel
from cwdsl.core.netspec import NetworkSpec
from cwdsl.core.units import HW
from cwdsl.nets.staged import plan_stage
from cwdsl.runtime.measure import PredictedState, SignalState, label_map
from cwdsl.cost.kernels import Kernel, OpCost, TraceSession

COMPOSE = "compose"
"""A profile's key of the composition of a frame's flow into a total (``warps`` group)."""


def features_part(name: str) -> str:
    """The warp part of a tensor a stage hands on (a layer's output, or ``image``)."""
    return f"features:{name}"


def head_part(name: str) -> str:
    """The warp part of a head's scores."""
    return f"head:{name}"


def warp_parts(spec: NetworkSpec, first: str, last: str, heads: Sequence[str]) -> tuple[str, ...]:
    """The tensors warping stage ``first .. last`` with ``heads`` moves: each it hands on
    (``plan_stage(...).keeps``) and each head's scores (its flow's composition apart)."""
    keeps = plan_stage(spec, first, last, heads).keeps
    return (*(features_part(k) for k in keeps), *(head_part(h) for h in heads))


def mlp_flops(model: ClockModel) -> int:
    """FLOPs of a clock model's MLP (2 per weight: multiply and add), run on the host."""
    return sum(2 * len(row) for layer in model.layers for row in layer.weight)


class MotionTrace:
    """Traces flows, warp parts and learned-clock measurements of one network at one
    size and dtype, each once (see the module's docstring)."""

    def __init__(self, session: TraceSession, spec: NetworkSpec, hw: HW,
                 pixels: torch.Tensor, tensors: dict[str, torch.Tensor],
                 scores: dict[str, torch.Tensor]):
        self.session, self.spec, self.hw = session, spec, hw
        self.pixels = pixels          # the frame, (1, 3, H, W) float32 in [0, 1]
        self.tensors = tensors        # layer name or "image" → its (meta) tensor
        self.scores = scores          # head → its scores
        self._cache: dict[tuple, OpCost] = {}

    def _once(self, key: tuple, make) -> OpCost:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def flow_op(self, method: str) -> OpCost:
        """One frame's optical flow by ``method`` (see the module's docstring)."""
        return self._once(("flow", method), lambda: self._flow(method))

    def _flow(self, method: str) -> OpCost:
        from cwdsl.runtime.codecflow import CODEC_METHOD, codec_flow_work
        from cwdsl.runtime.flow import flow_work, gray_frame

        h, w = self.hw
        upload = Kernel("copy:flow_to_device", 0, 0, link_bytes=2 * 4 * h * w)  # (1, 2, H, W)
        if method == CODEC_METHOD:  # no frames read: the side data and cells on the host,
            # the cells' upload, their upsampling on the device (as the executor on a GPU)
            from cwdsl.runtime.codecflow import CELL, upsample_cells

            flops, moved = codec_flow_work(self.hw)
            cells = torch.empty(1, 2, -(-h // CELL), -(-w // CELL), device="meta")
            op, _ = self.session.trace(f"flow:{method}",
                                       lambda c: upsample_cells(c, self.hw, self.hw), cells)
            return OpCost(f"flow:{method}", (
                Kernel(f"host:flow:{method}:estimate", flops, moved, host=True, estimate=True),
                Kernel("copy:cells_to_device", 0, 0, link_bytes=4 * cells.numel()),
                *op.kernels), (), (1, 2, h, w))

        previous = torch.empty_like(self.pixels)
        gray_frame(previous)  # its constants once, so no trace holds their making
        op, _ = self.session.trace(f"flow:{method}", lambda a, b: (gray_frame(a), gray_frame(b)),
                                   previous, self.pixels)
        flops, moved = flow_work(method, self.hw)
        kernels = tuple(replace(k, host=True) for k in op.kernels) + (
            Kernel(f"host:flow:{method}:estimate", int(flops), int(moved), host=True,
                   estimate=True), upload)
        return OpCost(f"flow:{method}", kernels, tuple(self.pixels.shape), (1, 2, h, w))

    def compose_op(self) -> OpCost:
        """Composing a frame's flow into a total (see the module's docstring)."""
        return self._once(("warp", COMPOSE), lambda: self._warp(COMPOSE))

    def warp_part(self, part: str) -> OpCost:
        """Warping one tensor of a stage's state (``features:NAME``, ``head:NAME``)."""
        return self._once(("warp", part), lambda: self._warp(part))

    def _warp(self, part: str) -> OpCost:
        from cwdsl.runtime.warp import compose, warp_tensor

        h, w = self.hw
        flow = torch.empty(1, 2, h, w, device="meta")
        if part == COMPOSE:  # a total exists: the general case
            fn, x = compose, torch.empty_like(flow)
        else:
            kind, name = part.split(":", 1)
            x = self.tensors[name] if kind == "features" else self.scores[name]
            grid = self.session.net.cell_grid(name, self.hw, tuple(x.shape[-2:]))
            fn = lambda t, f: warp_tensor(t, f, grid, self.hw)  # noqa: E731
        fn(x, flow)  # its cached sampling grids once, as the executor's are after a frame
        op, _ = self.session.trace(f"warp:{part}", fn, x, flow)
        return op

    def warp_parts(self, first: str, last: str, heads: Sequence[str]) -> tuple[str, ...]:
        """:func:`warp_parts` of this network."""
        return warp_parts(self.spec, first, last, heads)

    def warp_op(self, first: str, last: str, heads: Sequence[str]) -> OpCost:
        """Warping the state of stage ``first .. last`` with ``heads``: its parts' kernels."""
        parts = tuple(self.warp_part(p) for p in self.warp_parts(first, last, heads))
        kernels = tuple(k for op in parts for k in op.kernels)
        return OpCost(f"warp:{first}..{last}", kernels, parts[0].in_shape if parts else (),
                      parts[-1].out_shape if parts else ())

    def predicted_op(self, head: str, model: ClockModel) -> OpCost:
        """A learned clock's measurement on ``head`` with ``model`` on a frame where it does
        not fire: ``PredictedState.measure`` (the executor's code) plus the MLP."""
        shapes = tuple((len(layer.weight), len(layer.weight[0])) for layer in model.layers)
        return self._once(("predicted", head, model.signals, shapes),
                          lambda: self._predicted(head, model))

    def _predicted(self, head: str, model: ClockModel) -> OpCost:
        scores, pixels = self.scores[head], self.pixels
        # The MLP runs in Python on the host (no dispatch): counted apart below.
        state = PredictedState(model, 2.0, ">=")  # θ = 2: never fires, keeps its references
        reference = label_map(scores)
        state.state = SignalState(reference, pixels, reference, pixels, since_fired=1)
        op, _ = self.session.trace(f"predicted:{head}",
                                   lambda s, p: state.measure(label_map(s), p), scores, pixels)
        weights = sum(len(row) + 1 for layer in model.layers for row in layer.weight)
        mlp = Kernel("host:clock_mlp:estimate", mlp_flops(model), 8 * weights, host=True,
                     estimate=True)
        return OpCost(op.name, op.kernels + (mlp,), op.in_shape, op.out_shape)

