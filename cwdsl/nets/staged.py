"""The staged interface an executor drives, and staging of any user ``nn.Module``.

A :class:`StagedNetwork` is an ``nn.Module`` over a :class:`~cwdsl.core.netspec.NetworkSpec`
whose trunk can be run a range of layers at a time::

    feats = net.run_layers(frame, "conv1_1", "pool3")         # F[1] from F[0]
    s1 = net.head("score_pool3", feats)                         # S[1]
    out = net.fuse({"score_pool3": s1}, frame.shape[-2:])       # (N, C, H, W)

``forward`` is that same path over the whole trunk, so a schedule that computes every
stage on every frame reproduces ``net(frame)`` bit for bit.

Users stage their own modules with :func:`stage_module`; schedules then name their
layers and heads (``network NAME``, ``stage s1 = a .. b head h``).
"""
from __future__ import annotations

import copy
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from cwdsl.lang.parser import reserved_words
from cwdsl.core.netspec import Head, Layer, NetworkSpec, register_network
from cwdsl.core.units import HW

FuseFn = Callable[[Mapping[str, Tensor], HW], Tensor]
"""``fuse(scores, input_hw)``: head name → score map in, (N, C, H, W) class scores out."""


class StagedNetwork(nn.Module, ABC):
    """A segmentation network that can be run stage by stage.

    Subclasses implement :meth:`run_layer`, :meth:`head` and :meth:`fuse`; the rest is
    shared, so the full ``forward`` and a staged execution run the same operations in
    the same order.
    """

    def __init__(self, spec: NetworkSpec):
        super().__init__()
        self.spec = spec
        self._index = {name: i for i, name in enumerate(spec.layer_names)}
        self._reads = {h.name: self._index[h.reads] for h in spec.heads}
        self._segments: dict[tuple[str, str, tuple[str, ...]], tuple] = {}

    @abstractmethod
    def run_layer(self, name: str, x: Tensor) -> Tensor:
        """Apply the one trunk layer ``name`` to ``x``."""

    @abstractmethod
    def head(self, name: str, features: Tensor) -> Tensor:
        """Apply the score head ``name`` to the output of the layer it reads."""

    @abstractmethod
    def fuse(self, scores: Mapping[str, Tensor], input_hw: Sequence[int]) -> Tensor:
        """Fuse the given head scores into (N, num_classes, H, W) scores for an input of
        ``input_hw``. Heads left out contribute nothing (a truncated network); the output
        still has the input's size."""

    def head_window(self, name: str, input_hw: Sequence[int]) -> tuple[slice, slice]:
        """The part of head ``name``'s score map that looks at the image (all of it by
        default; FCNs with padded inputs override this). Label differences use it."""
        return slice(None), slice(None)

    def run_layers(self, x: Tensor, first: str, last: str) -> Tensor:
        """Run trunk layers ``first`` .. ``last`` (inclusive, in network order) on ``x``."""
        lo, hi = self._range(first, last)
        for name in self.spec.layer_names[lo:hi + 1]:
            x = self.run_layer(name, x)
        return x

    def run_stage(self, x: Tensor, first: str, last: str,
                  heads: Sequence[str] = ()) -> tuple[Tensor, dict[str, Tensor]]:
        """Run layers ``first`` .. ``last`` and the score ``heads`` whose layer lies in that
        range (a head may read a layer inside the range, e.g. ``score_pool3`` in a stage
        ``conv1_1 .. pool4``). Returns the output features and head name → scores."""
        scores: dict[str, Tensor] = {}
        for seg_first, seg_last, seg_heads in self._stage_segments(first, last, tuple(heads)):
            x = self.run_layers(x, seg_first, seg_last)
            for name in seg_heads:
                scores[name] = self.head(name, x)
        return x, scores

    def forward(self, x: Tensor) -> Tensor:
        """The whole network: every head, fused at the input's size."""
        _, scores = self.run_stage(x, self.spec.layer_names[0], self.spec.deepest_read(),
                                   tuple(self._reads))
        return self.fuse(scores, tuple(x.shape[-2:]))

    def _layer(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise ValueError(f"network {self.spec.name} has no layer {name!r}") from None

    def _range(self, first: str, last: str) -> tuple[int, int]:
        lo, hi = self._layer(first), self._layer(last)
        if lo > hi:
            raise ValueError(f"layer {first} comes after {last} in network {self.spec.name}")
        return lo, hi

    def _stage_segments(self, first: str, last: str, heads: tuple[str, ...]) -> tuple:
        """``(first, last, heads)`` runs that split a stage where its heads read."""
        key = (first, last, heads)
        if key not in self._segments:
            lo, hi = self._range(first, last)
            by_layer: dict[int, list[str]] = {}
            for name in heads:
                if name not in self._reads:
                    raise ValueError(f"network {self.spec.name} has no head {name!r}")
                if not lo <= self._reads[name] <= hi:
                    raise ValueError(f"head {name} reads a layer outside {first} .. {last}")
                by_layer.setdefault(self._reads[name], []).append(name)
            names = self.spec.layer_names
            segments, start = [], lo
            for end in sorted(by_layer):
                segments.append((names[start], names[end], tuple(by_layer[end])))
                start = end + 1
            if start <= hi:
                segments.append((names[start], names[hi], ()))
            self._segments[key] = tuple(segments)
        return self._segments[key]


def resize_sum(head_order: Sequence[str]) -> FuseFn:
    """A fuse that resizes each given score map bilinearly to the input's size and sums
    them in ``head_order`` (a fixed order, so the result does not depend on which order
    the scores arrive in). The default fuse of :func:`stage_module`."""
    order = tuple(head_order)

    def fuse(scores: Mapping[str, Tensor], input_hw: Sequence[int]) -> Tensor:
        size = (int(input_hw[0]), int(input_hw[1]))
        total = None
        for name in order:
            if name in scores:
                s = scores[name]
                if tuple(s.shape[-2:]) != size:
                    s = F.interpolate(s, size=size, mode="bilinear", align_corners=False)
                total = s if total is None else total + s
        if total is None:
            raise ValueError("fuse needs at least one head's scores")
        return total

    return fuse


class ModuleNetwork(StagedNetwork):
    """A :class:`StagedNetwork` over user modules: one per trunk layer and per head.

    The state dict keys are ``layers.<layer>.*``, ``heads.<head>.*`` and, when the fuse
    is an ``nn.Module``, ``fuse_module.*``.
    """

    def __init__(self, spec: NetworkSpec, layers: Mapping[str, nn.Module],
                 heads: Mapping[str, nn.Module], fuse: FuseFn):
        super().__init__(spec)
        self.layers = nn.ModuleDict({name: layers[name] for name in spec.layer_names})
        self.heads = nn.ModuleDict({h.name: heads[h.name] for h in spec.heads})
        self.fuse_module = fuse if isinstance(fuse, nn.Module) else None
        self._fuse = fuse

    def run_layer(self, name: str, x: Tensor) -> Tensor:
        return self.layers[name](x)

    def head(self, name: str, features: Tensor) -> Tensor:
        return self.heads[name](features)

    def fuse(self, scores: Mapping[str, Tensor], input_hw: Sequence[int]) -> Tensor:
        return self._fuse(scores, (int(input_hw[0]), int(input_hw[1])))


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _check_name(network: str, what: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"network {network}: {what} name {name!r} must be a schedule name "
                         f"(letters, digits and '_', not starting with a digit)")
    if name in reserved_words():
        raise ValueError(f"network {network}: {what} name {name!r} is a reserved word of "
                         f"the schedule language")
    if hasattr(nn.ModuleDict(), name):
        raise ValueError(f"network {network}: {what} name {name!r} clashes with an "
                         f"nn.ModuleDict attribute; choose another")


def stage_module(name: str, layers: Sequence[tuple[str, nn.Module]],
                 heads: Mapping[str, tuple[str, nn.Module]], *, num_classes: int,
                 default_input: HW, fuse: FuseFn | None = None, in_channels: int = 3,
                 description: str = "", replace: bool = False) -> NetworkSpec:
    """Register a user network made of ``nn.Module`` s so schedules can say ``network NAME``.

    ``layers`` is the trunk in execution order, ``(layer_name, module)``; each module maps
    the previous layer's output to its own. ``heads`` maps a head name to
    ``(layer_name_it_reads, module)``; a head module maps that layer's output to class
    scores. ``fuse(scores, input_hw)`` receives head name → scores for the heads a schedule
    outputs (any subset, for truncated schedules) and returns (N, num_classes, H, W);
    it defaults to :func:`resize_sum`. An ``nn.Module`` fuse is part of the network's
    weights.

    Every :func:`~cwdsl.nets.build_network` call deep-copies the modules, so networks
    built from one registration never share parameters. Returns the registered spec;
    ``replace=True`` overwrites a network of the same name.
    """
    if not layers:
        raise ValueError(f"network {name}: a network needs at least one layer")
    if not heads:
        raise ValueError(f"network {name}: a network needs at least one head")
    for layer_name, module in layers:
        _check_name(name, "layer", layer_name)
        if not isinstance(module, nn.Module):
            raise TypeError(f"network {name}: layer {layer_name} is not an nn.Module")
    for head_name, (reads, module) in heads.items():
        _check_name(name, "head", head_name)
        if not isinstance(module, nn.Module):
            raise TypeError(f"network {name}: head {head_name} is not an nn.Module")
    layer_modules = dict(layers)
    head_modules = {head_name: module for head_name, (_, module) in heads.items()}
    spec_heads = tuple(Head(head_name, reads) for head_name, (reads, _) in heads.items())
    fuse_fn = fuse if fuse is not None else resize_sum([h.name for h in spec_heads])

    def build(spec: NetworkSpec) -> ModuleNetwork:
        parts = copy.deepcopy((layer_modules, head_modules, fuse_fn))
        return ModuleNetwork(spec, *parts)

    spec = NetworkSpec(name, tuple(Layer(n, "module") for n, _ in layers), spec_heads,
                       num_classes, tuple(default_input), in_channels=in_channels,
                       description=description, builder=build)
    return register_network(spec, replace=replace)
