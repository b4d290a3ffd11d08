"""The cost model's recorder: what one traced operation costs (:class:`Kernel` per aten
kernel, :class:`OpCost` per layer, head, fuse or measurement) and the
:class:`TraceSession` that runs the network's own functions on the meta device under
``FlopCounterMode`` and a dispatch-level tracer (see :mod:`cwdsl.cost.network`).

Byte counts are those of the dispatched ops on the meta device, i.e. the GPU path:
max pooling writes its int64 indices too, in-place ReLU reads and writes its tensor. Views
(slicing for crops, reshapes) move no bytes and launch nothing.
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

Shape = tuple[int, ...]

# Allocation-only ops: no kernel, no traffic.
_ALLOCATIONS = frozenset({"aten::empty", "aten::empty_strided", "aten::empty_like",
                          "aten::new_empty", "aten::new_empty_strided"})


@dataclass(frozen=True)
class Kernel:
    """One dispatched aten op: ``flops`` (FlopCounterMode), ``bytes`` read plus written
    (of which ``weight_bytes`` are parameters and buffers), the host syncs it forces.
    ``host``: it runs on the host CPU, not the device (OpenCV's optical flow, a learned
    clock's MLP); ``estimate``: its numbers are an analytic estimate, not a trace;
    ``link_bytes``: bytes it copies between host and device memory; ``transposed``: a
    transposed convolution (``aten::convolution`` with ``transposed=True``)."""

    op: str
    flops: int
    bytes: int
    weight_bytes: int = 0
    syncs: int = 0
    host: bool = False
    estimate: bool = False
    link_bytes: int = 0
    transposed: bool = False


@dataclass(frozen=True)
class Cost:
    """Aggregate cost of some kernels. ``flops`` = 2 × ``macs`` for convolutions;
    ``bytes`` includes ``weight_bytes``; ``kernels`` counts launches, ``syncs``
    device-to-host reads (a data-driven clock's one number)."""

    macs: int = 0
    flops: int = 0
    bytes: int = 0
    weight_bytes: int = 0
    kernels: int = 0
    syncs: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.macs + other.macs, self.flops + other.flops, self.bytes + other.bytes,
                    self.weight_bytes + other.weight_bytes, self.kernels + other.kernels,
                    self.syncs + other.syncs)

    @staticmethod
    def total(costs: Iterable[Cost]) -> Cost:
        out = Cost()
        for c in costs:
            out = out + c
        return out


@dataclass(frozen=True)
class OpCost:
    """One layer, head, fuse or measurement: its kernels and the shape it produces."""

    name: str
    kernels: tuple[Kernel, ...]
    in_shape: Shape
    out_shape: Shape

    @property
    def cost(self) -> Cost:
        flops = sum(k.flops for k in self.kernels)
        return Cost(macs=flops // 2, flops=flops, bytes=sum(k.bytes for k in self.kernels),
                    weight_bytes=sum(k.weight_bytes for k in self.kernels),
                    kernels=len(self.kernels), syncs=sum(k.syncs for k in self.kernels))


class _Tracer(TorchDispatchMode):
    """Records every non-view aten op; FLOPs are read off an enclosing FlopCounterMode."""

    def __init__(self, counter: FlopCounterMode, weights: Collection[int]):
        super().__init__()
        self.counter, self.weights = counter, weights
        self.kernels: list[Kernel] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func._schema.name
        if func is torch.ops.aten._local_scalar_dense.default:  # .item(): a host sync
            self.kernels.append(Kernel(name, 0, nbytes(args[0]), syncs=1))
            return 0.0 if args[0].dtype.is_floating_point else 0
        before = self.counter.get_total_flops()
        out = func(*args, **kwargs)
        if func.is_view or name in _ALLOCATIONS:
            return out
        flops = self.counter.get_total_flops() - before
        inputs = [t for t in _tensors((args, kwargs))]
        weight = sum(nbytes(t) for t in inputs if id(t) in self.weights)
        moved = sum(nbytes(t) for t in inputs) + sum(nbytes(t) for t in _tensors(out))
        transposed = func is torch.ops.aten.convolution.default and \
            bool(args[6] if len(args) > 6 else kwargs.get("transposed", False))
        self.kernels.append(Kernel(name, flops, moved, weight, transposed=transposed))
        return out


def _tensors(tree) -> Iterable[torch.Tensor]:
    if isinstance(tree, torch.Tensor):
        yield tree
    elif isinstance(tree, (list, tuple)):
        for item in tree:
            yield from _tensors(item)
    elif isinstance(tree, Mapping):
        for item in tree.values():
            yield from _tensors(item)


def nbytes(t: torch.Tensor) -> int:
    """Bytes of a tensor's elements."""
    return t.numel() * t.element_size()


class TraceSession:
    """A meta network and a way to trace calls on it."""

    def __init__(self, spec: NetworkSpec, dtype: torch.dtype):
        self.net = meta_network(spec).to(dtype)
        self.weights = frozenset(id(t) for t in (*self.net.parameters(), *self.net.buffers()))

    def trace(self, name: str, fn: Callable, *args) -> tuple[OpCost, object]:
        with torch.no_grad(), FlopCounterMode(display=False) as counter, \
                _Tracer(counter, self.weights) as tracer:
            out = fn(*args)
        first = next(_tensors(args), None)
        in_shape = tuple(first.shape) if first is not None else ()
        result = next(_tensors(out), None)
        out_shape = tuple(result.shape) if result is not None else ()
        return OpCost(name, tuple(tracer.kernels), in_shape, out_shape), out
