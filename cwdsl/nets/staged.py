"""The staged interface an executor drives, over a trunk that is a DAG of named layers.

A :class:`StagedNetwork` is an ``nn.Module`` over a :class:`~cwdsl.core.netspec.NetworkSpec`
whose trunk can be run a range of layers at a time::

    feats, s1 = net.run_stage(frame, "conv1_1", "pool3", ["score_pool3"])   # F[1], S[1]
    feats, s2 = net.run_stage(feats, "conv4_1", "pool4", ["score_pool4"])   # F[2], S[2]
    out = net.fuse({**s1, **s2}, frame.shape[-2:])                          # (N, C, H, W)

A layer may read several earlier layers and the image (``Layer.inputs``). What a stage
hands on, :class:`Features`, holds exactly the tensors that layers after the stage still
read (FCN: one map; ESPNet's first level: its concatenation and the image), so the executor
caches and passes it on without looking inside. ``forward`` is the same path over the
whole trunk, so a schedule computing every stage on every frame reproduces ``net(frame)``
bit for bit. :func:`walk_trunk` is the one layer-by-layer walk that FLOP counting, cost
tracing and profiling share.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import torch
from torch import Tensor, nn

from cwdsl.core.errors import InputError
from cwdsl.core.netspec import IMAGE, NetworkSpec
from cwdsl.core.units import HW
from cwdsl.nets.geometry import (IDENTITY_GRID, CellGrid, cell_grid, chain_geometry,
                                 feature_sizes, uniform_grid)

FuseFn = Callable[[Mapping[str, Tensor], HW], Tensor]
"""``fuse(heads, input_hw)``: head name → head output in, (N, C, H, W) class scores out."""


@dataclass(frozen=True, eq=False)
class Features(Mapping[str, Tensor]):
    """What a stage hands the next one: layer name (or ``"image"``) → tensor, for the
    layers after the stage that still read them. Read-only; opaque to the executor."""

    tensors: Mapping[str, Tensor]

    def __post_init__(self):
        object.__setattr__(self, "tensors", MappingProxyType(dict(self.tensors)))

    def __getitem__(self, name: str) -> Tensor:
        return self.tensors[name]

    def __iter__(self):
        return iter(self.tensors)

    def __len__(self) -> int:
        return len(self.tensors)

    def record_stream(self, stream) -> None:
        """``Tensor.record_stream`` on every tensor (the executor's CUDA lanes)."""
        for tensor in self.tensors.values():
            tensor.record_stream(stream)


@dataclass(frozen=True)
class StagePlan:
    """How to run layers ``first`` .. ``last``: ``steps`` are ``(layer, inputs, heads run on
    its output, names no longer needed after it)``; ``needs`` what the stage must be given,
    ``keeps`` what it hands on."""

    first: str
    last: str
    steps: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...]
    needs: tuple[str, ...]
    keeps: tuple[str, ...]


def plan_stage(spec: NetworkSpec, first: str, last: str, heads: Sequence[str] = (),
               keep: Sequence[str] = ()) -> StagePlan:
    """The :class:`StagePlan` of layers ``first`` .. ``last`` with ``heads`` (each must read
    a layer in the range); ``keep`` adds names to hand on. ``ValueError`` otherwise."""
    names = spec.layer_names
    index = {n: i for i, n in enumerate(names)}
    for name in (first, last):
        if name not in index:
            raise ValueError(f"network {spec.name} has no layer {name!r}")
    lo, hi = index[first], index[last]
    if lo > hi:
        raise ValueError(f"layer {first} comes after {last} in network {spec.name}")
    inside = names[lo:hi + 1]
    by_layer: dict[str, list[str]] = {}
    for h in heads:
        head = spec.head(h)
        if head is None:
            raise ValueError(f"network {spec.name} has no head {h!r}")
        if head.reads not in inside:
            raise ValueError(f"head {h} reads a layer outside {first} .. {last}")
        by_layer.setdefault(head.reads, []).append(h)
    reads = {n: spec.layer_inputs(n) for n in inside}
    keeps = tuple(dict.fromkeys(
        [r for n in names[hi + 1:] for r in spec.layer_inputs(n)
         if r == IMAGE or index[r] <= hi] + list(keep)))
    produced = set(inside)
    needs = tuple(dict.fromkeys([r for n in inside for r in reads[n] if r not in produced]
                                + [k for k in keeps if k not in produced]))
    last_use = {name: -1 for name in needs}
    for i, n in enumerate(inside):
        last_use[n] = i
        for r in reads[n]:
            last_use[r] = i
    steps = []
    for i, n in enumerate(inside):
        drop = tuple(d for d, at in last_use.items() if at == i and d not in keeps)
        steps.append((n, reads[n], tuple(by_layer.get(n, ())), drop))
    return StagePlan(first, last, tuple(steps), needs, keeps)


class StagedNetwork(nn.Module, ABC):
    """A segmentation network that can be run stage by stage.

    Subclasses implement :meth:`run_layer`, :meth:`head` and :meth:`fuse_heads`; the rest
    is shared, so the full ``forward`` and a staged execution run the same operations in
    the same order.
    """

    def __init__(self, spec: NetworkSpec):
        super().__init__()
        self.spec = spec
        self._plans: dict[tuple, StagePlan] = {}
        self._score_heads = frozenset(h.name for h in spec.heads if h.kind == "scores")

    @abstractmethod
    def run_layer(self, name: str, *inputs: Tensor) -> Tensor:
        """Apply the one trunk layer ``name`` to what it reads (``spec.layer_inputs``)."""

    @abstractmethod
    def head(self, name: str, features: Tensor) -> Tensor:
        """Apply head ``name`` to the output of the layer it reads."""

    @abstractmethod
    def fuse_heads(self, heads: Mapping[str, Tensor], input_hw: HW) -> Tensor:
        """Fuse the given heads' outputs into (N, num_classes, H, W) scores (see :meth:`fuse`)."""

    def fuse(self, heads: Mapping[str, Tensor], input_hw: Sequence[int]) -> Tensor:
        """Fuse the given heads' outputs into (N, num_classes, H, W) class scores for an
        input of ``input_hw``. Heads left out contribute nothing (a truncated network); the
        output still has the input's size. An ``InputError`` if the channels are wrong."""
        out = self.fuse_heads(heads, (int(input_hw[0]), int(input_hw[1])))
        if out.shape[1] != self.spec.num_classes:
            raise InputError(f"network {self.spec.name}: its fuse gives {out.shape[1]} "
                             f"channels, but the network has {self.spec.num_classes} classes")
        return out

    def fast_paths(self) -> dict[str, str]:
        """Faster kernels this network runs in place of its reference ops, as part → how it
        runs now (e.g. FCN's ``{"upsamplers": "grouped (diagonal weights)"}``); the outputs
        are those of the reference ops up to rounding. Empty by default: none."""
        return {}

    def adopt_fast_paths(self, state: Mapping[str, Tensor]) -> None:
        """Take the :meth:`fast_paths` the weights in ``state`` would give, without loading
        them (a meta network traced for the cost of running those weights). None here."""

    def head_window(self, name: str, input_hw: Sequence[int]) -> tuple[slice, slice]:
        """The part of head ``name``'s map that looks at the image (all of it by default;
        FCNs with padded inputs override this). Label differences over region ``image``
        use it."""
        return slice(None), slice(None)

    def cell_grid(self, name: str, input_hw: Sequence[int], map_hw: Sequence[int] | None = None
                  ) -> CellGrid:
        """Where the cells of ``name``'s map (a trunk layer, a head, or ``"image"``) sit on
        an image of ``input_hw`` (:class:`~cwdsl.nets.geometry.CellGrid`). A head is on the
        grid of the layer it reads when its map has that layer's size (a 1x1 head; an
        ``input_scale`` only scales values), else spread uniformly over the image, as is a
        layer whose geometry the description does not state (module layers).
        ``map_hw``: the map's (h, w) when known (the executor's tensors); otherwise sizes
        the description cannot give are traced on the meta device (nothing computed)."""
        hw = (int(input_hw[0]), int(input_hw[1]))
        if name == IMAGE:
            return IDENTITY_GRID
        head = self.spec.head(name)
        layer = head.reads if head is not None else name
        if head is None and layer not in self.spec.layer_names:
            raise ValueError(f"network {self.spec.name} has no layer or head {name!r}")
        if chain_geometry(self.spec, layer) is not None:
            grid = cell_grid(self.spec, layer, hw)
            if head is None:
                return grid
            if map_hw is None:
                map_hw = self.map_sizes(hw)[name]
            if tuple(map_hw) == feature_sizes(self.spec, hw)[layer]:
                return grid
        if map_hw is None:
            map_hw = self.map_sizes(hw)[name]
        return uniform_grid(hw, (int(map_hw[0]), int(map_hw[1])))

    def map_sizes(self, input_hw: Sequence[int]) -> dict[str, HW]:
        """The (h, w) of every layer's and head's output for an input of ``input_hw``,
        traced with meta stand-ins for the weights (no memory, no arithmetic)."""
        x = torch.empty(1, self.spec.in_channels, int(input_hw[0]), int(input_hw[1]),
                        device="meta")
        stand_ins = {f"net.{k}": torch.empty_like(v, device="meta")
                     for k, v in (*self.named_parameters(), *self.named_buffers())}
        with torch.no_grad():
            return torch.func.functional_call(_SizeTrace(self), stand_ins, (x,))

    def plan(self, first: str, last: str, heads: Sequence[str] = (),
             keep: Sequence[str] = ()) -> StagePlan:
        """:func:`plan_stage` for this network, cached."""
        key = (first, last, tuple(heads), tuple(keep))
        if key not in self._plans:
            self._plans[key] = plan_stage(self.spec, first, last, heads, keep)
        return self._plans[key]

    def stage_input(self, plan: StagePlan, x: Tensor | Mapping[str, Tensor]) -> dict:
        """What ``plan`` needs, from ``x``: :class:`Features` (or any name → tensor mapping)
        holding them, or one tensor standing for the one thing the stage reads (the image
        for a first stage; its side rule is checked here, where frames enter)."""
        if isinstance(x, Tensor):
            if len(plan.needs) != 1:
                raise ValueError(f"layers {plan.first} .. {plan.last} of network "
                                 f"{self.spec.name} read {', '.join(plan.needs)}: pass "
                                 f"Features holding them, not one tensor")
            if plan.needs[0] == IMAGE:
                self.spec.check_input(x.shape[-2:])
            return {plan.needs[0]: x}
        missing = [n for n in plan.needs if n not in x]
        if missing:
            raise ValueError(f"layers {plan.first} .. {plan.last} of network "
                             f"{self.spec.name} read {', '.join(missing)}, which the "
                             f"features given do not hold")
        return {n: x[n] for n in plan.needs}

    def execute(self, plan: StagePlan, env: dict, layer: Callable | None = None,
                head: Callable | None = None) -> dict[str, Tensor]:
        """Run ``plan``'s layers on ``env`` (name → tensor, updated in place: outputs are
        added, tensors no longer read are dropped) and its heads; returns head → output.
        ``layer(name, inputs)`` / ``head(name, features)`` replace ``run_layer`` / the head
        call (to count, trace or record them)."""
        outputs: dict[str, Tensor] = {}
        for name, reads, heads, drop in plan.steps:
            args = tuple(env[r] for r in reads)
            out = self.run_layer(name, *args) if layer is None else layer(name, args)
            env[name] = out
            for h in heads:
                outputs[h] = self.head(h, out) if head is None else head(h, out)
                if h in self._score_heads and outputs[h].shape[1] != self.spec.head_channels:
                    raise InputError(f"network {self.spec.name}: head {h} gives "
                                     f"{outputs[h].shape[1]} channels, but a scores head "
                                     f"must give {self.spec.head_channels} (one per class)")
            for d in drop:
                del env[d]
        return outputs

    def run_stage(self, x: Tensor | Mapping[str, Tensor], first: str, last: str,
                  heads: Sequence[str] = ()) -> tuple[Features, dict[str, Tensor]]:
        """Run layers ``first`` .. ``last`` and ``heads`` (each reading a layer in that
        range) on ``x`` (see :meth:`stage_input`). Returns the :class:`Features` layers
        after ``last`` read and head name → output."""
        plan = self.plan(first, last, heads)
        env = self.stage_input(plan, x)
        outputs = self.execute(plan, env)
        return Features({k: env[k] for k in plan.keeps}), outputs

    def run_layers(self, x: Tensor | Mapping[str, Tensor], first: str, last: str) -> Tensor:
        """Run trunk layers ``first`` .. ``last`` on ``x``; the output of ``last``."""
        plan = self.plan(first, last, (), (last,))
        env = self.stage_input(plan, x)
        self.execute(plan, env)
        return env[last]

    def forward(self, x: Tensor) -> Tensor:
        """The whole network: every head, fused at the input's size."""
        names = self.spec.layer_names
        _, heads = self.run_stage(x, names[0], self.spec.deepest_read(),
                                  tuple(h.name for h in self.spec.heads))
        return self.fuse(heads, tuple(x.shape[-2:]))


class _SizeTrace(nn.Module):
    """Runs a network's trunk and records each layer's and head's output size."""

    def __init__(self, net: StagedNetwork):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> dict[str, HW]:
        sizes: dict[str, HW] = {}

        def record(name: str, out: Tensor) -> Tensor:
            sizes[name] = (int(out.shape[-2]), int(out.shape[-1]))
            return out

        walk_trunk(self.net, x, lambda name, args: record(name, self.net.run_layer(name, *args)),
                   lambda name, features: record(name, self.net.head(name, features)))
        return sizes


def walk_trunk(net: StagedNetwork, image: Tensor, layer: Callable | None = None,
               head: Callable | None = None, record: bool = False
               ) -> tuple[dict[str, Tensor], dict[str, tuple[Tensor, ...]]]:
    """Run ``net``'s whole trunk on ``image`` one layer at a time, each head right after the
    layer it reads, as :meth:`StagedNetwork.execute` does (``layer``/``head`` hooks alike).
    Returns head name → output and, with ``record``, every layer's input tensors (and
    ``"image"``'s as ``(image,)``), keeping them alive. The one walk FLOP counting, cost
    tracing and profiling share."""
    spec = net.spec
    plan = net.plan(spec.layer_names[0], spec.layer_names[-1], tuple(h.name for h in spec.heads),
                    spec.layer_names if record else ())
    seen: dict[str, tuple[Tensor, ...]] = {}

    def recording(name, args):
        seen[name] = args
        return net.run_layer(name, *args) if layer is None else layer(name, args)

    env = net.stage_input(plan, image)
    heads = net.execute(plan, env, recording if record else layer, head)
    if record:
        seen[IMAGE] = (image,)
    return heads, seen
