"""Analytic cost of a network at one input size and dtype: FLOPs, bytes moved, kernels.

Everything is *traced*, never written down by hand: the network is built on the meta
device (nothing allocated, nothing computed) and every layer, head, fuse and clock
measurement is run under ``FlopCounterMode`` (FLOPs, as :func:`cwdsl.nets.count_macs`
counts them) and a dispatch-level tracer that records, for each aten kernel, the bytes
of the tensors it reads and writes (parameters counted apart as weight bytes) and the
shape it produces. Views (slicing for crops, reshapes) move no bytes and launch nothing.

The totals are cross-checked against :func:`cwdsl.nets.count_macs` (the project's one
MAC counter); the per-kernel split is what a roofline needs, since a layer is a compute
bound convolution followed by a memory bound ReLU.

The recorder (kernels, op costs, the trace session) is :mod:`cwdsl.cost.kernels`.

Optical flow, warps and learned clocks are traced on demand by :mod:`cwdsl.cost.motion`
(the flow's OpenCV part, which runs on the host, is an analytic estimate there).
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from cwdsl.core.clockmodel import ClockModel
from cwdsl.core.errors import InputError, InternalError
from cwdsl.core.netspec import IMAGE, NetworkSpec, get_network
from cwdsl.nets import count_macs, meta_network, walk_trunk
from cwdsl.nets.preprocess import normalize
from cwdsl.runtime.device import torch_dtype
from cwdsl.runtime.measure import Window, label_map, quiet_atom
from cwdsl.core.units import HW

from cwdsl.cost.kernels import Cost, Kernel, OpCost, Shape, TraceSession, nbytes  # noqa: F401
from cwdsl.cost.motion import MotionTrace

@dataclass(frozen=True)
class NetworkCost:
    """Costs of one network (``network``) for one frame of ``input_hw`` in ``dtype``.

    ``layers`` and ``heads`` are in network order. ``input`` is the per-frame
    normalisation of the frame, ``upload_bytes`` the frame's host-to-device copy,
    ``label_diffs`` (per head, over the whole score map), ``image_label_diffs`` (per head,
    over the cells that see the image: region ``image``) and ``pixel_diff`` a data-driven
    clock's measurement (:meth:`measure_op` picks one as a program's ``MeasureNode`` says).
    Fuses of head subsets (:meth:`fuse_op`), flows (:meth:`flow_op`), warps
    (:meth:`warp_op`) and learned clocks (:meth:`predicted_op`) are traced on demand.
    """

    network: str
    input_hw: HW
    dtype: str
    layer_names: tuple[str, ...]
    layers: Mapping[str, OpCost]
    heads: Mapping[str, OpCost]
    head_reads: Mapping[str, str]
    input: OpCost
    upload_bytes: int
    label_diffs: Mapping[str, OpCost]
    pixel_diff: OpCost
    _fuser: Callable[[frozenset[str]], OpCost] = field(repr=False, compare=False)
    _fuses: dict = field(default_factory=dict, repr=False, compare=False)
    image_label_diffs: Mapping[str, OpCost] = field(default_factory=dict)
    _motion: MotionTrace | None = field(default=None, repr=False, compare=False)

    def measure_op(self, head: str | None, region: str | None = "map") -> OpCost:
        """The measurement of a data-driven atom: the pixel difference (``head`` None) or
        the label difference of ``head`` over ``region`` (``map`` or ``image``), traced
        with the executor's own code over the same cells."""
        if head is None:
            return self.pixel_diff
        return (self.image_label_diffs if region == "image" else self.label_diffs)[head]

    def predicted_op(self, head: str, model: ClockModel) -> OpCost:
        """A learned clock's measurement on ``head``'s whole map with ``model`` (its labels,
        the signals ``model`` reads, the MLP on the host), traced once per signal set."""
        return self._motion.predicted_op(head, model)

    def flow_op(self, method: str) -> OpCost:
        """One frame's optical flow by ``method``: gray frames and OpenCV's DIS on the host
        (DIS an analytic estimate: its kernel says ``host`` and ``estimate``), the upload."""
        return self._motion.flow_op(method)

    def compose_op(self) -> OpCost:
        """Composing a frame's flow into a warping stage's total flow (one grid sample at
        the image's size; the simulator knows when it is needed and shared)."""
        return self._motion.compose_op()

    def warp_parts(self, first: str, last: str, heads: Sequence[str] = ()) -> tuple[str, ...]:
        """The tensors warping stage ``first .. last`` with ``heads`` moves:
        ``features:NAME`` per tensor it hands on, ``head:NAME`` per head."""
        self.stage_ops(first, last, heads)  # checks the range and the heads
        return self._motion.warp_parts(first, last, heads)

    def warp_part(self, part: str) -> OpCost:
        """Warping one tensor (see :meth:`warp_parts`), traced once."""
        return self._motion.warp_part(part)

    def warp_op(self, first: str, last: str, heads: Sequence[str] = ()) -> OpCost:
        """Warping the state of stage ``first .. last`` with ``heads`` by a composed flow:
        every tensor's kernels (its composition apart: :meth:`compose_op`)."""
        self.stage_ops(first, last, heads)
        return self._motion.warp_op(first, last, heads)

    # -- selections ----------------------------------------------------------------------
    def layer_range(self, first: str, last: str) -> tuple[str, ...]:
        """Layer names ``first`` .. ``last`` inclusive; ``InputError`` if not a range."""
        try:
            lo, hi = self.layer_names.index(first), self.layer_names.index(last)
        except ValueError:
            bad = first if first not in self.layer_names else last
            raise InputError(f"network {self.network} has no layer '{bad}'") from None
        if lo > hi:
            raise InputError(f"layer {first} comes after {last} in network {self.network}")
        return self.layer_names[lo:hi + 1]

    def stage_ops(self, first: str, last: str, heads: Sequence[str] = ()) -> tuple[OpCost, ...]:
        """The layer and head ops of a stage ``first .. last`` with ``heads``."""
        names = self.layer_range(first, last)
        for h in heads:
            if h not in self.heads:
                raise InputError(f"network {self.network} has no head '{h}'")
            if self.head_reads[h] not in names:
                raise InputError(f"head {h} reads {self.head_reads[h]}, outside "
                                 f"{first} .. {last}")
        return tuple(self.layers[n] for n in names) + tuple(self.heads[h] for h in heads)

    def fuse_op(self, heads: Iterable[str]) -> OpCost:
        """The fuse of the scores of ``heads`` (any non-empty subset), traced once."""
        key = frozenset(heads)
        unknown = key - self.heads.keys()
        if not key or unknown:
            raise InputError(f"fuse of network {self.network} takes a non-empty subset of "
                             f"{', '.join(self.heads)}; got {', '.join(sorted(key)) or 'none'}")
        if key not in self._fuses:
            self._fuses[key] = self._fuser(key)
        return self._fuses[key]

    def deepest_read(self) -> str:
        """The deepest layer any head reads: where the frame oracle's trunk ends."""
        return max(self.head_reads.values(), key=self.layer_names.index)

    def full_ops(self) -> tuple[OpCost, ...]:
        """The frame oracle's ops: the trunk up to its deepest head, every head, the fuse."""
        return self.stage_ops(self.layer_names[0], self.deepest_read(), tuple(self.heads)) + \
            (self.fuse_op(self.heads),)

    # -- totals --------------------------------------------------------------------------
    def stage(self, first: str, last: str, heads: Sequence[str] = ()) -> Cost:
        """Cost of running layers ``first`` .. ``last`` and ``heads`` (a program stage)."""
        return Cost.total(op.cost for op in self.stage_ops(first, last, heads))

    def fuse(self, heads: Iterable[str]) -> Cost:
        """Cost of fusing the scores of ``heads``."""
        return self.fuse_op(heads).cost

    def full(self) -> Cost:
        """The whole network (every layer, every head, the full fuse): the frame oracle."""
        return Cost.total(op.cost for op in self.full_ops())


_CACHE: dict[tuple, NetworkCost] = {}


def network_cost(spec: NetworkSpec | str, input_hw: Sequence[int],
                 dtype: str = "float32") -> NetworkCost:
    """Trace the costs of ``spec`` (or the registered network of that name) for one frame
    of ``input_hw`` = (height, width) in ``dtype``; cached per (network, size, dtype)."""
    if isinstance(spec, str):
        spec = get_network(spec)
    torch_dtype(dtype)  # checks the name
    hw = _size(input_hw)
    key = (spec, spec.builder, hw, dtype)
    if key not in _CACHE:
        _CACHE[key] = _trace_network(spec, hw, dtype)
    return _CACHE[key]


def _size(input_hw: Sequence[int]) -> HW:
    try:
        h, w = (int(n) for n in input_hw)
    except (TypeError, ValueError):
        raise InputError(f"an input size is (height, width), got {input_hw!r}") from None
    if h < 1 or w < 1:
        raise InputError(f"an input size must be positive, got {h}x{w}")
    return h, w


def _trace_network(spec: NetworkSpec, hw: HW, dtype: str) -> NetworkCost:
    dt = torch_dtype(dtype)
    session = TraceSession(spec, dt)
    net = session.net
    spec.check_input(hw, "input")
    pixels = torch.empty(1, spec.in_channels, *hw, device="meta")
    # The executor's per-frame conversion (Executor.step).
    input_op, x = session.trace("input", lambda p: normalize(p.float(), spec.norm)
                                .to(dt), pixels)
    layers, heads, outputs = {}, {}, {IMAGE: x}

    def layer(name, inputs):
        layers[name], outputs[name] = session.trace(name, net.run_layer, name, *inputs)
        return outputs[name]

    def head(name, features):
        heads[name], out = session.trace(name, net.head, name, features)
        return out

    try:  # the DAG walk every tool shares (cwdsl.nets.walk_trunk)
        scores, _ = walk_trunk(net, x, layer, head)
    except RuntimeError as e:
        raise InputError(f"network {spec.name} cannot run an input of {hw[0]}x{hw[1]}: "
                         f"{e}") from None
    heads = {h.name: heads[h.name] for h in spec.heads}  # the spec's head order

    label_diffs = {h: _trace_measure(session, f"labeldiff:{h}", h, scores[h]) for h in heads}
    image_label_diffs = {h: _trace_measure(session, f"labeldiff:{h}:image", h, scores[h],
                                           net.head_window(h, hw)) for h in heads}
    pixel_diff = _trace_measure(session, "pixeldiff", None, pixels)

    def fuser(subset: frozenset[str]) -> OpCost:
        chosen = {h: scores[h] for h in heads if h in subset}
        op, _ = session.trace("fuse:" + "+".join(chosen), net.fuse, chosen, hw)
        return op

    cost = NetworkCost(spec.name, hw, dtype, spec.layer_names, MappingProxyType(layers),
                       MappingProxyType(heads),
                       MappingProxyType({h.name: h.reads for h in spec.heads}), input_op,
                       nbytes(pixels), MappingProxyType(label_diffs), pixel_diff, fuser,
                       image_label_diffs=MappingProxyType(image_label_diffs),
                       _motion=MotionTrace(session, spec, hw, pixels, outputs, scores))
    _cross_check(spec, hw, cost)
    return cost


def _trace_measure(session: TraceSession, name: str, head: str | None,
                   source: torch.Tensor, window: Window | None = None) -> OpCost:
    """A clock measurement on a frame where it does not fire (the executor's own code),
    of a label difference over ``window`` of the map (None: all of it)."""
    labels = head is not None
    measure = quiet_atom(labels, label_map(source, window) if labels else source, window)
    op, _ = session.trace(name, measure, source)
    return op


def _cross_check(spec: NetworkSpec, hw: HW, cost: NetworkCost) -> None:
    """The traced FLOPs must equal :func:`count_macs`'s (both use FlopCounterMode)."""
    macs = count_macs(spec, hw)
    traced = {**{n: op.cost.macs for n, op in cost.layers.items()},
              **{n: op.cost.macs for n, op in cost.heads.items()},
              "fuse": cost.fuse_op(cost.heads).cost.macs}
    expected = {**macs.layers, **macs.heads, "fuse": macs.fuse}
    wrong = [n for n in expected if traced.get(n) != expected[n]]
    if wrong:
        raise InternalError(f"cost trace disagrees with count_macs on {', '.join(wrong)}")
