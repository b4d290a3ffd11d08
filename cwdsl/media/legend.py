"""Class legends for masks and overlays: each class's colour swatch beside its name.

The names come from the network description (``NetworkSpec.class_names``: CamVid's for
fcn8s_camvid, PASCAL VOC's for fcn8s, the demo's shapes for tiny), the colours from
:func:`cwdsl.media.palette.palette`, so a legend matches the masks it explains.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cwdsl.core.errors import InputError
from cwdsl.media.palette import palette

ROW = 18        # pixels per legend row at scale 1
SWATCH = 12     # the colour square's side at scale 1
PAD = 6


def _font(size: int):
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def legend_image(names: Sequence[str], colors: np.ndarray | None = None,
                 height: int | None = None) -> np.ndarray:
    """An RGB ``(H, W, 3)`` uint8 legend: one row per class, its colour then its name, in
    as many columns as ``height`` (default: one column) needs. ``colors``: the palette the
    masks used (default ``palette(len(names))``)."""
    from PIL import Image, ImageDraw

    if not names:
        raise InputError("a legend needs at least one class name")
    colors = palette(len(names)) if colors is None else np.asarray(colors, dtype=np.uint8)
    if len(colors) < len(names):
        raise InputError(f"a legend of {len(names)} classes needs as many colours, "
                         f"got {len(colors)}")
    per_column = len(names) if height is None else max(1, (height - PAD) // ROW)
    columns = -(-len(names) // per_column)
    font = _font(11)
    text_w = max(int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(n, font=font))
                 for n in names)
    col_w = PAD + SWATCH + PAD + text_w + PAD
    size = (columns * col_w + PAD, height or PAD + per_column * ROW + PAD)
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for i, name in enumerate(names):
        x = PAD + (i // per_column) * col_w
        y = PAD + (i % per_column) * ROW
        draw.rectangle((x, y + 2, x + SWATCH, y + 2 + SWATCH), fill=tuple(int(c) for c in colors[i]),
                       outline=(80, 80, 80))
        draw.text((x + SWATCH + PAD, y + 1), name, fill=(0, 0, 0), font=font)
    return np.asarray(image)


def with_legend(image: np.ndarray, names: Sequence[str],
                colors: np.ndarray | None = None) -> np.ndarray:
    """``image`` (an overlay or a colourised mask, ``(H, W, 3)``) with its legend to the
    right, as tall as the image."""
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"with_legend: the image must be (H, W, 3) RGB, got {image.shape}")
    legend = legend_image(names, colors, height=max(image.shape[0], ROW + 2 * PAD))
    if legend.shape[0] > image.shape[0]:  # a very short image: pad it below
        pad = np.full((legend.shape[0] - image.shape[0],) + image.shape[1:], 255, np.uint8)
        image = np.concatenate([image, pad])
    return np.concatenate([image, legend], axis=1)
