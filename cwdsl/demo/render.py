"""Drawing one demo scene: the cluttered background canvas and the outlined, textured objects.

An object's class is its shape (:mod:`cwdsl.demo.shapes`); its texture comes from the same
distribution as the background's (:mod:`cwdsl.demo.textures`). See :mod:`cwdsl.demo.scenes` for
how scenes are filmed into clips.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cwdsl.demo.motion import Motion
from cwdsl.demo.shapes import SHAPES, shape_mask
from cwdsl.demo.textures import Texture, random_texture, value_noise

CLASS_NAMES: tuple[str, ...] = ("background",) + SHAPES
NUM_CLASSES = len(CLASS_NAMES)
REFERENCE_SIZE = 128          # speeds and sizes are in pixels at a frame of this short side
OUTLINE_PX = 1.5
OUTLINE_RGB = (16, 16, 16)


@dataclass(frozen=True)
class SceneObject:
    """One object of a shot: class (= shape), size, texture and its motion over the shot."""

    cls: int
    radius: float
    texture: Texture
    pos0: tuple[float, float]
    velocity: tuple[float, float]
    angle0: float
    spin: float


def render_background(rng: np.random.Generator, h: int, w: int, scale: float,
                      clutter: float) -> np.ndarray:
    """A cluttered canvas: textured Voronoi cells, then layers of textured irregular blobs."""
    short = REFERENCE_SIZE * scale
    area_cell = (0.4 * short) ** 2
    n_cells = max(2, int(round(clutter * h * w / area_cell)))
    ys = np.arange(h, dtype=np.float64)[:, None]
    xs = np.arange(w, dtype=np.float64)[None, :]
    seeds = rng.uniform((0.0, 0.0), (h, w), size=(n_cells, 2))
    best = np.full((h, w), np.inf)
    owner = np.zeros((h, w), dtype=np.int32)
    for k, (sy, sx) in enumerate(seeds):
        d = (ys - sy) ** 2 + (xs - sx) ** 2
        closer = d < best
        best = np.where(closer, d, best)
        owner[closer] = k
    canvas = np.empty((h, w, 3), dtype=np.float32)
    yy, xx = np.broadcast_arrays(ys, xs)
    for k in range(n_cells):
        mask = owner == k
        if mask.any():
            canvas[mask] = random_texture(rng, scale).render(yy[mask], xx[mask])
    # Object-like blobs on top of the cells: only for clutter > 1 (they make the task
    # far harder than a CPU-trained network can learn in minutes).
    n_layers = int(rng.integers(1, 3)) if clutter > 1 else 0
    for _ in range(n_layers):
        shape_seed = int(rng.integers(0, 2**31 - 4))
        cell = float(rng.uniform(0.15, 0.3)) * short
        mask = value_noise(yy, xx, cell, shape_seed) > float(rng.uniform(0.68, 0.78))
        if mask.any():
            canvas[mask] = random_texture(rng, scale).render(yy[mask], xx[mask])
    return np.rint(canvas).astype(np.uint8)


def reflect(p: float, hi: float) -> float:
    """Fold ``p`` into ``[0, hi]`` as a ball bouncing between the walls would be."""
    if hi <= 0:
        return 0.0
    q = p % (2 * hi)
    return 2 * hi - q if q > hi else q


def draw_object(frame: np.ndarray, labels: np.ndarray, obj: SceneObject, cy: float, cx: float,
                angle: float) -> None:
    """Draw ``obj`` centred at ``(cy, cx)``, rotated by ``angle``, into ``frame`` and ``labels``."""
    h, w = labels.shape
    ext = (obj.radius + OUTLINE_PX) * 1.05 + 1.0
    y0, y1 = max(0, int(math.floor(cy - ext))), min(h, int(math.ceil(cy + ext)) + 1)
    x0, x1 = max(0, int(math.floor(cx - ext))), min(w, int(math.ceil(cx + ext)) + 1)
    if y0 >= y1 or x0 >= x1:
        return
    dy = np.arange(y0, y1, dtype=np.float64)[:, None] - cy
    dx = np.arange(x0, x1, dtype=np.float64)[None, :] - cx
    c, s = math.cos(angle), math.sin(angle)
    u = c * dx + s * dy        # object-local coordinates, pixels
    v = -s * dx + c * dy
    mask = shape_mask(SHAPES[obj.cls - 1], u / obj.radius, v / obj.radius)
    if not mask.any():
        return
    # A dark outline (labelled background) says "an object ends here", a cue shallow
    # layers can use for object vs background; which object it is still takes its shape.
    grown = obj.radius + OUTLINE_PX
    ring = shape_mask(SHAPES[obj.cls - 1], u / grown, v / grown) & ~mask
    frame[y0:y1, x0:x1][ring] = OUTLINE_RGB
    labels[y0:y1, x0:x1][ring] = 0
    colours = obj.texture.render(v[mask], u[mask])
    frame[y0:y1, x0:x1][mask] = np.rint(colours).astype(np.uint8)
    labels[y0:y1, x0:x1][mask] = obj.cls


def make_objects(rng: np.random.Generator, count: int, size: tuple[int, int], scale: float,
                 object_size: tuple[float, float], motion: Motion, cam: np.ndarray,
                 active: np.ndarray) -> list[SceneObject]:
    """``count`` random objects for a shot filmed from ``cam`` (``active``: moving-step counts)."""
    h, w = size
    short = min(h, w)
    objects = []
    for _ in range(count):
        cls = int(rng.integers(1, NUM_CLASSES))
        radius = float(rng.uniform(*object_size)) * short / 2
        texture = random_texture(rng, scale)
        velocity, spin = (0.0, 0.0), 0.0
        if rng.random() < motion.object_moving:
            speed = float(rng.uniform(*motion.object_speed)) * scale
            direction = float(rng.uniform(0.0, 2 * math.pi))
            velocity = (speed * math.sin(direction), speed * math.cos(direction))
            spin = float(rng.uniform(-motion.spin, motion.spin))
        # be at a random place in view at a random frame of the shot
        anchor = int(rng.integers(len(active)))
        ty = cam[anchor, 0] + float(rng.uniform(0.1, 0.9)) * h
        tx = cam[anchor, 1] + float(rng.uniform(0.1, 0.9)) * w
        pos0 = (ty - velocity[0] * active[anchor], tx - velocity[1] * active[anchor])
        objects.append(SceneObject(cls, radius, texture, pos0, velocity,
                                   float(rng.uniform(0.0, 2 * math.pi)), spin))
    return objects
