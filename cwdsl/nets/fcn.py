"""FCN-8s (Long et al.) built from a :class:`~cwdsl.core.netspec.NetworkSpec` of the VGG kind.

The module has the layout of the widely used PyTorch conversion of the Caffe model
(wkentaro/pytorch-fcn ``FCN8s``), so its weights load as they are: trunk layers named
``conv1_1`` .. ``fc7`` (conv1_1 pads 100, fc6 is an unpadded 7x7 conv, ReLU after every
conv, max pooling in ceil mode, dropout omitted as it is the identity at inference),
1x1 heads ``score_fr``, ``score_pool3``, ``score_pool4`` and bilinear-initialised
transposed convs ``upscore2``, ``upscore_pool4``, ``upscore8`` (no bias). While an
upsampler's weights are diagonal (class i feeds only class i, as bilinear ones are) it runs
grouped, one channel per group as the authors' Caffe nets do, c× less work than the full
c×c transposed conv; :meth:`FCN.fast_paths` says which way each runs.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cwdsl.core.netspec import FCN8S, NetworkSpec
from cwdsl.core.units import HW
from cwdsl.nets.geometry import feature_sizes, image_window, transposed_size
from cwdsl.nets.staged import StagedNetwork

# (kernel, stride) of the upsamplers and the crop offsets of the Caffe model's fuse.
UPSCORE2 = (4, 2)
UPSCORE_POOL4 = (4, 2)
UPSCORE8 = (16, 8)
CROP_POOL4 = 5
CROP_POOL3 = 9
CROP_OUTPUT = 31

# A trained FCN-8s's score_pool3 / score_fr spread ratio lies far inside (1/this, this).
ATONCE_RATIO = 100.0

# Heads in the reference module's order (this fixes the state dict's key order).
_HEADS = ("score_fr", "score_pool3", "score_pool4")
UPSAMPLERS = ("upscore2", "upscore_pool4", "upscore8")


def bilinear_kernel(channels: int, kernel: int) -> Tensor:
    """Weights (channels, channels, kernel, kernel) of a transposed conv that upsamples
    each channel bilinearly by ``kernel // 2`` (Caffe's ``bilinear`` filler, per channel)."""
    factor = (kernel + 1) // 2
    center = factor - 1 if kernel % 2 == 1 else factor - 0.5
    og = torch.arange(kernel, dtype=torch.float64, device="cpu")
    line = 1 - (og - center).abs() / factor
    filt = (line[:, None] * line[None, :]).to(torch.float32)
    weight = torch.zeros(channels, channels, kernel, kernel, device="cpu")
    weight[range(channels), range(channels)] = filt
    return weight


GROUPED = "grouped (diagonal weights)"
FULL = "full"


class Upsampler(nn.ConvTranspose2d):
    """A c→c transposed conv without bias, initialised bilinear (:func:`bilinear_kernel`),
    that runs grouped (``groups=c`` on the weights' diagonal) while its weights are diagonal:
    every off-diagonal kernel exactly zero (-0.0 included; NaN is not zero). Same module,
    parameter and state dict as ``nn.ConvTranspose2d``; only the kernel that runs differs.

    Diagonality is decided when the weights change, never per forward: at construction
    (bilinear: diagonal, on any device), after every ``load_state_dict`` that reaches this
    module (a post hook; ``load_weights`` calls it; a meta weight holds no values, so the
    decision stays) and on ``train()``/``eval()`` after the weight may have learned. While
    autograd may need the weight's gradient (grad enabled and ``weight.requires_grad``: the
    off-diagonal entries get gradients too) the full kernel runs, and keeps running until the
    next check. After editing the weight in place by hand, call :meth:`recheck`.
    """

    def __init__(self, channels: int, kernel: int, stride: int):
        super().__init__(channels, channels, kernel, stride=stride, bias=False)
        with torch.no_grad():
            self.weight.copy_(bilinear_kernel(channels, kernel))
        self.diagonal = True
        self._stale = False
        self.register_load_state_dict_post_hook(_recheck_after_load)

    def recheck(self) -> bool:
        """Decide again from the weights whether they are diagonal (kept as it is for a
        meta weight, which has no values); returns the decision."""
        w = self.weight.detach()
        if not w.is_meta:
            off = ~torch.eye(w.shape[0], w.shape[1], dtype=torch.bool, device=w.device)
            self.diagonal = w.shape[0] == w.shape[1] and not bool(w[off].any())
        self._stale = False
        return self.diagonal

    def decide(self, weight: Tensor) -> bool:
        """Decide from ``weight`` (this module's shape, real values) instead of its own: a
        meta network's way to run as the weights it stands for would (the cost model)."""
        off = ~torch.eye(weight.shape[0], weight.shape[1], dtype=torch.bool)
        self.diagonal = weight.shape[0] == weight.shape[1] and not bool(weight.cpu()[off].any())
        self._stale = False
        return self.diagonal

    def forward(self, x: Tensor, output_size: list[int] | None = None) -> Tensor:
        if self.diagonal and not self._stale and output_size is None:
            if not (torch.is_grad_enabled() and self.weight.requires_grad):
                w = self.weight.diagonal(dim1=0, dim2=1).permute(2, 0, 1).unsqueeze(1)
                return F.conv_transpose2d(x, w, None, self.stride, self.padding,
                                          self.output_padding, self.out_channels,
                                          self.dilation)  # w: (c, 1, k, k)
            self._stale = True  # the weight may learn: full until the next check
        return super().forward(x, output_size)

    def train(self, mode: bool = True) -> Upsampler:
        super().train(mode)
        if self._stale:
            self.recheck()
        return self

    @property
    def mode(self) -> str:
        """How the next no-grad forward runs: :data:`GROUPED` or :data:`FULL`."""
        return GROUPED if self.diagonal and not self._stale else FULL


def _recheck_after_load(module: Upsampler, incompatible_keys) -> None:
    module.recheck()  # a module-level function, so the module still pickles


def _geometry_key(layer):
    return layer.name, layer.kind, layer.kernel, layer.stride, layer.padding


def is_fcn8s_kind(spec: NetworkSpec) -> bool:
    """Whether ``spec`` has FCN-8s's topology: its layer names, kinds, kernels, strides,
    paddings and heads (channel widths and class count are free)."""
    return (tuple(map(_geometry_key, spec.layers)) == tuple(map(_geometry_key, FCN8S.layers))
            and {(h.name, h.reads, h.kind) for h in spec.heads}
            == {(h.name, h.reads, h.kind) for h in FCN8S.heads})


@dataclass(frozen=True)
class FuseGeometry:
    """Sizes of the fuse's maps for one input size, all from the spec's arithmetic."""

    input: HW
    score_pool3: HW
    score_pool4: HW
    score_fr: HW
    upscore2: HW
    upscore_pool4: HW
    upscore8: HW


def fuse_geometry(spec: NetworkSpec, input_hw: Sequence[int]) -> FuseGeometry:
    """The fuse's map sizes for an FCN-8s-kind ``spec`` and an input of ``input_hw``.

    Raises ``ValueError`` if a crop would leave its source (never for FCN-8s: the
    100-pixel padding of conv1_1 keeps every crop inside for any input size).
    """
    hw = (int(input_hw[0]), int(input_hw[1]))
    sizes = feature_sizes(spec, hw)

    def up(size: HW, kernel_stride: tuple[int, int]) -> HW:
        return tuple(transposed_size(n, *kernel_stride) for n in size)

    upscore2 = up(sizes["fc7"], UPSCORE2)
    upscore_pool4 = up(upscore2, UPSCORE_POOL4)
    geo = FuseGeometry(input=hw, score_pool3=sizes["pool3"], score_pool4=sizes["pool4"],
                       score_fr=sizes["fc7"], upscore2=upscore2, upscore_pool4=upscore_pool4,
                       upscore8=up(upscore_pool4, UPSCORE8))
    for source, offset, target in ((geo.score_pool4, CROP_POOL4, geo.upscore2),
                                   (geo.score_pool3, CROP_POOL3, geo.upscore_pool4),
                                   (geo.upscore8, CROP_OUTPUT, geo.input)):
        if any(offset + t > s for s, t in zip(source, target)):
            raise ValueError(f"network {spec.name}: cannot crop {target} at offset {offset} "
                             f"from {source} for an input of {hw[0]}x{hw[1]}")
    return geo


def _crop(x: Tensor, offset: int, size: HW) -> Tensor:
    return x[:, :, offset:offset + size[0], offset:offset + size[1]]


class FCN(StagedNetwork):
    """FCN-8s from an FCN-8s-kind spec (:data:`~cwdsl.core.netspec.FCN8S`,
    :data:`~cwdsl.core.netspec.TINY`, or any spec for which :func:`is_fcn8s_kind` holds).

    Convs get PyTorch's default initialisation (load trained weights with
    :func:`cwdsl.nets.weights.load_weights`); the upsamplers are bilinear
    :class:`Upsampler` modules, grouped while their weights are diagonal.
    """

    def head_window(self, name: str, input_hw: Sequence[int]) -> tuple[slice, slice]:
        """Cells of the head's map (it has its input layer's geometry) centred on the image."""
        return image_window(self.spec, self.spec.head(name).reads,
                            (int(input_hw[0]), int(input_hw[1])))

    def __init__(self, spec: NetworkSpec):
        if not is_fcn8s_kind(spec):
            raise ValueError(f"network {spec.name} does not have the FCN-8s topology")
        super().__init__(spec)
        channels = {}
        width = spec.in_channels
        for layer in spec.layers:
            if layer.kind == "conv":
                module = nn.Conv2d(width, layer.out_channels, layer.kernel,
                                   stride=layer.stride, padding=layer.padding)
                width = layer.out_channels
            else:
                module = nn.MaxPool2d(layer.kernel, layer.stride, padding=layer.padding,
                                      ceil_mode=True)
            self.add_module(layer.name, module)
            channels[layer.name] = width
        c = spec.num_classes
        for name in _HEADS:
            self.add_module(name, nn.Conv2d(channels[spec.head(name).reads], c, 1))
        self.upscore2 = Upsampler(c, *UPSCORE2)
        self.upscore8 = Upsampler(c, *UPSCORE8)
        self.upscore_pool4 = Upsampler(c, *UPSCORE_POOL4)
        self._relu = frozenset(layer.name for layer in spec.layers if layer.kind == "conv")
        self._input_scale = {h.name: h.input_scale for h in spec.heads if h.input_scale != 1}
        self._geometry: dict[HW, FuseGeometry] = {}
        self._reads = frozenset(h.name for h in spec.heads)

    def run_layer(self, name: str, *inputs: Tensor) -> Tensor:
        x = self._modules[name](*inputs)
        return F.relu(x, inplace=True) if name in self._relu else x

    def head(self, name: str, features: Tensor) -> Tensor:
        if name not in self._reads:
            raise ValueError(f"network {self.spec.name} has no head {name!r}")
        scale = self._input_scale.get(name)
        return self._modules[name](features if scale is None else features * scale)

    def fast_paths(self) -> dict[str, str]:
        """``{"upsamplers": mode}``: :data:`GROUPED` when all three upsamplers' weights are
        diagonal (bilinear, as trained FCN-8s keep them), :data:`FULL` when none are,
        else each upsampler's name and mode (see :class:`Upsampler`)."""
        modes = {name: self._modules[name].mode for name in UPSAMPLERS}
        if len(set(modes.values())) == 1:
            return {"upsamplers": next(iter(modes.values()))}
        return {"upsamplers": "; ".join(f"{n}: {m}" for n, m in modes.items())}

    def adopt_fast_paths(self, state: Mapping[str, Tensor]) -> None:
        for name in UPSAMPLERS:
            if f"{name}.weight" in state:
                self._modules[name].decide(state[f"{name}.weight"])

    def weights_problem(self) -> str | None:
        """Why loaded weights, though they fit every key and shape, are not this network's:
        FCN8sAtOnce weights (the same keys as FCN8s) in a network without its pool
        scaling, or FCN8s weights in one with it. On a smooth random frame of 96x96 a
        trained FCN-8s's score_pool3 map varies about as much as its score_fr map (ratio
        about 0.3 measured on the bundled networks); unscaled AtOnce weights make it ~10^4x
        larger, and FCN8s weights scaled as AtOnce ~10^4x smaller. A map's spread is over
        its positions, so a head's bias (constant over the map) does not count."""
        param = next(self.parameters())
        g = torch.Generator(device="cpu").manual_seed(0)
        x = F.interpolate(torch.randn(1, 3, 8, 8, generator=g), size=(96, 96), mode="bilinear",
                          align_corners=False).to(param.device, param.dtype)
        with torch.no_grad():
            _, scores = self.run_stage(x, self.spec.layer_names[0], "fc7",
                                       ("score_pool3", "score_fr"))
        spread = {h: float(s.float().std(dim=(-2, -1)).mean()) for h, s in scores.items()}
        if not spread["score_fr"] > 0 or not math.isfinite(spread["score_pool3"]):
            return None  # nothing to compare with (untrained, or dead fc7)
        ratio = spread["score_pool3"] / spread["score_fr"]
        if ratio > ATONCE_RATIO and "score_pool3" not in self._input_scale:
            return (f"these look like FCN8sAtOnce weights (score_pool3's scores vary "
                    f"{ratio:.3g}x as much as score_fr's; FCN8sAtOnce scales pool3 by 0.0001 "
                    f"and pool4 by 0.01): use --net fcn8s_atonce")
        if ratio < 1 / ATONCE_RATIO and "score_pool3" in self._input_scale:
            return (f"these look like FCN8s weights, not FCN8sAtOnce's (score_pool3's scores "
                    f"vary {ratio:.3g}x as much as score_fr's with the AtOnce pool scaling): "
                    f"use --net fcn8s")
        return None

    def geometry(self, input_hw: Sequence[int]) -> FuseGeometry:
        """The fuse's map sizes for an input of ``input_hw`` (cached per size)."""
        hw = (int(input_hw[0]), int(input_hw[1]))
        if hw not in self._geometry:
            self._geometry[hw] = fuse_geometry(self.spec, hw)
        return self._geometry[hw]

    def fuse_heads(self, scores: Mapping[str, Tensor], input_hw: Sequence[int]) -> Tensor:
        """FCN-8s skip fusion of whichever of ``score_fr``, ``score_pool4``,
        ``score_pool3`` are given; a missing head adds nothing (as if its scores were
        zero) and every crop keeps the full network's geometry, so the output is
        (N, C, *input_hw) whatever is given: ``score_pool3`` alone is
        ``upscore8(crop(score_pool3))``; ``score_pool3`` + ``score_pool4`` is the
        FCN-16s-like path."""
        unknown = set(scores) - self._reads
        if unknown or not scores:
            raise ValueError(f"fuse of network {self.spec.name} takes scores of "
                             f"{', '.join(_HEADS)}; got {', '.join(sorted(scores)) or 'none'}")
        geo = self.geometry(input_hw)
        for name, score in scores.items():
            if tuple(score.shape[-2:]) != getattr(geo, name):
                raise ValueError(f"{name} is {tuple(score.shape[-2:])}, but an input of "
                                 f"{geo.input} gives {getattr(geo, name)}")
        h = None
        if "score_fr" in scores:
            h = self.upscore2(scores["score_fr"])
        if "score_pool4" in scores:
            pool4 = _crop(scores["score_pool4"], CROP_POOL4, geo.upscore2)
            h = pool4 if h is None else h + pool4
        if h is not None:
            h = self.upscore_pool4(h)
        if "score_pool3" in scores:
            pool3 = _crop(scores["score_pool3"], CROP_POOL3, geo.upscore_pool4)
            h = pool3 if h is None else h + pool3
        return _crop(self.upscore8(h), CROP_OUTPUT, geo.input).contiguous()
