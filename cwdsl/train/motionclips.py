"""The unlabeled clips ``cwdsl train-clock`` fits clock models on (:func:`open_clip_set`).

``--data motion:DIR`` turns every image of a folder into one or more short clips, so a
clock model can be fitted on motion without video (CamVid's training split holds one
labeled frame a second; its stills become clips here). The synthetic camera (a window that
pans, zooms and may rotate over a still) is :mod:`cwdsl.evaluate.motionclip`, which ``cwdsl
eval --data motion:DIR`` shares with labels. :func:`clip_source` names the still a clip was
made from, so a held-out split can keep every clip of one still on one side.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cwdsl.core.errors import InputError
from cwdsl.evaluate.motionclip import Motion, motion_clip  # noqa: F401 (re-exported)


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


def clip_source(spec: str, name: str) -> str:
    """The still (or video) a clip of ``--data spec`` named ``name`` was made from, so every
    clip of one still lands on one side of a held-out split: a motion clip's or a translated
    crop's still by its resolved path (``motion:DIR`` and ``shift16:DIR`` of one folder
    share their stills), a sequence of a folder of frames by folder and name, generated
    clips by name."""
    found = re.fullmatch(r"(?:motion|shift\d+):(.+)", spec, re.S)
    if found:
        folder = Path(found.group(1))
        folder = folder / "images" if (folder / "images").is_dir() else folder
        return str(folder.resolve() / name.split("#", 1)[0])
    if spec == "demo" or spec.startswith(("scenes:", "shift")):
        return name
    return f"{Path(spec).resolve()}|{name}"


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
