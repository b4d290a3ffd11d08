"""Procedural labeled video: textured shapes on cluttered backgrounds, seen by a moving camera.

Purpose: demo and training data for a small 6-class FCN on which clockwork schedules have
something meaningful to do.

**Classes.** ``0`` is background; ``1..5`` are objects, and an object's class is given by its
*shape* only (:data:`CLASS_NAMES`: disc, square, triangle, cross, ring). Colours and textures of
objects and of the background clutter come from one shared distribution
(:func:`cwdsl.demo.textures.random_texture`), so local colour/texture features cannot label a
pixel; recognising the shape needs a receptive field about the size of the object (15-45% of the
frame's short side), i.e. the deep stages of the network.

**Scene.** A shot renders one large canvas: a Voronoi tessellation into textured cells plus a few
layers of irregular textured blobs (``clutter`` scales their density), and 3-6 objects
(``objects``) of random class, size (``object_size``, as a fraction of the frame's short side),
rotation and texture. Objects drawn later occlude earlier ones, and the label map is exactly the
set of drawn pixels.

**Motion** (:class:`Motion`, or a preset name from :data:`MOTION_PRESETS`). A clip is a sequence
of *shots* separated by hard cuts (a new scene; ``cut_rate`` per frame after ``min_shot`` frames).
A shot is a sequence of *segments* of ``segment_frames`` frames, each of one kind:

* ``still`` - nothing moves: the frame is bit-identical to the previous one;
* ``pan``   - the crop window translates over the canvas at a constant velocity (like the
  paper's translated PASCAL crops; axis-aligned with probability ``axis_aligned``), and moving
  objects move;
* ``hold``  - the camera is fixed and the moving objects move.

A fraction ``object_moving`` of objects move independently (``object_speed`` pixels per frame
in a random direction, bouncing off the canvas edges, spinning up to ``spin`` radians per frame).
Speeds are in pixels at a 128-pixel frame and scale with the frame's short side (a pan moves at
least 1.5 pixels per frame, so every pan frame differs from the previous one). The crop window
sits on whole pixels, so a pan is an exact translation of the background.

Everything is deterministic in ``seed``; a 64-frame 128x128 clip takes about 0.06 s on one core,
a single 128x128 frame (its own scene) about 6 ms.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator

import numpy as np

from cwdsl.demo.shapes import SHAPES, shape_mask
from cwdsl.demo.textures import Texture, random_texture, value_noise
from cwdsl.core.errors import InputError, did_you_mean

CLASS_NAMES: tuple[str, ...] = ("background",) + SHAPES
NUM_CLASSES = len(CLASS_NAMES)
REFERENCE_SIZE = 128
OUTLINE_PX = 1.5
OUTLINE_RGB = (16, 16, 16)
SEGMENT_KINDS = ("still", "pan", "hold")
_MIN_PAN_SPEED = 1.5  # pixels/frame: >= 1 px/frame on the dominant axis at any angle


def _check_range(name: str, pair, minimum) -> None:
    try:
        lo, hi = pair
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a (low, high) pair, got {pair!r}") from None
    if not (minimum <= lo <= hi):
        raise InputError(f"{name} must satisfy {minimum} <= low <= high, got {pair!r}")


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_size(size) -> tuple[int, int]:
    try:
        h, w = size
    except (TypeError, ValueError):
        raise InputError(f"size must be a (height, width) pair, got {size!r}") from None
    return _check_int("size height", h, 16), _check_int("size width", w, 16)


@dataclass(frozen=True)
class Motion:
    """How the camera and the objects move; see the module docstring.

    ``still``/``pan``/``hold`` are relative weights of the segment kinds. Speeds are pixels per
    frame at a 128-pixel frame (scaled with the frame's short side).
    """

    still: float = 0.3
    pan: float = 0.45
    hold: float = 0.25
    segment_frames: tuple[int, int] = (6, 20)
    pan_speed: tuple[float, float] = (1.5, 4.0)
    axis_aligned: float = 0.5
    object_moving: float = 0.6
    object_speed: tuple[float, float] = (0.3, 1.5)
    spin: float = 0.03
    cut_rate: float = 1 / 32
    min_shot: int = 8

    def __post_init__(self) -> None:
        weights = (self.still, self.pan, self.hold)
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise InputError(f"motion: segment weights still/pan/hold must be >= 0 and not all 0, "
                             f"got {weights}")
        _check_range("motion.segment_frames", self.segment_frames, 1)
        _check_range("motion.pan_speed", self.pan_speed, 0.0)
        _check_range("motion.object_speed", self.object_speed, 0.0)
        for name in ("axis_aligned", "object_moving", "cut_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(f"motion.{name} must be in [0, 1], got {value}")
        if self.spin < 0:
            raise InputError(f"motion.spin must be >= 0, got {self.spin}")
        if self.min_shot < 1:
            raise InputError(f"motion.min_shot must be >= 1, got {self.min_shot}")


MOTION_PRESETS: dict[str, Motion] = {
    # the mix described in the module docstring
    "default": Motion(),
    # nothing ever moves and there are no cuts: every frame equals the first
    "static": Motion(still=1.0, pan=0.0, hold=0.0, cut_rate=0.0),
    # the paper's synthetic sequences: one scene, axis-aligned pans, static objects
    "translate": Motion(still=0.0, pan=1.0, hold=0.0, axis_aligned=1.0, object_moving=0.0,
                        cut_rate=0.0),
    # fast camera and objects, frequent cuts, short still periods
    "busy": Motion(still=0.15, pan=0.6, hold=0.25, segment_frames=(4, 12), pan_speed=(2.0, 6.0),
                   object_moving=0.9, object_speed=(0.5, 3.0), spin=0.06, cut_rate=1 / 16,
                   min_shot=6),
}


@dataclass(frozen=True)
class Segment:
    """Frames ``start <= t < stop`` of one motion kind; ``velocity`` is the camera's (dy, dx)."""

    start: int
    stop: int
    kind: str
    velocity: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class ClipSummary:
    """Counts of frames by how they relate to the previous frame, and class pixel fractions."""

    frames: int
    shots: int
    still: int
    pan: int
    hold: int
    cuts: tuple[int, ...]
    class_fractions: tuple[float, ...]


@dataclass(frozen=True, eq=False)
class Clip:
    """A generated labeled clip.

    ``motion[t]`` says how frame ``t`` came from frame ``t-1``: ``"start"`` (t = 0), ``"cut"``
    (a new scene), ``"still"`` (identical up to ``noise``), ``"pan"`` or ``"hold"``.
    ``camera[t]`` is the crop window's top-left corner in its shot's canvas.
    """

    frames: np.ndarray            # (T, H, W, 3) uint8 RGB
    labels: np.ndarray            # (T, H, W) uint8 class ids in [0, NUM_CLASSES)
    cuts: tuple[int, ...]         # first frame of every shot but the first
    seed: int
    motion: tuple[str, ...]       # per frame, see above
    camera: np.ndarray            # (T, 2) int (y, x)
    segments: tuple[Segment, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the frames."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    def summary(self) -> ClipSummary:
        """How many frames are still / panning / holding, the cuts and the class fractions."""
        counts = np.bincount(self.labels.ravel(), minlength=NUM_CLASSES).astype(np.float64)
        return ClipSummary(
            frames=len(self),
            shots=len(self.cuts) + 1,
            still=self.motion.count("still"),
            pan=self.motion.count("pan"),
            hold=self.motion.count("hold"),
            cuts=self.cuts,
            class_fractions=tuple(float(c) for c in counts / max(1.0, counts.sum())),
        )


@dataclass(frozen=True, eq=False)
class LabeledFrames:
    """A batch of frames with their label maps (for training and evaluation)."""

    frames: np.ndarray  # (N, H, W, 3) uint8 RGB
    labels: np.ndarray  # (N, H, W) uint8

    def __len__(self) -> int:
        return int(self.frames.shape[0])


@dataclass(frozen=True)
class _Object:
    cls: int
    radius: float
    texture: Texture
    pos0: tuple[float, float]
    velocity: tuple[float, float]
    angle0: float
    spin: float


def _resolve_motion(motion: Motion | str) -> Motion:
    if isinstance(motion, Motion):
        return motion
    if isinstance(motion, str) and motion in MOTION_PRESETS:
        return MOTION_PRESETS[motion]
    hint = did_you_mean(str(motion), MOTION_PRESETS) if isinstance(motion, str) else ""
    raise InputError(f"unknown motion preset {motion!r}{hint}; "
                     f"choose from {', '.join(MOTION_PRESETS)}")


# --------------------------------------------------------------------------- plan

def _shot_lengths(rng: np.random.Generator, frames: int, motion: Motion) -> list[int]:
    lengths: list[int] = []
    left = frames
    while left > 0:
        if motion.cut_rate <= 0:
            n = left
        else:
            n = motion.min_shot + int(rng.geometric(motion.cut_rate)) - 1
        n = min(n, left)
        lengths.append(n)
        left -= n
    return lengths


def _plan_shot(rng: np.random.Generator, length: int, motion: Motion, scale: float):
    """Per-frame kinds, float camera positions, active-step counts and the segments of one shot."""
    weights = np.array([motion.still, motion.pan, motion.hold], dtype=np.float64)
    weights /= weights.sum()
    kinds: list[str] = []
    segments: list[Segment] = []
    cam = np.zeros((length, 2), dtype=np.float64)
    active = np.zeros(length, dtype=np.float64)
    t = 0
    lo, hi = motion.segment_frames
    while t < length:
        n = min(int(rng.integers(lo, hi + 1)), length - t)
        kind = SEGMENT_KINDS[int(rng.choice(3, p=weights))]
        velocity = (0.0, 0.0)
        if kind == "pan":
            speed = float(rng.uniform(*motion.pan_speed)) * scale
            if speed > 0:       # every pan frame moves at least one pixel on its main axis
                speed = max(speed, _MIN_PAN_SPEED)
            if rng.random() < motion.axis_aligned:
                angle = float(rng.integers(4)) * math.pi / 2
            else:
                angle = float(rng.uniform(0.0, 2 * math.pi))
            velocity = (speed * math.sin(angle), speed * math.cos(angle))
        segments.append(Segment(t, t + n, kind, velocity))
        kinds.extend([kind] * n)
        t += n
    for t in range(1, length):
        seg_velocity = next(s.velocity for s in segments if s.start <= t < s.stop)
        cam[t] = cam[t - 1] + seg_velocity
        active[t] = active[t - 1] + (kinds[t] != "still")
    return kinds, cam, active, segments


# --------------------------------------------------------------------------- render

def _render_background(rng: np.random.Generator, h: int, w: int, scale: float,
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


def _reflect(p: float, hi: float) -> float:
    """Fold ``p`` into ``[0, hi]`` as a ball bouncing between the walls would be."""
    if hi <= 0:
        return 0.0
    q = p % (2 * hi)
    return 2 * hi - q if q > hi else q


def _draw_object(frame: np.ndarray, labels: np.ndarray, obj: _Object, cy: float, cx: float,
                 angle: float) -> None:
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


def _make_objects(rng: np.random.Generator, count: int, size: tuple[int, int], scale: float,
                  object_size: tuple[float, float], motion: Motion, cam: np.ndarray,
                  active: np.ndarray) -> list[_Object]:
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
        objects.append(_Object(cls, radius, texture, pos0, velocity,
                               float(rng.uniform(0.0, 2 * math.pi)), spin))
    return objects


def generate_clip(seed: int, frames: int = 64, size: tuple[int, int] = (128, 128), *,
                  motion: Motion | str = "default", objects: tuple[int, int] = (3, 6),
                  object_size: tuple[float, float] = (0.15, 0.45), clutter: float = 1.0,
                  noise: float = 0.0) -> Clip:
    """Generate a labeled clip of ``frames`` frames of ``size = (height, width)``.

    ``motion`` is a :class:`Motion` or a preset name (:data:`MOTION_PRESETS`); ``objects`` the
    (min, max) number of objects per shot; ``object_size`` the (min, max) object diameter as a
    fraction of the short side; ``clutter`` scales the density of background regions; ``noise``
    is the standard deviation of per-frame Gaussian sensor noise (0: still frames are
    bit-identical). Deterministic in ``seed`` (a non-negative integer).
    """
    seed = _check_int("seed", seed, 0)
    frames = _check_int("frames", frames, 1)
    h, w = _check_size(size)
    motion = _resolve_motion(motion)
    _check_range("objects", objects, 0)
    _check_range("object_size", object_size, 0.0)
    if object_size[0] <= 0 or object_size[1] > 1:
        raise InputError(f"object_size must lie in (0, 1], got {object_size!r}")
    if clutter < 0:
        raise InputError(f"clutter must be >= 0, got {clutter}")
    if noise < 0:
        raise InputError(f"noise must be >= 0, got {noise}")

    rng = np.random.default_rng(seed)
    scale = min(h, w) / REFERENCE_SIZE
    out_frames = np.empty((frames, h, w, 3), dtype=np.uint8)
    out_labels = np.empty((frames, h, w), dtype=np.uint8)
    camera = np.empty((frames, 2), dtype=np.int64)
    kinds_all: list[str] = []
    segments_all: list[Segment] = []
    cuts: list[int] = []
    start = 0
    for length in _shot_lengths(rng, frames, motion):
        if start > 0:
            cuts.append(start)
        kinds, cam_f, active, segments = _plan_shot(rng, length, motion, scale)
        cam = np.rint(cam_f).astype(np.int64)
        cam -= cam.min(axis=0)
        ch, cw = h + int(cam[:, 0].max()), w + int(cam[:, 1].max())
        canvas = _render_background(rng, ch, cw, scale, clutter)
        count = int(rng.integers(objects[0], objects[1] + 1))
        objs = _make_objects(rng, count, (h, w), scale, object_size, motion, cam, active)
        for i in range(length):
            t = start + i
            if i > 0 and kinds[i] == "still":
                out_frames[t] = out_frames[t - 1]
                out_labels[t] = out_labels[t - 1]
            else:
                cy, cx = int(cam[i, 0]), int(cam[i, 1])
                frame = out_frames[t]
                frame[...] = canvas[cy:cy + h, cx:cx + w]
                lab = out_labels[t]
                lab[...] = 0
                for obj in objs:
                    py = _reflect(obj.pos0[0] + obj.velocity[0] * active[i], ch)
                    px = _reflect(obj.pos0[1] + obj.velocity[1] * active[i], cw)
                    _draw_object(frame, lab, obj, py - cy, px - cx,
                                 obj.angle0 + obj.spin * active[i])
            camera[t] = cam[i]
            kinds_all.append("start" if t == 0 else "cut" if i == 0 else kinds[i])
        segments_all.extend(replace(s, start=s.start + start, stop=s.stop + start)
                            for s in segments)
        start += length
    if noise > 0:
        for t in range(frames):
            noisy = out_frames[t] + rng.normal(0.0, noise, size=(h, w, 3))
            out_frames[t] = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    return Clip(frames=out_frames, labels=out_labels, cuts=tuple(cuts), seed=seed,
                motion=tuple(kinds_all), camera=camera, segments=tuple(segments_all))


def _derived_seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1, dtype=np.uint32)[0])


def generate_dataset(seeds: Iterable[int], frames_per_clip: int = 1,
                     size: tuple[int, int] = (128, 128), **options) -> LabeledFrames:
    """Frames and labels of one clip per seed (``frames_per_clip`` frames each), concatenated.

    ``options`` are passed to :func:`generate_clip` (``motion``, ``objects``, ...). With the
    default ``frames_per_clip=1`` every frame is an independent scene.
    """
    clips = [generate_clip(s, frames_per_clip, size, **options) for s in seeds]
    if not clips:
        raise InputError("generate_dataset: no seeds given")
    return LabeledFrames(np.concatenate([c.frames for c in clips]),
                         np.concatenate([c.labels for c in clips]))


def iter_batches(seed: int, batch_size: int, size: tuple[int, int] = (128, 128),
                 **options) -> Iterator[LabeledFrames]:
    """An endless, deterministic stream of training batches of independent single-frame scenes.

    Batch ``i`` holds ``batch_size`` frames whose scene seeds derive from ``(seed, i, j)``;
    ``options`` go to :func:`generate_clip`.
    """
    seed = _check_int("seed", seed, 0)
    batch_size = _check_int("batch_size", batch_size, 1)
    i = 0
    while True:
        yield generate_dataset((_derived_seed(seed, i, j) for j in range(batch_size)), 1, size,
                               **options)
        i += 1
