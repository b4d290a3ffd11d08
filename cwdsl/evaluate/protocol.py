"""Labeled clips to evaluate schedules on: the paper's translated crops (§5), the demo clip,
labeled sequences.

The paper's synthetic video slides a crop window across a labeled still, six frames, 16
("slow") or 32 ("fast") pixels per frame, along the still's long side (the authors'
``make_translated_frames``: ``argmax`` of the image's shape, so a square still slides
vertically). As in the authors' scoring (``pascal-translate-exp``), frames 0 and 1 fill
the pipelines and frames 2-5 are scored (``score="filled"``); ``score="all"`` scores all
six. Here the stills are the project's generated scenes (``shift16``, ``shift32``) or a
labeled folder (``shift16:DIR``), so users with PASCAL VOC or Cityscapes in ``images/`` +
``labels/`` can run the protocol.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cwdsl.core.errors import InputError

CROP_FRAMES = 6
FIRST_FILLED = 2
"""The first frame the authors score: the three-stage pipeline is filled by frames 0 and 1
(every method, truncated and full networks included, is scored on frames 2-5)."""
SCORE_MODES = ("filled", "all")
"""``--score``: ``filled`` scores translated crops from :data:`FIRST_FILLED` on, ``all``
scores every crop; other data scores every labeled frame either way."""
SHIFTS = {"shift16": 16, "shift32": 32}
SCENES = 24                  # generated stills per shift protocol
SCENE_SIZE = 128             # generated stills: crops are SCENE_SIZE x SCENE_SIZE
SCENE_SEED = 5_000_000       # far from training (0..) and validation (1,000,000..) seeds


@dataclass(frozen=True)
class LabeledClip:
    """Frames with ground truth for some of them (``labels[t] is None``: not scored)."""

    name: str
    frames: tuple[np.ndarray, ...]                # (H, W, 3) uint8
    labels: tuple[np.ndarray | None, ...]         # (H, W) uint8, 255 = ignore
    motion: tuple | None = None
    """Each frame's :class:`~cwdsl.media.motionvectors.CodecMotion` when the clip was
    encoded (``--codec``), else None."""

    def __post_init__(self):
        if len(self.frames) != len(self.labels):
            raise ValueError("one label (or None) per frame")
        if self.motion is not None and len(self.motion) != len(self.frames):
            raise ValueError("one motion (or None) per frame")

    def part(self, start: int, stop: int | None, name: str) -> "LabeledClip":
        """Frames ``start:stop`` (their labels and motion vectors with them)."""
        return LabeledClip(name, self.frames[start:stop], self.labels[start:stop],
                           None if self.motion is None else self.motion[start:stop])


@dataclass(frozen=True)
class EvalData:
    """What ``cwdsl eval --data`` names: clips plus a description for tables."""

    description: str
    clips: tuple[LabeledClip, ...]
    codec: dict | None = None
    """How the clips were encoded (``--codec``: settings, bytes, PSNR), else None."""

    @property
    def frames(self) -> int:
        return sum(len(c.frames) for c in self.clips)

    @property
    def scored(self) -> int:
        return sum(lab is not None for c in self.clips for lab in c.labels)


def translated_crops(image: np.ndarray, label: np.ndarray, step: int,
                     frames: int = CROP_FRAMES, name: str = "",
                     first_scored: int = FIRST_FILLED) -> LabeledClip:
    """Slide a window ``step`` pixels per frame along the image's long side (down a square
    one, as the authors do); the window spans the short side and the long side less
    ``step * (frames - 1)``. Frames before ``first_scored`` carry no label (not scored)."""
    h, w = label.shape
    if image.shape[:2] != (h, w):
        raise InputError(f"{name or 'image'}: image and label sizes differ")
    span = step * (frames - 1)
    horizontal = w > h
    long_side = w if horizontal else h
    if long_side - span < 32:
        raise InputError(f"{name or 'image'}: {w}x{h} is too small to slide {frames} frames "
                         f"by {step} px (needs a side of at least {span + 32} px)")
    out_frames, out_labels = [], []
    for i in range(frames):
        o = i * step
        window = (slice(None), slice(o, o + w - span)) if horizontal else \
            (slice(o, o + h - span), slice(None))
        out_frames.append(np.ascontiguousarray(image[window]))
        out_labels.append(np.ascontiguousarray(label[window]) if i >= first_scored else None)
    return LabeledClip(name, tuple(out_frames), tuple(out_labels))


def generated_stills(count: int = SCENES, step: int = 16) -> Iterator[tuple[str, np.ndarray,
                                                                           np.ndarray]]:
    """Stills from the demo scene generator, wide enough that crops are square."""
    from cwdsl.demo.scenes import generate_clip

    size = (SCENE_SIZE, SCENE_SIZE + step * (CROP_FRAMES - 1))
    for i in range(count):
        clip = generate_clip(SCENE_SEED + i, 1, size)
        yield f"scene{SCENE_SEED + i}", clip.frames[0], clip.labels[0]


def ordinal(n: int) -> str:
    """``1`` → ``1st``, ``2`` → ``2nd``, ``11`` → ``11th``, ``23`` → ``23rd``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def stride_phrase(stride: int, fps: float | None = None) -> str:
    """How a stride changes the frame rate, for table headers: ``every 3rd frame (15 → 5
    fps)`` given the source's ``fps``, else ``every 3rd frame (1/3 of its frame rate)``."""
    rate = (f"{fps:g} → {fps / stride:g} fps" if fps else f"1/{stride} of its frame rate")
    return f"every {ordinal(stride)} frame from frame 0 ({rate})"


def check_stride(stride: int, spec: str) -> None:
    """An ``InputError`` unless ``stride`` is a whole number ≥ 1, and 1 for the shift
    protocols (see the module's docstring)."""
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise InputError(f"--stride {stride}: expected a whole number of at least 1")
    if stride > 1 and re.fullmatch(r"shift\d+(:.*)?", spec, re.S):
        raise InputError(f"--stride {stride}: --data {spec} is the translated-crop protocol, "
                         f"whose motion per frame is the shift (shift32 is shift16 at stride 2); "
                         f"--stride subsamples sequences (demo, DIR)")
    if stride > 1 and re.match(r"motion[,:]", spec):
        raise InputError(f"--stride {stride}: --data {spec} is synthetic motion, whose motion "
                         f"per frame its keys set (speed=, zoom=, rotate=); --stride "
                         f"subsamples sequences (demo, DIR)")


def _strided(indices: range, what: str, stride: int) -> range:
    """Every ``stride``-th of ``indices`` from the first; an ``InputError`` when that leaves
    fewer than two frames (nothing moves between them)."""
    kept = indices[::stride]
    if stride > 1 and len(kept) < 2:
        raise InputError(f"--stride {stride}: {what} has {len(indices)} frame(s); every "
                         f"{ordinal(stride)} leaves {len(kept)} (at least 2 are needed)")
    return kept


def is_sequence(spec: str) -> bool:
    """Whether ``--data spec`` names a sequence ``--stride`` subsamples (``demo``, ``DIR``),
    not translated crops or motion clips."""
    return re.fullmatch(r"shift\d+(:.*)?", spec, re.S) is None and not re.match(
        r"motion[,:]", spec)


def is_generated(spec: str) -> bool:
    """Whether ``--data spec`` names data the project generates (the demo network's)."""
    return spec == "demo" or re.fullmatch(r"shift\d+", spec) is not None


def load_eval_data(spec: str, num_classes: int, void: int | None = None,
                   scenes: int = SCENES, score: str = "filled", stride: int = 1) -> EvalData:
    """``demo`` | ``shift16`` | ``shift32`` | ``shift16:DIR`` | ``shift32:DIR`` |
    ``motion[,KEY=V…]:DIR`` (a pan/zoom/rotation clip per labeled still,
    :mod:`cwdsl.evaluate.motionclip`) | ``DIR`` (a labeled sequence: images in name order,
    labels for some or all of them).
    ``score`` (:data:`SCORE_MODES`) picks the scored crops of the shift protocols;
    ``stride`` keeps every ``stride``-th frame of a sequence from frame 0 (see the module's
    docstring; the description says so)."""
    from cwdsl.evaluate.datasets import open_labeled_folder

    check_stride(stride, spec)
    if score not in SCORE_MODES:
        raise InputError(f"--score {score}: use one of {', '.join(SCORE_MODES)}")
    found = re.fullmatch(r"(shift\d+)(?::(.+))?", spec)
    if found and found.group(1) not in SHIFTS:
        raise InputError(f"--data {spec}: the protocol shifts by 16 or 32 px (shift16, shift32)")
    if found:
        step = SHIFTS[found.group(1)]
        first = FIRST_FILLED if score == "filled" else 0
        scored = (f"frames {first}-{CROP_FRAMES - 1} scored (0-{first - 1} fill the pipelines)"
                  if first else "every frame scored")
        if found.group(2) is None:
            clips = tuple(translated_crops(img, lab, step, name=n, first_scored=first)
                          for n, img, lab in generated_stills(scenes, step))
            return EvalData(f"{found.group(1)}: {scenes} generated scenes, {CROP_FRAMES} frames "
                            f"sliding {step} px, {scored}", clips)
        folder = open_labeled_folder(found.group(2), void)
        clips = tuple(translated_crops(*folder.pair(i, num_classes), step,
                                       name=folder.images[i].name, first_scored=first)
                      for i in range(len(folder)))
        return EvalData(f"{found.group(1)}: {len(folder)} images of {folder.root}, "
                        f"{CROP_FRAMES} frames sliding {step} px, {scored}", clips)
    if re.match(r"motion[,:]", spec):
        from cwdsl.evaluate.motionclip import motion_eval_data

        what, clips = motion_eval_data(spec, num_classes, void)
        return EvalData(what, tuple(LabeledClip(*clip) for clip in clips))
    if spec == "demo":
        from cwdsl.demo.clip import DEMO, demo_clip

        clip = demo_clip()
        keep = _strided(range(len(clip.frames)), "the demo clip", stride)
        frames = tuple(clip.frames[i] for i in keep)
        what = f"demo clip (seed {DEMO.seed}, {DEMO.frames} frames)"
        if stride > 1:
            what = (f"demo clip (seed {DEMO.seed}, {DEMO.frames} frames at {DEMO.fps:g} fps), "
                    f"{stride_phrase(stride, DEMO.fps)}: {len(frames)} frames")
        return EvalData(what, (LabeledClip("demo", frames,
                                           tuple(clip.labels[i] for i in keep)),))
    path = Path(spec)
    if not path.exists():
        raise InputError(f"--data {spec}: not demo, shift16, shift32, shift16:DIR, shift32:DIR, "
                         f"motion:DIR or an existing labeled folder")
    folder = open_labeled_folder(path, void, sparse=True)
    keep = _strided(range(len(folder)), f"sequence {path}", stride)
    if not any(folder.labels[i] is not None for i in keep):
        raise InputError(f"--stride {stride}: no labeled frame of {path} is among every "
                         f"{ordinal(stride)} frame from frame 0; nothing would be scored")
    frames, labels = [], []
    for i in keep:
        frames.append(folder.image(i))
        labels.append(None if folder.labels[i] is None else folder.label(i, num_classes))
        if labels[-1] is not None and labels[-1].shape != frames[-1].shape[:2]:
            raise InputError(f"{folder.labels[i]}: label map size differs from its image's")
    clip = LabeledClip(path.name, tuple(frames), tuple(labels))
    kept = (f"sequence {path}: {len(frames)} frames" if stride == 1 else
            f"sequence {path} ({len(folder)} frames), {stride_phrase(stride)}: "
            f"{len(frames)} frames")
    return EvalData(f"{kept}, {sum(lab is not None for lab in labels)} labeled", (clip,))
