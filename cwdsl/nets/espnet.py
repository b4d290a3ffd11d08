"""ESPNet (Mehta et al., ECCV 2018) staged as encoder levels with its decoder as the fuse.

The modules mirror the reference implementation (sacmehta/ESPNet ``train/Model.py``,
``ESPNet(classes, p, q)``): CBR/BR blocks with BatchNorm (eps 1e-3) and PReLU, strided
down-samplers and ESP blocks of five dilated 3x3 convs (rates 1, 2, 4, 8, 16) fused
hierarchically. The trunk of :data:`~cwdsl.core.netspec.ESPNET` is a DAG: ``b1`` reads
``level1`` and the image (pooled once to 1/2), ``b2`` the last 1/4 ESP block, ``level2_0``
and the image (pooled twice to 1/4), ``b3`` ``level3_0`` and the last 1/8 ESP block. The
heads are the 1/2 map itself (``feat_l1``, features), the decoder's projection of the 1/4
map to class space (``level3_C``, 12 scores) and the encoder's classifier + BatchNorm at
1/8 (``score_l3``, 12 scores); the fuse is the decoder (up_l3, combine_l2_l3, up_l2,
conv, classifier), an ``nn.Module`` with its weights.

**The void logit.** The CamVid checkpoint has 12 logits, the 12th (index 11) void. Heads
keep all 12 (the decoder reads them); the fuse returns the first ``num_classes`` (11), so
a frame's labels are the argmax over CamVid's 11 classes and void is never predicted.

The released checkpoint's keys load through the spec's ``key_map``
(``encoder.level2.0.*`` → ``layers.esp2_0.*``, ``level3_C.*`` → ``heads.level3_C.*``, …).
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from cwdsl.core.netspec import ESPNET, NetworkSpec, espnet_spec
from cwdsl.core.units import HW
from cwdsl.nets.module_net import ModuleNetwork

EPS = 1e-3


class CBR(nn.Module):
    """Conv (no bias) + BatchNorm + PReLU."""

    def __init__(self, n_in: int, n_out: int, k: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(n_in, n_out, k, stride=stride, padding=(k - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(n_out, eps=EPS)
        self.act = nn.PReLU(n_out)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class BR(nn.Module):
    """BatchNorm + PReLU."""

    def __init__(self, n: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(n, eps=EPS)
        self.act = nn.PReLU(n)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(x))


class C(nn.Module):
    """Conv (no bias), ``dilation`` d, padded to keep the size (stride 1)."""

    def __init__(self, n_in: int, n_out: int, k: int, stride: int = 1, d: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(n_in, n_out, k, stride=stride, padding=(k - 1) // 2 * d,
                              bias=False, dilation=d)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class ESP(nn.Module):
    """Reduce (``c1``), split into five dilated convs, fuse hierarchically, merge; the
    down-sampler (``down=True``: strided 3x3 reduce, BN + PReLU) or the ESP block (1x1
    reduce, optional residual, BR)."""

    def __init__(self, n_in: int, n_out: int, down: bool = False, add: bool = True):
        super().__init__()
        n = n_out // 5
        self.c1 = C(n_in, n, 3, 2) if down else C(n_in, n, 1, 1)
        self.d1 = C(n, n_out - 4 * n, 3, 1, 1)
        self.d2, self.d4, self.d8, self.d16 = (C(n, n, 3, 1, d) for d in (2, 4, 8, 16))
        self.down, self.add = down, add and not down
        if down:
            self.bn = nn.BatchNorm2d(n_out, eps=EPS)
            self.act = nn.PReLU(n_out)
        else:
            self.bn = BR(n_out)

    def forward(self, x: Tensor) -> Tensor:
        out = self.c1(x)
        d1, d2, d4, d8, d16 = self.d1(out), self.d2(out), self.d4(out), self.d8(out), self.d16(out)
        add2 = d2 + d4
        add3 = add2 + d8
        add4 = add3 + d16
        combine = torch.cat([d1, d2, add2, add3, add4], 1)
        if self.down:
            return self.act(self.bn(combine))
        if self.add:
            combine = x + combine
        return self.bn(combine)


class ConcatBR(nn.Module):
    """Concatenate the inputs (the last one the image, average-pooled ``image_pools``
    times by 3x3/2 when that is > 0), then BatchNorm + PReLU."""

    def __init__(self, n: int, image_pools: int = 0):
        super().__init__()
        self.pools = image_pools
        self.pool = nn.AvgPool2d(3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(n, eps=EPS)
        self.act = nn.PReLU(n)

    def forward(self, *inputs: Tensor) -> Tensor:
        parts = list(inputs)
        for _ in range(self.pools):
            parts[-1] = self.pool(parts[-1])
        return self.act(self.bn(torch.cat(parts, 1)))


class ScoreHead(nn.Module):
    """The encoder's 1x1 classifier followed by the decoder's BatchNorm (``br``)."""

    def __init__(self, n_in: int, classes: int):
        super().__init__()
        self.classifier = C(n_in, classes, 1, 1)
        self.br = nn.BatchNorm2d(classes, eps=EPS)

    def forward(self, x: Tensor) -> Tensor:
        return self.br(self.classifier(x))


def _up(classes: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(classes, classes, 2, stride=2, padding=0, output_padding=0,
                              bias=False)


class Decoder(nn.Module):
    """ESPNet's RUM decoder as the fuse: (heads, input size) → (N, num_classes, H, W).

    A head left out (a truncated schedule) contributes zeros of its map's size."""

    def __init__(self, classes: int, num_classes: int, l1_channels: int = 19):
        super().__init__()
        self.classes, self.num_classes, self.l1_channels = classes, num_classes, l1_channels
        self.up_l3 = nn.Sequential(_up(classes))
        self.combine_l2_l3 = nn.Sequential(BR(2 * classes), ESP(2 * classes, classes, add=False))
        self.up_l2 = nn.Sequential(_up(classes), BR(classes))
        self.conv = CBR(l1_channels + classes, classes, 3, 1)
        self.classifier = _up(classes)

    def forward(self, heads: Mapping[str, Tensor], input_hw: HW) -> Tensor:
        if not heads or set(heads) - {"feat_l1", "level3_C", "score_l3"}:
            raise ValueError(f"the ESPNet fuse takes feat_l1, level3_C, score_l3; got "
                             f"{', '.join(sorted(heads)) or 'none'}")
        some = next(iter(heads.values()))
        h, w = input_hw

        def get(name: str, channels: int, scale: int) -> Tensor:
            if name in heads:
                return heads[name]
            return some.new_zeros(some.shape[0], channels, h // scale, w // scale)

        l3 = self.up_l3(get("score_l3", self.classes, 8))
        comb = self.up_l2(self.combine_l2_l3(torch.cat([get("level3_C", self.classes, 4), l3],
                                                       1)))
        out = self.classifier(self.conv(torch.cat([comb, get("feat_l1", self.l1_channels, 2)],
                                                  1)))
        return out[:, :self.num_classes]


def _trunk_key(spec: NetworkSpec):
    return tuple((layer.name, layer.kind, spec.layer_inputs(layer.name)) for layer in spec.layers)


def is_espnet_kind(spec: NetworkSpec) -> bool:
    """Whether ``spec`` has the ESPNet layout of :data:`~cwdsl.core.netspec.ESPNET` (any
    number of ESP blocks, any class count)."""
    names = spec.layer_names
    p = sum(n.startswith("esp2_") for n in names)
    q = sum(n.startswith("esp3_") for n in names)
    if not p or not q:
        return False
    ref = espnet_spec(p, q)
    return _trunk_key(spec) == _trunk_key(ref) and \
        tuple(spec.heads) == tuple(ref.heads) and spec.in_channels == 3


class ESPNet(ModuleNetwork):
    """ESPNet from an ESPNet-kind spec (:func:`is_espnet_kind`): encoder levels as layers,
    the decoder as the fuse (see the module's docstring). State dict keys ``layers.*``,
    ``heads.*``, ``fuse_module.*``; the released checkpoint maps onto them by the spec's
    ``key_map``."""

    def __init__(self, spec: NetworkSpec = ESPNET):
        classes = spec.head_channels
        layers: dict[str, nn.Module] = {"level1": CBR(3, 16, 3, 2), "b1": ConcatBR(19, 1),
                                        "level2_0": ESP(19, 64, down=True),
                                        "level3_0": ESP(131, 128, down=True)}
        for name in spec.layer_names:
            if name.startswith("esp2_"):
                layers[name] = ESP(64, 64)
            elif name.startswith("esp3_"):
                layers[name] = ESP(128, 128)
        layers["b2"] = ConcatBR(131, 2)
        layers["b3"] = ConcatBR(256)
        heads = {"feat_l1": nn.Identity(), "level3_C": C(131, classes, 1, 1),
                 "score_l3": ScoreHead(256, classes)}
        super().__init__(spec, layers, heads, Decoder(classes, spec.num_classes))
