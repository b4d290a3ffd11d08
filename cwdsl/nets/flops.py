"""Multiply-accumulate counts per layer, head and fuse, measured by
``torch.utils.flop_counter.FlopCounterMode`` on meta tensors (nothing is allocated or
computed; no hand-written formulas). It counts convolutions and matrix products;
elementwise work (ReLU, pooling, the fuse's additions) counts as zero."""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from cwdsl.core.netspec import NetworkSpec
from cwdsl.nets.build import meta_network
from cwdsl.nets.staged import walk_trunk
from cwdsl.core.units import HW



@dataclass(frozen=True)
class MacCount:
    """MACs for one frame of ``input`` (height, width) and batch size ``batch``."""

    input: HW
    batch: int
    layers: Mapping[str, int]
    heads: Mapping[str, int]
    fuse: int

    @property
    def total(self) -> int:
        """The whole network: every layer, every head and the fuse."""
        return sum(self.layers.values()) + sum(self.heads.values()) + self.fuse

    def stage(self, layers: Sequence[str], heads: Collection[str] = ()) -> int:
        """MACs of a stage made of ``layers`` and ``heads``."""
        return sum(self.layers[n] for n in layers) + sum(self.heads[h] for h in heads)


def _macs(fn, *args) -> tuple[int, torch.Tensor]:
    with FlopCounterMode(display=False) as counter:
        out = fn(*args)
    return counter.get_total_flops() // 2, out


def count_macs(spec: NetworkSpec | str, input_hw: Sequence[int], *, batch: int = 1,
               fuse_heads: Collection[str] | None = None) -> MacCount:
    """Count the MACs of every layer and head of ``spec`` for an input of ``input_hw``,
    and of the fuse of ``fuse_heads`` (default: all heads)."""
    net = meta_network(spec)
    spec = net.spec
    hw = (int(input_hw[0]), int(input_hw[1]))
    x = torch.empty(batch, spec.in_channels, *hw, device="meta")
    layers, heads = {}, {}

    def layer(name, inputs):
        layers[name], out = _macs(net.run_layer, name, *inputs)
        return out

    def head(name, features):
        heads[name], out = _macs(net.head, name, features)
        return out

    with torch.no_grad():
        scores, _ = walk_trunk(net, x, layer, head)
        heads = {h.name: heads[h.name] for h in spec.heads}
        wanted = scores.keys() if fuse_heads is None else set(fuse_heads)
        fuse, _ = _macs(net.fuse, {h: s for h, s in scores.items() if h in wanted}, hw)
    return MacCount(hw, batch, layers, heads, fuse)
