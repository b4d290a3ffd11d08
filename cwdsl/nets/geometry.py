"""Spatial sizes from a network description alone: conv, pool and transposed-conv arithmetic.

Nothing here runs a layer, so the fuse can place the scores of heads that were not
computed, and tools can size feature maps without torch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from cwdsl.core.netspec import IMAGE, Layer, NetworkSpec
from cwdsl.core.units import HW


def conv_size(n: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a convolution (floor mode), as ``nn.Conv2d`` computes it."""
    return (n + 2 * padding - kernel) // stride + 1


def pool_size(n: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Output length of ``nn.MaxPool2d(..., ceil_mode=True)``.

    Like PyTorch (and Caffe), the last window must start inside the padded input.
    """
    out = math.ceil((n + 2 * padding - kernel) / stride) + 1
    if (out - 1) * stride >= n + padding:
        out -= 1
    return out


def transposed_size(n: int, kernel: int, stride: int) -> int:
    """Output length of an unpadded ``nn.ConvTranspose2d``."""
    return (n - 1) * stride + kernel


def layer_size(layer: Layer, n: int) -> int:
    """Output length of one ``conv`` or ``pool`` layer of a spec for an input of length ``n``."""
    if layer.kind == "conv":
        return conv_size(n, layer.kernel, layer.stride, layer.padding)
    if layer.kind == "pool":
        return pool_size(n, layer.kernel, layer.stride, layer.padding)
    raise ValueError(f"layer {layer.name} is a {layer.kind!r} layer; its output size is "
                     f"not known from the description")


def feature_sizes(spec: NetworkSpec, input_hw: HW) -> dict[str, HW]:
    """The (height, width) of every trunk layer's output for an input of ``input_hw``.

    Raises ``ValueError`` when the input is too small for the trunk, or when a layer is
    an opaque ``module`` layer.
    """
    h, w = input_hw
    sizes: dict[str, HW] = {}
    for layer in spec.layers:
        h, w = layer_size(layer, h), layer_size(layer, w)
        if h < 1 or w < 1:
            raise ValueError(f"network {spec.name}: an input of {input_hw[0]}x{input_hw[1]} "
                             f"is too small (layer {layer.name} would be {h}x{w})")
        sizes[layer.name] = (h, w)
    return sizes


def image_window(spec: NetworkSpec, layer: str, input_hw: HW) -> tuple[slice, slice]:
    """The cells of ``layer``'s output whose receptive-field centres fall on the image.

    Receptive-field arithmetic: each layer maps cell ``i`` to input coordinate
    ``start + i * jump``. FCN-8s pads conv1_1 by 100 pixels, so most cells of its deep
    maps look at padding; a label difference over the whole map would be diluted by them.
    """
    jump, start = 1.0, 0.0
    sizes = feature_sizes(spec, input_hw)
    for item in spec.layers:
        start += ((item.kernel - 1) / 2 - item.padding) * jump
        jump *= item.stride
        if item.name == layer:
            break
    else:
        raise ValueError(f"network {spec.name} has no layer {layer!r}")
    windows = []
    for n, size in zip(input_hw, sizes[layer]):
        first = max(0, math.ceil((0 - start) / jump))
        last = min(size - 1, math.floor((n - 1 - start) / jump))
        windows.append(slice(first, max(last, first) + 1))
    return windows[0], windows[1]


@dataclass(frozen=True)
class CellGrid:
    """Where a map's cells sit on the image: cell ``(i, j)`` is centred on image pixel
    coordinate ``(start_y + i * jump_y, start_x + j * jump_x)``, pixel centres being at
    integer coordinates ``0 .. H-1`` (a cell may sit outside the image: FCN's padding)."""

    start_y: float
    jump_y: float
    start_x: float
    jump_x: float


IDENTITY_GRID = CellGrid(0.0, 1.0, 0.0, 1.0)
"""The image's own grid: cell (i, j) is pixel (i, j)."""


def uniform_grid(input_hw: HW, map_hw: HW) -> CellGrid:
    """A map spread evenly over the image: ``jump = H / h``, cell 0 centred on the first
    ``jump`` pixels (``start = (jump - 1) / 2``). The fallback where the layers' geometry is
    not known from the description (module layers)."""
    jy, jx = input_hw[0] / map_hw[0], input_hw[1] / map_hw[1]
    return CellGrid((jy - 1) / 2, jy, (jx - 1) / 2, jx)


def chain_geometry(spec: NetworkSpec, layer: str) -> tuple[float, float] | None:
    """``(start, jump)`` of ``layer``'s output by receptive-field arithmetic (the same on
    both axes: square kernels), or None when some layer up to it is a module layer or reads
    anything but the layer before it (a DAG: no one chain to follow)."""
    if layer == IMAGE:
        return 0.0, 1.0
    jump, start = 1.0, 0.0
    previous = IMAGE
    for item in spec.layers:
        if item.kind not in ("conv", "pool") or spec.layer_inputs(item.name) != (previous,):
            return None
        start += ((item.kernel - 1) / 2 - item.padding) * jump
        jump *= item.stride
        if item.name == layer:
            return start, jump
        previous = item.name
    raise ValueError(f"network {spec.name} has no layer {layer!r}")


def cell_grid(spec: NetworkSpec, layer: str, input_hw: HW, map_hw: HW | None = None
              ) -> CellGrid:
    """The :class:`CellGrid` of trunk layer ``layer``'s output (or of ``"image"``) for an
    input of ``input_hw``: receptive-field arithmetic when every layer up to it has a
    kernel, stride and padding (FCN: conv1_1 pads 100, so cell 0 of a deep map sits far
    outside the image), else :func:`uniform_grid` over ``map_hw``, the map's (h, w)
    (default: :func:`feature_sizes`; a ``ValueError`` for module layers without it)."""
    geometry = chain_geometry(spec, layer)
    if geometry is not None:
        start, jump = geometry
        return CellGrid(start, jump, start, jump)
    if map_hw is None:
        raise ValueError(f"network {spec.name}: the geometry of layer {layer} is not known "
                         f"from its description; give the map's size (map_hw)")
    return uniform_grid(input_hw, map_hw)
