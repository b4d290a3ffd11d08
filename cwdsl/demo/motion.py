"""How a demo clip moves: the :class:`Motion` parameters, their presets, and shot planning.

A clip is a sequence of *shots* separated by hard cuts (:func:`shot_lengths`); a shot is a
sequence of *segments*, each ``still``, ``pan`` or ``hold`` (:func:`plan_shot`). See
:mod:`cwdsl.demo.scenes` for what each kind means and how the frames are rendered.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cwdsl.core.errors import InputError, did_you_mean

SEGMENT_KINDS = ("still", "pan", "hold")
MIN_PAN_SPEED = 1.5  # pixels/frame: >= 1 px/frame on the dominant axis at any angle


def check_range(name: str, pair, minimum) -> None:
    """:class:`InputError` unless ``pair`` is ``(low, high)``, ``minimum <= low <= high``."""
    try:
        lo, hi = pair
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a (low, high) pair, got {pair!r}") from None
    if not (minimum <= lo <= hi):
        raise InputError(f"{name} must satisfy {minimum} <= low <= high, got {pair!r}")


def check_int(name: str, value, minimum: int) -> int:
    """``value`` as an ``int``; :class:`InputError` unless it is a whole number ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


@dataclass(frozen=True)
class Motion:
    """How the camera and the objects move; see :mod:`cwdsl.demo.scenes`.

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
        check_range("motion.segment_frames", self.segment_frames, 1)
        check_range("motion.pan_speed", self.pan_speed, 0.0)
        check_range("motion.object_speed", self.object_speed, 0.0)
        for name in ("axis_aligned", "object_moving", "cut_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(f"motion.{name} must be in [0, 1], got {value}")
        if self.spin < 0:
            raise InputError(f"motion.spin must be >= 0, got {self.spin}")
        if self.min_shot < 1:
            raise InputError(f"motion.min_shot must be >= 1, got {self.min_shot}")


MOTION_PRESETS: dict[str, Motion] = {
    # the mix described in the cwdsl.demo.scenes docstring
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


def resolve_motion(motion: Motion | str) -> Motion:
    """``motion`` itself, or the preset it names; :class:`InputError` for an unknown name."""
    if isinstance(motion, Motion):
        return motion
    if isinstance(motion, str) and motion in MOTION_PRESETS:
        return MOTION_PRESETS[motion]
    hint = did_you_mean(str(motion), MOTION_PRESETS) if isinstance(motion, str) else ""
    raise InputError(f"unknown motion preset {motion!r}{hint}; "
                     f"choose from {', '.join(MOTION_PRESETS)}")


def shot_lengths(rng: np.random.Generator, frames: int, motion: Motion) -> list[int]:
    """Split ``frames`` frames into shots: ``min_shot`` frames, then a cut at ``cut_rate``."""
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


def plan_shot(rng: np.random.Generator, length: int, motion: Motion, scale: float):
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
                speed = max(speed, MIN_PAN_SPEED)
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
