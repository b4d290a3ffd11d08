"""The one colour/texture distribution shared by scene backgrounds and objects.

A :class:`Texture` is an analytic function of continuous coordinates ``(y, x)`` (pixels) to RGB,
so an object can carry its texture with it when it moves or rotates (evaluate it in the object's
local frame) and a background can be evaluated over any canvas. :func:`random_texture` is the
*only* way the scene generator picks a texture, for background regions and objects alike: a
pixel's colour and local texture therefore say nothing about its class.

Kinds (drawn uniformly):

* ``stripes``  - hard two-colour stripes, random angle and period;
* ``checker``  - a rotated two-colour checkerboard;
* ``blobs``    - thresholded value noise: two-colour blobs with hard, wiggly edges;
* ``noise``    - smooth two-octave value noise blending the two colours;
* ``gradient`` - smooth bands (a triangle wave between the two colours), long period.

Every texture adds a per-pixel grain of random amplitude (0-12 levels). Both colours are uniform
in RGB. Length scales are drawn in pixels at a 128-pixel reference frame and multiplied by
``scale`` (the frame's short side / 128).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KINDS = ("stripes", "checker", "blobs", "noise", "gradient")

# (low, high) length scale in pixels at the 128-pixel reference, drawn log-uniformly.
_SCALES = {
    "stripes": (4.0, 24.0),    # full period
    "checker": (3.0, 16.0),    # cell side
    "blobs": (4.0, 20.0),      # noise cell
    "noise": (4.0, 24.0),      # noise cell (first octave)
    "gradient": (24.0, 96.0),  # half period of the triangle wave
}
_MAX_GRAIN = 12.0

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_M3 = np.uint64(0xFF51AFD7ED558CCD)
_S33 = np.uint64(33)
_S11 = np.uint64(11)


def _hash01(iy: np.ndarray, ix: np.ndarray, seed: int) -> np.ndarray:
    """A deterministic pseudo-random value in [0, 1) for each integer lattice point."""
    h = iy.astype(np.int64).astype(np.uint64) * _M1
    h ^= ix.astype(np.int64).astype(np.uint64) * _M2
    h ^= np.uint64((seed * 0xFF51AFD7ED558CCD) & 0xFFFFFFFFFFFFFFFF)
    h ^= h >> _S33
    h *= _M3
    h ^= h >> _S33
    h *= _M2
    h ^= h >> _S33
    return (h >> _S11).astype(np.float64) * (1.0 / (1 << 53))


def value_noise(y: np.ndarray, x: np.ndarray, cell: float, seed: int) -> np.ndarray:
    """Smooth value noise in [0, 1) with lattice spacing ``cell`` pixels (bilinear + smoothstep)."""
    gy = y / cell
    gx = x / cell
    iy = np.floor(gy)
    ix = np.floor(gx)
    fy = gy - iy
    fx = gx - ix
    fy = fy * fy * (3.0 - 2.0 * fy)
    fx = fx * fx * (3.0 - 2.0 * fx)
    iy = iy.astype(np.int64)
    ix = ix.astype(np.int64)
    a = _hash01(iy, ix, seed)
    b = _hash01(iy, ix + 1, seed)
    c = _hash01(iy + 1, ix, seed)
    d = _hash01(iy + 1, ix + 1, seed)
    top = a + (b - a) * fx
    bottom = c + (d - c) * fx
    return top + (bottom - top) * fy


@dataclass(frozen=True)
class Texture:
    """A two-colour procedural texture; ``render`` evaluates it at continuous coordinates."""

    kind: str
    colors: tuple[tuple[float, float, float], tuple[float, float, float]]
    period: float          # pixels; meaning depends on ``kind`` (see module docstring)
    angle: float           # radians
    phase: float           # in [0, 1): shift of stripes / gradient bands
    grain: float           # amplitude of per-pixel grain, in colour levels
    seed: int              # for the noise lattices and the grain

    def render(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """RGB float32 values in [0, 255] of shape ``y.shape + (3,)`` at coordinates ``(y, x)``."""
        y = np.asarray(y, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        c, s = math.cos(self.angle), math.sin(self.angle)
        u = x * c + y * s
        v = -x * s + y * c
        kind, p = self.kind, self.period
        if kind == "stripes":
            t = (np.mod(u / p + self.phase, 1.0) < 0.5).astype(np.float64)
        elif kind == "checker":
            t = np.mod(np.floor(u / p) + np.floor(v / p), 2.0)
        elif kind == "blobs":
            n = (0.7 * value_noise(v, u, p, self.seed)
                 + 0.3 * value_noise(v, u, p / 2.5, self.seed + 1))
            t = (n > 0.5).astype(np.float64)
        elif kind == "noise":
            t = (0.65 * value_noise(v, u, p, self.seed)
                 + 0.35 * value_noise(v, u, p / 2.0, self.seed + 1))
            t = np.clip((t - 0.5) * 1.8 + 0.5, 0.0, 1.0)
        elif kind == "gradient":
            t = np.abs(np.mod(u / p + 2.0 * self.phase, 2.0) - 1.0)
        else:  # pragma: no cover - guarded by random_texture
            raise ValueError(f"unknown texture kind {kind!r}")
        c0 = np.asarray(self.colors[0], dtype=np.float64)
        c1 = np.asarray(self.colors[1], dtype=np.float64)
        rgb = c0 + t[..., None] * (c1 - c0)
        if self.grain > 0:
            g = _hash01(np.floor(v).astype(np.int64), np.floor(u).astype(np.int64), self.seed + 2)
            rgb += (g[..., None] - 0.5) * (2.0 * self.grain)
        return np.clip(rgb, 0.0, 255.0).astype(np.float32)


def random_texture(rng: np.random.Generator, scale: float = 1.0) -> Texture:
    """Draw a texture from the shared distribution (see the module docstring)."""
    kind = KINDS[int(rng.integers(len(KINDS)))]
    lo, hi = _SCALES[kind]
    period = float(np.exp(rng.uniform(math.log(lo), math.log(hi)))) * scale
    colors = rng.uniform(0.0, 255.0, size=(2, 3))
    return Texture(
        kind=kind,
        colors=(tuple(float(v) for v in colors[0]), tuple(float(v) for v in colors[1])),
        period=period,
        angle=float(rng.uniform(0.0, math.pi)),
        phase=float(rng.uniform(0.0, 1.0)),
        grain=float(rng.uniform(0.0, _MAX_GRAIN)),
        seed=int(rng.integers(0, 2**31 - 4)),
    )
