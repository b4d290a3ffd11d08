"""Class colours, in one place: palettes, colourised label maps and overlays.

``palette(n)`` is prefix-stable (``palette(n)[:k] == palette(k)``), so a label map renders the
same whatever palette length is asked for. Index 0 (background) is dark grey; the ignore label
:data:`IGNORE_LABEL` renders black.
"""
from __future__ import annotations

import colorsys

import numpy as np

from cwdsl.core.errors import InputError
from cwdsl.core.metrics import IGNORE

IGNORE_LABEL = IGNORE      # the one ignore label (cwdsl.core.metrics): drawn black
MAX_CLASSES = 255          # indices 0..254; 255 is the ignore label
IGNORE_COLOR = (0, 0, 0)

# Dark background, then Sasha Trubetskoy's 20 distinct colours (most distinct first).
_BASE = np.array([
    (40, 40, 40),
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
    (170, 255, 195), (128, 128, 0), (255, 215, 180), (0, 0, 128), (128, 128, 128),
    (255, 255, 255),
], dtype=np.uint8)


def _extended(n: int) -> np.ndarray:
    """Colours past the base table: golden-ratio hues at alternating saturation/value."""
    out = np.empty((n, 3), dtype=np.uint8)
    for i in range(n):
        hue = (0.13 + i * 0.618033988749895) % 1.0
        sat = (0.55, 0.9, 0.7)[i % 3]
        val = (0.95, 0.75, 0.6)[(i // 3) % 3]
        out[i] = np.rint(np.array(colorsys.hsv_to_rgb(hue, sat, val)) * 255)
    return out


_TABLE = np.concatenate([_BASE, _extended(MAX_CLASSES - len(_BASE))])


def palette(num_classes: int) -> np.ndarray:
    """``(num_classes, 3)`` uint8 RGB colours: index 0 dark, then distinct colours."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or not 1 <= num_classes <= MAX_CLASSES:
        raise InputError(f"palette: the number of classes must be a whole number in "
                         f"[1, {MAX_CLASSES}], got {num_classes!r}")
    return _TABLE[:num_classes].copy()


def lookup_table(colors: np.ndarray | None = None) -> np.ndarray:
    """The ``(256, 3)`` uint8 table of a palette: its colours, then black, ignore label black."""
    return _lookup(colors)[0]


def _lookup(colors: np.ndarray | None) -> tuple[np.ndarray, int]:
    """A 256-entry colour table (ignore → black) and the number of valid classes."""
    if colors is None:
        colors = _TABLE
    colors = np.asarray(colors)
    if colors.ndim != 2 or colors.shape[1] != 3 or not 1 <= colors.shape[0] <= 256:
        raise InputError(f"palette must be an (N, 3) array of RGB colours with 1 <= N <= 256, "
                         f"got shape {colors.shape}")
    lut = np.zeros((256, 3), dtype=np.uint8)
    n = min(colors.shape[0], MAX_CLASSES)
    lut[:n] = np.clip(colors[:n], 0, 255).astype(np.uint8)
    lut[IGNORE_LABEL] = IGNORE_COLOR
    return lut, n


def _as_labels(labels, num_colors: int) -> np.ndarray:
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"labels must be integer class ids, got dtype {labels.dtype}")
    if labels.size:
        bad = (labels < 0) | ((labels >= num_colors) & (labels != IGNORE_LABEL))
        if bad.any():
            value = int(labels[bad].flat[0])
            raise InputError(f"label {value} has no colour (palette of {num_colors} classes; "
                             f"{IGNORE_LABEL} is the ignore label)")
    return labels.astype(np.uint8)


def colorize(labels: np.ndarray, colors: np.ndarray | None = None) -> np.ndarray:
    """RGB image ``labels.shape + (3,)`` uint8 of a label map; ``IGNORE_LABEL`` is black.

    ``colors`` is an ``(N, 3)`` palette (default: :func:`palette` of every class).
    """
    lut, n = _lookup(colors)
    return lut[_as_labels(labels, n)]


def overlay(frame_rgb: np.ndarray, labels: np.ndarray, alpha: float = 0.5,
            colors: np.ndarray | None = None) -> np.ndarray:
    """Blend the colourised ``labels`` over ``frame_rgb`` (H, W, 3): ``alpha`` = label weight."""
    frame = np.asarray(frame_rgb)
    labels = np.asarray(labels)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"overlay: the frame must be (H, W, 3) RGB, got shape {frame.shape}")
    if labels.shape != frame.shape[:2]:
        raise InputError(f"overlay: labels of shape {labels.shape} do not match the frame "
                         f"{frame.shape[:2]}")
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"overlay: alpha must be in [0, 1], got {alpha}")
    coloured = colorize(labels, colors).astype(np.float32)
    mixed = (1.0 - alpha) * frame.astype(np.float32) + alpha * coloured
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
