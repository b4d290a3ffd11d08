"""Synthetic video from still images: a camera window that pans, zooms and rotates over a
still, with the still's labels carried along (``cwdsl eval --data motion:DIR``) or without
(``cwdsl train-clock --data motion:DIR``, :mod:`cwdsl.train.motionclips`).

A clip (:func:`motion_views`) is ``frames`` views of one still through a window with the
output's aspect ratio. The window starts at a random zoom ``z0`` (the window spans ``1/z``
of the largest such window that fits the still) and a random centre; every frame its
centre moves by a velocity of ``speed`` output pixels per frame (uniform in
:attr:`Motion.speed`, in a random direction whose vertical part is halved: driving video
pans more than it tilts), its zoom is multiplied by ``exp(rate)`` (``rate`` uniform in
:attr:`Motion.zoom_rate`; positive zooms in, as a car driving forward sees the scene
grow) and it turns by ``spin`` degrees (uniform in :attr:`Motion.rotate`; none by default).
A window that would leave the still bounces off its edge (that velocity component
reverses) and the zoom stays within ``[1, max_zoom]``; a turned window's corners may still
leave it: those pixels repeat the still's border and their labels are void. With
probability :attr:`Motion.still` the clip does not move at all (a stopped car). Frames are
resampled bilinearly to the output size, labels by nearest neighbour; a still may be
flipped left-right (probability 1/2); each frame gets Gaussian sensor noise of ``noise``
(in [0, 1] pixel units). Everything is drawn from one seeded ``numpy`` generator (the spin
last, and only when :attr:`Motion.rotate` is not ``(0, 0)``, so clips without rotation are
the ones drawn before rotation existed).

``motion:DIR`` for ``eval`` and ``sweep`` (:func:`motion_eval_data`): one clip per labeled
still of ``DIR`` at the still's own size, every frame labeled and scored, with
:data:`EVAL_MOTION` (pan, zoom and rotation: not a translation); ``motion,KEY=V,…:DIR``
changes it (:data:`MOTION_KEYS`).
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from cwdsl.core.errors import InputError
from cwdsl.core.metrics import IGNORE


@dataclass(frozen=True)
class Motion:
    """The distribution of a synthetic clip's camera motion (see the module docstring).
    ``speed``: output pixels per frame; ``zoom_rate``: log zoom change per frame;
    ``start_zoom``: the first frame's zoom; ``still``: probability of a motionless clip;
    ``noise``: standard deviation of per-pixel noise in [0, 1] units; ``rotate``: degrees
    the window turns per frame."""

    frames: int = 12
    speed: tuple[float, float] = (0.0, 12.0)
    zoom_rate: tuple[float, float] = (-0.02, 0.05)
    start_zoom: tuple[float, float] = (1.0, 1.4)
    max_zoom: float = 2.0
    still: float = 0.1
    noise: float = 0.008
    rotate: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self):
        if self.frames < 2:
            raise InputError(f"a motion clip needs at least 2 frames, got {self.frames}")
        for name in ("speed", "zoom_rate", "start_zoom", "rotate"):
            low, high = getattr(self, name)
            if not low <= high:
                raise InputError(f"motion {name}: {low:g} > {high:g}")
        if not 1 <= self.start_zoom[0] <= self.start_zoom[1] <= self.max_zoom:
            raise InputError(f"motion start_zoom must lie in [1, {self.max_zoom:g}]")

    def to_json(self) -> dict:
        out = asdict(self)
        if self.rotate == (0.0, 0.0):
            del out["rotate"]  # as models written before rotation existed record it
        return out


def motion_clip(image: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
                motion: Motion = Motion()) -> tuple[np.ndarray, ...]:
    """``motion.frames`` (h, w, 3) uint8 frames of size ``size`` = (h, w): views of the
    (H, W, 3) uint8 ``image`` through a moving window (the module docstring)."""
    return motion_views(image, None, size, rng, motion)[0]


def motion_views(image: np.ndarray, label: np.ndarray | None, size: tuple[int, int],
                 rng: np.random.Generator, motion: Motion = Motion()
                 ) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...] | None]:
    """:func:`motion_clip`'s frames and, given the (H, W) uint8 ``label`` of ``image``, the
    label map seen in each (nearest neighbour; void where a turned window leaves the
    still)."""
    h, w = size
    big, wide = image.shape[:2]
    fit = min(big / h, wide / w)  # image pixels per output pixel of the widest window
    if rng.random() < 0.5:
        image = image[:, ::-1]
        label = None if label is None else label[:, ::-1]
    moving = rng.random() >= motion.still
    speed = rng.uniform(*motion.speed) if moving else 0.0
    angle = rng.uniform(0, 2 * math.pi)
    vx, vy = speed * math.cos(angle), 0.5 * speed * math.sin(angle)
    rate = rng.uniform(*motion.zoom_rate) if moving else 0.0
    zoom = rng.uniform(*motion.start_zoom)
    cx, cy = rng.uniform(0, wide), rng.uniform(0, big)
    spin = math.radians(rng.uniform(*motion.rotate)) if (
        moving and motion.rotate != (0.0, 0.0)) else 0.0
    windows = []
    for i in range(motion.frames):
        half_w, half_h = fit * w / zoom / 2, fit * h / zoom / 2
        cx, cy = min(max(cx, half_w), wide - half_w), min(max(cy, half_h), big - half_h)
        windows.append((cx, cy, half_w, half_h, spin * i))
        step = fit / zoom  # image pixels per output pixel now
        nx, ny = cx + vx * step, cy + vy * step
        if not half_w <= nx <= wide - half_w:
            vx = -vx
        if not half_h <= ny <= big - half_h:
            vy = -vy
        cx, cy = cx + vx * step, cy + vy * step
        zoom = min(max(zoom * math.exp(rate), 1.0), motion.max_zoom)
    # output (u, v) in [-1, 1] → image pixel (x, y) = centre + R(phi) (u hw, v hh), normalised
    theta = torch.tensor([[[math.cos(p) * hw / (wide / 2), -math.sin(p) * hh / (wide / 2),
                            x / (wide / 2) - 1],
                           [math.sin(p) * hw / (big / 2), math.cos(p) * hh / (big / 2),
                            y / (big / 2) - 1]]
                          for x, y, hw, hh, p in windows], dtype=torch.float32)
    src = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255)
    grid = F.affine_grid(theta, [len(windows), 3, h, w], align_corners=False)
    out = F.grid_sample(src.expand(len(windows), -1, -1, -1), grid, mode="bilinear",
                        padding_mode="border", align_corners=False)
    if motion.noise > 0:
        noise = torch.from_numpy(rng.standard_normal(out.shape).astype(np.float32))
        out = out + motion.noise * noise
    frames = out.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    frames = tuple(np.ascontiguousarray(f) for f in frames)
    if label is None:
        return frames, None
    lab = torch.from_numpy(np.array(label)).float()[None, None]
    inside = torch.ones_like(lab)
    both = torch.cat([lab, inside], 1).expand(len(windows), -1, -1, -1)
    seen = F.grid_sample(both, grid, mode="nearest", padding_mode="zeros",
                         align_corners=False)
    labels = torch.where(seen[:, 1] > 0.5, seen[:, 0], float(IGNORE)).to(torch.uint8).numpy()
    return frames, tuple(np.ascontiguousarray(x) for x in labels)


EVAL_MOTION = Motion(frames=8, speed=(2.0, 8.0), zoom_rate=(-0.04, 0.06),
                     start_zoom=(1.2, 1.5), still=0.0, noise=0.0, rotate=(-2.0, 2.0))
"""``eval --data motion:DIR``: 8 frames panning 2-8 px/frame, zooming by -4% to +6% and
turning by -2° to 2° a frame, never still, no noise."""
MOTION_EVAL_SEED = 9_000_000
"""Seeds of ``eval``'s motion clips: ``(MOTION_EVAL_SEED + seed, still index)``, far from
``train-clock``'s ``(seed, still, clip)``."""
MOTION_KEYS = {"frames": "frames per clip (default 8)",
               "stills": "at most this many stills, evenly spaced in name order (default all)",
               "speed": "largest pan, px/frame (default 8)",
               "zoom": "largest zoom-in per frame, as a log rate (default 0.06; out is 2/3 of "
                       "it)",
               "rotate": "largest turn, degrees/frame (default 2)",
               "seed": "seed (default 0)"}
"""The keys of ``motion,KEY=V,…:DIR``."""


def motion_spec(spec: str) -> tuple[dict[str, float], str] | None:
    """``motion:DIR`` or ``motion,KEY=V,…:DIR`` → (options, DIR); None for another spec;
    an ``InputError`` for an unknown key or a bad value."""
    found = re.fullmatch(r"motion((?:,[^,:=]*=[^,:]*)*):(.+)", spec, re.S)
    if not found:
        if re.match(r"motion[,:]", spec):
            raise InputError(f"--data {spec}: expected motion:DIR or motion,KEY=V,…:DIR "
                             f"(keys: {', '.join(MOTION_KEYS)})")
        return None
    options = {}
    for item in filter(None, found.group(1).split(",")):
        key, value = item.split("=", 1)
        if key not in MOTION_KEYS:
            raise InputError(f"--data {spec}: unknown motion key {key!r}; keys: "
                             + "; ".join(f"{k}: {v}" for k, v in MOTION_KEYS.items()))
        try:
            options[key] = float(value)
        except ValueError:
            options[key] = math.nan
        whole = key in ("frames", "stills", "seed")
        least = {"frames": 2, "stills": 1}.get(key, 0)
        if not math.isfinite(options[key]) or options[key] < least or (
                whole and options[key] != int(options[key])):
            raise InputError(f"--data {spec}: {key}={value}: expected a "
                             f"{'whole ' if whole else ''}number of at least {least}")
    return options, found.group(2)


def eval_motion(options: dict[str, float]) -> Motion:
    """:data:`EVAL_MOTION` with ``options`` (:data:`MOTION_KEYS`) applied."""
    m = EVAL_MOTION
    zoom = options.get("zoom", m.zoom_rate[1])
    turn = options.get("rotate", m.rotate[1])
    return replace(m, frames=int(options.get("frames", m.frames)),
                   speed=(min(m.speed[0], options.get("speed", m.speed[1])),
                          options.get("speed", m.speed[1])),
                   zoom_rate=(-2 * zoom / 3 or 0.0, zoom), rotate=(-turn or 0.0, turn))


def motion_eval_data(spec: str, num_classes: int, void: int | None
                     ) -> tuple[str, list[tuple[str, tuple, tuple]]]:
    """``--data motion[,KEY=V…]:DIR`` for ``eval`` and ``sweep``: a description and one
    labeled motion clip per still, ``(name, frames, labels)`` (made into an ``EvalData`` by
    :func:`cwdsl.evaluate.protocol.load_eval_data`)."""
    from cwdsl.evaluate.datasets import open_labeled_folder

    options, folder_path = motion_spec(spec)
    motion = eval_motion(options)
    folder = open_labeled_folder(folder_path, void)
    index = range(len(folder))
    if "stills" in options and options["stills"] < len(folder):
        index = sorted({int(round(x)) for x in
                        np.linspace(0, len(folder) - 1, int(options["stills"]))})
    seed = int(options.get("seed", 0))
    clips = []
    for i in index:
        image, label = folder.pair(i, num_classes)
        rng = np.random.default_rng([MOTION_EVAL_SEED + seed, i])
        frames, labels = motion_views(image, label, image.shape[:2], rng, motion)
        clips.append((folder.images[i].name, frames, labels))
    return (f"motion: {len(clips)} of {len(folder)} stills of {folder.root}, {motion.frames} "
            f"frames each panning {motion.speed[0]:g}-{motion.speed[1]:g} px, zooming "
            f"{motion.zoom_rate[0]:+g}..{motion.zoom_rate[1]:+g} and turning "
            f"{motion.rotate[0]:g}..{motion.rotate[1]:g}° a frame (seed {seed}), every frame "
            f"scored", clips)
