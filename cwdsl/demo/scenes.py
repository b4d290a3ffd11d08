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

The motion parameters and shot planning live in :mod:`cwdsl.demo.motion`, the drawing of a
scene in :mod:`cwdsl.demo.render`; this module films scenes into clips and batches.

Everything is deterministic in ``seed``; a 64-frame 128x128 clip takes about 0.06 s on one core,
a single 128x128 frame (its own scene) about 6 ms.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator

import numpy as np

from cwdsl.core.errors import InputError
from cwdsl.demo.motion import (
    MOTION_PRESETS, Motion, Segment, check_int, check_range, plan_shot, resolve_motion,
    shot_lengths,
)
from cwdsl.demo.render import (
    CLASS_NAMES, NUM_CLASSES, REFERENCE_SIZE, draw_object, make_objects, reflect, render_background,
)

__all__ = [
    "CLASS_NAMES", "MOTION_PRESETS", "NUM_CLASSES", "Clip", "ClipSummary", "LabeledFrames",
    "Motion", "Segment", "generate_clip", "generate_dataset", "iter_batches",
]


def _check_size(size) -> tuple[int, int]:
    try:
        h, w = size
    except (TypeError, ValueError):
        raise InputError(f"size must be a (height, width) pair, got {size!r}") from None
    return check_int("size height", h, 16), check_int("size width", w, 16)


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
    seed = check_int("seed", seed, 0)
    frames = check_int("frames", frames, 1)
    h, w = _check_size(size)
    motion = resolve_motion(motion)
    check_range("objects", objects, 0)
    check_range("object_size", object_size, 0.0)
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
    for length in shot_lengths(rng, frames, motion):
        if start > 0:
            cuts.append(start)
        kinds, cam_f, active, segments = plan_shot(rng, length, motion, scale)
        cam = np.rint(cam_f).astype(np.int64)
        cam -= cam.min(axis=0)
        ch, cw = h + int(cam[:, 0].max()), w + int(cam[:, 1].max())
        canvas = render_background(rng, ch, cw, scale, clutter)
        count = int(rng.integers(objects[0], objects[1] + 1))
        objs = make_objects(rng, count, (h, w), scale, object_size, motion, cam, active)
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
                    py = reflect(obj.pos0[0] + obj.velocity[0] * active[i], ch)
                    px = reflect(obj.pos0[1] + obj.velocity[1] * active[i], cw)
                    draw_object(frame, lab, obj, py - cy, px - cx,
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
    seed = check_int("seed", seed, 0)
    batch_size = check_int("batch_size", batch_size, 1)
    i = 0
    while True:
        yield generate_dataset((_derived_seed(seed, i, j) for j in range(batch_size)), 1, size,
                               **options)
        i += 1
