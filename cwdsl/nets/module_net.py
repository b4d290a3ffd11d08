"""Staging any user ``nn.Module`` s: :func:`stage_module` registers a trunk (a DAG of named
modules), heads and a fuse as a network schedules can name (``network NAME``)."""
from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from cwdsl.core.netspec import Head, InputNorm, Layer, NetworkSpec, register_network
from cwdsl.core.units import HW
from cwdsl.lang.parser import reserved_words
from cwdsl.nets.staged import FuseFn, StagedNetwork


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
    """A :class:`StagedNetwork` over user modules: one per trunk layer and per head, and
    the fuse.

    The state dict keys are ``layers.<layer>.*``, ``heads.<head>.*`` and, when the fuse
    is an ``nn.Module``, ``fuse_module.*`` (registered once, under that name only).
    A layer module is called with what the layer reads (``spec.layer_inputs``), in order.
    """

    def __init__(self, spec: NetworkSpec, layers: Mapping[str, nn.Module],
                 heads: Mapping[str, nn.Module], fuse: FuseFn):
        super().__init__(spec)
        self.layers = nn.ModuleDict({name: layers[name] for name in spec.layer_names})
        self.heads = nn.ModuleDict({h.name: heads[h.name] for h in spec.heads})
        if isinstance(fuse, nn.Module):
            self.fuse_module = fuse
            self._fuse_fn = None
        else:
            self.fuse_module = None
            self._fuse_fn = fuse

    def run_layer(self, name: str, *inputs: Tensor) -> Tensor:
        return self.layers[name](*inputs)

    def head(self, name: str, features: Tensor) -> Tensor:
        return self.heads[name](features)

    def fuse_heads(self, heads: Mapping[str, Tensor], input_hw: HW) -> Tensor:
        fuse = self.fuse_module if self.fuse_module is not None else self._fuse_fn
        return fuse(heads, input_hw)


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


def _layer(network: str, item) -> tuple[Layer, nn.Module]:
    """``(name, module)`` or ``(name, module, inputs)`` → the layer and its module."""
    if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
        raise ValueError(f"network {network}: a layer is (name, module) or "
                         f"(name, module, inputs), got {item!r}")
    name, module, inputs = (*item, ())[:3]
    _check_name(network, "layer", name)
    if not isinstance(module, nn.Module):
        raise TypeError(f"network {network}: layer {name} is not an nn.Module")
    inputs = (inputs,) if isinstance(inputs, str) else tuple(inputs)
    return Layer(name, "module", inputs=inputs), module


def _head(network: str, name: str, item) -> tuple[Head, nn.Module]:
    """``(reads, module)`` or ``(reads, module, kind)`` → the head and its module."""
    if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
        raise ValueError(f"network {network}: head {name} is (layer it reads, module) or "
                         f"(layer, module, kind), got {item!r}")
    reads, module, kind = (*item, "scores")[:3]
    _check_name(network, "head", name)
    if not isinstance(module, nn.Module):
        raise TypeError(f"network {network}: head {name} is not an nn.Module")
    return Head(name, reads, kind), module


def stage_module(name: str, layers: Sequence[tuple], heads: Mapping[str, tuple], *,
                 num_classes: int, default_input: HW, norm: InputNorm | None = None,
                 fuse: FuseFn | None = None, in_channels: int = 3, description: str = "",
                 class_names: Sequence[str] = (), side_multiple: int = 1,
                 score_channels: int | None = None,
                 key_map: Sequence[tuple[str, str]] = (), weights_hint: str = "",
                 replace: bool = False) -> NetworkSpec:
    """Register a user network made of ``nn.Module`` s so schedules can say ``network NAME``.

    ``layers`` is the trunk in execution order, ``(layer_name, module)`` (the module reads
    the previous layer's output, the image for the first) or ``(layer_name, module,
    inputs)`` where ``inputs`` names earlier layers and/or ``"image"``, in the order the
    module takes them. ``heads`` maps a head name to ``(layer_it_reads, module)`` (class
    scores) or ``(layer, module, "features")`` (a map only the fuse understands).
    ``fuse(heads, input_hw)`` receives head name → output for the heads a schedule outputs
    (any subset, for truncated schedules) and returns (N, num_classes, H, W); it defaults
    to :func:`resize_sum` of score heads. An ``nn.Module`` fuse is part of the weights
    (``fuse_module.*``). ``norm`` (required) says how frames become the input;
    ``side_multiple``, ``score_channels``, ``key_map`` and ``weights_hint`` are those of
    :class:`~cwdsl.core.netspec.NetworkSpec`.

    Every :func:`~cwdsl.nets.build_network` call deep-copies the modules, so networks
    built from one registration never share parameters. Returns the registered spec;
    ``replace=True`` overwrites a network of the same name.
    """
    if norm is None:
        raise ValueError(f"network {name}: stage_module needs norm=InputNorm(...): how an RGB "
                         f"frame in [0, 1] becomes the network's input (no default is "
                         f"assumed)")
    if not isinstance(norm, InputNorm):
        raise TypeError(f"network {name}: norm must be a cwdsl InputNorm, got "
                        f"{type(norm).__name__}")
    if not layers:
        raise ValueError(f"network {name}: a network needs at least one layer")
    if not heads:
        raise ValueError(f"network {name}: a network needs at least one head")
    staged_layers = [_layer(name, item) for item in layers]
    staged_heads = [_head(name, head, item) for head, item in heads.items()]
    spec_heads = tuple(h for h, _ in staged_heads)
    if fuse is None:
        features = [h.name for h in spec_heads if h.kind != "scores"]
        if features:
            raise ValueError(f"network {name}: feature heads ({', '.join(features)}) need "
                             f"a fuse that understands them: pass fuse=...")
        fuse = resize_sum([h.name for h in spec_heads])
    layer_modules = {layer.name: module for layer, module in staged_layers}
    head_modules = {head.name: module for head, module in staged_heads}

    def build(spec: NetworkSpec) -> ModuleNetwork:
        parts = copy.deepcopy((layer_modules, head_modules, fuse))
        return ModuleNetwork(spec, *parts)

    spec = NetworkSpec(name, tuple(layer for layer, _ in staged_layers), spec_heads,
                       num_classes, (int(default_input[0]), int(default_input[1])),
                       in_channels=in_channels, description=description, builder=build,
                       norm=norm, class_names=tuple(class_names), side_multiple=side_multiple,
                       score_channels=score_channels, key_map=tuple(map(tuple, key_map)),
                       weights_hint=weights_hint)
    return register_network(spec, replace=replace)
