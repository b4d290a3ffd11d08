"""The five object shapes; an object's class *is* its shape.

Each shape is a boolean test on normalised object-local coordinates ``(u, v)``: the object's
radius is 1, so every shape fits in the unit disc (the circumscribed circle) and the same object
size means the same extent for every class. Rotation is applied by the caller.
"""
from __future__ import annotations

import math

import numpy as np

SHAPES = ("disc", "square", "triangle", "cross", "ring")

_SQUARE_HALF = 0.72           # half side: corners at radius ~1.02
_TRI_INRADIUS = 0.5           # equilateral triangle inscribed in the unit circle
_TRI_NORMALS = [(math.cos(a), math.sin(a)) for a in (math.pi / 2, math.pi / 2 + 2 * math.pi / 3,
                                                      math.pi / 2 + 4 * math.pi / 3)]
_CROSS_HALF_WIDTH = 0.3
_CROSS_ARM = 0.95
_RING_INNER = 0.5


def shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean mask of ``shape`` at normalised local coordinates (radius 1)."""
    if shape == "disc":
        return u * u + v * v <= 1.0
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= _SQUARE_HALF
    if shape == "triangle":
        # vertices at angles -90, 30, 150 degrees; the edge normals point the opposite way
        inside = np.ones(np.broadcast(u, v).shape, dtype=bool)
        for nu, nv in _TRI_NORMALS:
            inside &= u * nu + v * nv <= _TRI_INRADIUS
        return inside
    if shape == "cross":
        au, av = np.abs(u), np.abs(v)
        return ((au <= _CROSS_HALF_WIDTH) & (av <= _CROSS_ARM)) | \
               ((av <= _CROSS_HALF_WIDTH) & (au <= _CROSS_ARM))
    if shape == "ring":
        r2 = u * u + v * v
        return (r2 <= 1.0) & (r2 >= _RING_INNER * _RING_INNER)
    raise ValueError(f"unknown shape {shape!r}")
