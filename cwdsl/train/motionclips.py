"""The unlabeled clips ``cwdsl train-clock`` fits clock models on (:func:`open_clip_set`),
and synthetic video from still images: a camera window that pans and zooms over a still.

``--data motion:DIR`` turns every image of a folder into one or more short clips, so a
clock model can be fitted on motion without video (CamVid's training split holds one
labeled frame a second; its stills become clips here).

A clip (:func:`motion_clip`) is ``frames`` views of one still through a window with the
output's aspect ratio. The window starts at a random zoom ``z0`` (the window spans ``1/z``
of the largest such window that fits the still) and a random centre; every frame its
centre moves by a velocity of ``speed`` output pixels per frame (uniform in
:attr:`Motion.speed`, in a random direction whose vertical part is halved: driving video
pans more than it tilts) and its zoom is multiplied by ``exp(rate)`` (``rate`` uniform in
:attr:`Motion.zoom_rate`; positive zooms in, as a car driving forward sees the scene
grow). A window that would leave the still bounces off its edge (that velocity component
reverses) and the zoom stays within ``[1, max_zoom]``. With probability
:attr:`Motion.still` the clip does not move at all (a stopped car). Frames are resampled
bilinearly to the output size; a still may be flipped left-right (probability 1/2); each
frame gets Gaussian sensor noise of ``noise`` (in [0, 1] pixel units). Everything is drawn
from one seeded ``numpy`` generator.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cwdsl.core.errors import InputError


@dataclass(frozen=True)
class Motion:
    """The distribution of a synthetic clip's camera motion (see the module docstring).
    ``speed``: output pixels per frame; ``zoom_rate``: log zoom change per frame;
    ``start_zoom``: the first frame's zoom; ``still``: probability of a motionless clip;
    ``noise``: standard deviation of per-pixel noise in [0, 1] units."""

    frames: int = 12
    speed: tuple[float, float] = (0.0, 12.0)
    zoom_rate: tuple[float, float] = (-0.02, 0.05)
    start_zoom: tuple[float, float] = (1.0, 1.4)
    max_zoom: float = 2.0
    still: float = 0.1
    noise: float = 0.008

    def __post_init__(self):
        if self.frames < 2:
            raise InputError(f"a motion clip needs at least 2 frames, got {self.frames}")
        for name in ("speed", "zoom_rate", "start_zoom"):
            low, high = getattr(self, name)
            if not low <= high:
                raise InputError(f"motion {name}: {low:g} > {high:g}")
        if not 1 <= self.start_zoom[0] <= self.start_zoom[1] <= self.max_zoom:
            raise InputError(f"motion start_zoom must lie in [1, {self.max_zoom:g}]")

    def to_json(self) -> dict:
        return asdict(self)


def motion_clip(image: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
                motion: Motion = Motion()) -> tuple[np.ndarray, ...]:
    """``motion.frames`` (h, w, 3) uint8 frames of size ``size`` = (h, w): views of the
    (H, W, 3) uint8 ``image`` through a moving window (the module docstring)."""
    h, w = size
    big, wide = image.shape[:2]
    fit = min(big / h, wide / w)  # image pixels per output pixel of the widest window
    if rng.random() < 0.5:
        image = image[:, ::-1]
    moving = rng.random() >= motion.still
    speed = rng.uniform(*motion.speed) if moving else 0.0
    angle = rng.uniform(0, 2 * math.pi)
    vx, vy = speed * math.cos(angle), 0.5 * speed * math.sin(angle)
    rate = rng.uniform(*motion.zoom_rate) if moving else 0.0
    zoom = rng.uniform(*motion.start_zoom)
    cx, cy = rng.uniform(0, wide), rng.uniform(0, big)
    windows = []
    for _ in range(motion.frames):
        half_w, half_h = fit * w / zoom / 2, fit * h / zoom / 2
        cx, cy = min(max(cx, half_w), wide - half_w), min(max(cy, half_h), big - half_h)
        windows.append((cx, cy, half_w, half_h))
        step = fit / zoom  # image pixels per output pixel now
        nx, ny = cx + vx * step, cy + vy * step
        if not half_w <= nx <= wide - half_w:
            vx = -vx
        if not half_h <= ny <= big - half_h:
            vy = -vy
        cx, cy = cx + vx * step, cy + vy * step
        zoom = min(max(zoom * math.exp(rate), 1.0), motion.max_zoom)
    theta = torch.tensor([[[hw / (wide / 2), 0.0, x / (wide / 2) - 1],
                           [0.0, hh / (big / 2), y / (big / 2) - 1]]
                          for x, y, hw, hh in windows], dtype=torch.float32)
    src = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255)
    grid = F.affine_grid(theta, [len(windows), 3, h, w], align_corners=False)
    out = F.grid_sample(src.expand(len(windows), -1, -1, -1), grid, mode="bilinear",
                        padding_mode="border", align_corners=False)
    if motion.noise > 0:
        noise = torch.from_numpy(rng.standard_normal(out.shape).astype(np.float32))
        out = out + motion.noise * noise
    frames = out.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return tuple(np.ascontiguousarray(f) for f in frames)


def still_images(folder: str | Path) -> list[Path]:
    """The images of ``folder`` (of ``folder/images`` when it has one, as a labeled folder
    does), in natural name order; an ``InputError`` if there are none."""
    from cwdsl.media.video import list_images

    root = Path(folder)
    if (root / "images").is_dir():
        root = root / "images"
    return list_images(root, None)


def motion_clips(folder: str | Path, size: tuple[int, int], seed: int, per_image: int = 1,
                 motion: Motion = Motion()) -> Iterator[tuple[str, tuple[np.ndarray, ...]]]:
    """``(name, frames)`` for ``per_image`` clips of every still in ``folder``
    (:func:`still_images`), each drawn by :func:`motion_clip` from a generator seeded by
    ``(seed, image index, clip index)``."""
    from cwdsl.media.video import load_rgb

    for i, path in enumerate(still_images(folder)):
        image = load_rgb(path)
        for j in range(per_image):
            rng = np.random.default_rng([seed, i, j])
            yield f"{path.name}#{j}", motion_clip(image, size, rng, motion)


@dataclass(frozen=True)
class ClipSet:
    """What one ``train-clock --data SPEC`` names: ``count`` clips, read lazily (``clips()``
    yields ``(name, frames)``, frames (H, W, 3) uint8 at their own size)."""

    spec: str
    description: str
    count: int
    clips: Callable[[], Iterator[tuple[str, tuple[np.ndarray, ...]]]]


SCENE_CLIP_SEED = 7_000_000
"""First seed of ``scenes:N`` clips: far from the demo clip's (2016), training's (0..),
validation's (1,000,000..) and the shift protocols' (5,000,000..)."""
SCENE_CLIP_FRAMES = 24


def open_clip_set(spec: str, size: tuple[int, int], seed: int = 0, per_image: int = 1,
                  motion: Motion = Motion(), stride: int = 1, scenes: int = 24) -> ClipSet:
    """The clips ``spec`` names (checked now, read later): ``demo`` (the bundled clip),
    ``scenes:N`` (N clips of :data:`SCENE_CLIP_FRAMES` frames from the demo generator at
    ``size``), ``shift16``/``shift32``/``shift16:DIR``/``shift32:DIR`` (the paper's
    translated crops, :func:`cwdsl.evaluate.protocol.load_eval_data`), ``motion:DIR``
    (:func:`motion_clips` of DIR's stills at ``size``) or ``DIR`` (a video as a folder of
    frames, ``DIR/images`` when it has one; one clip per sequence, :func:`cwdsl.evaluate.
    datasets.sequence_of`, every ``stride``-th frame). No labels are read."""
    if stride < 1:
        raise InputError(f"--stride must be at least 1, got {stride}")
    if spec == "demo" or re.fullmatch(r"shift\d+(:.+)?", spec, re.S):
        from cwdsl.evaluate.protocol import load_eval_data

        data = load_eval_data(spec, 256, None, scenes, "all", stride)  # labels unused
        clips = tuple((c.name, c.frames) for c in data.clips)
        return ClipSet(spec, data.description, len(clips), lambda: iter(clips))
    found = re.fullmatch(r"scenes:(\d+)", spec)
    if found:
        from cwdsl.demo.scenes import generate_clip

        n = int(found.group(1))
        if n < 1:
            raise InputError(f"--data {spec}: give at least one scene (scenes:N, N >= 1)")

        def scene_clips():
            for i in range(n):
                clip = generate_clip(SCENE_CLIP_SEED + seed * n + i, SCENE_CLIP_FRAMES, size)
                yield f"scene{SCENE_CLIP_SEED + seed * n + i}", tuple(clip.frames)[::stride]

        return ClipSet(spec, f"{n} clips of {SCENE_CLIP_FRAMES} frames from the demo scene "
                             f"generator at {size[0]}x{size[1]}", n, scene_clips)
    if spec.startswith("motion:"):
        folder = spec[len("motion:"):]
        stills = still_images(folder)
        return ClipSet(spec, f"{len(stills)} stills of {folder}, {per_image} synthetic "
                             f"motion clip(s) of {motion.frames} frames each at "
                             f"{size[0]}x{size[1]}", len(stills) * per_image,
                       lambda: motion_clips(folder, size, seed, per_image, motion))
    if not Path(spec).exists():
        raise InputError(f"--data {spec}: not demo, scenes:N, shift16, shift32, shift16:DIR, "
                         f"shift32:DIR, motion:DIR or an existing folder of frames")
    return _frame_folder(spec, stride)


def _frame_folder(spec: str, stride: int) -> ClipSet:
    from cwdsl.evaluate.datasets import sequence_of
    from cwdsl.evaluate.protocol import ordinal
    from cwdsl.media.video import load_rgb

    sequences: dict[str, list[Path]] = {}
    for path in still_images(spec):
        sequences.setdefault(sequence_of(path), []).append(path)
    kept = {name: paths[::stride] for name, paths in sequences.items()}

    def clips():
        for name, paths in kept.items():
            yield name, tuple(load_rgb(p) for p in paths)

    frames = sum(len(p) for p in kept.values())
    every = f", every {ordinal(stride)} frame" if stride > 1 else ""
    return ClipSet(spec, f"{len(kept)} sequence(s) of {spec}{every}: {frames} frames",
                   len(kept), clips)
