"""Seeded training augmentation for labeled images: flips, random scale with random crops,
colour jitter.

Each training sample is one (image, label) pair drawn at random, then, in this order: its
brightness, contrast and saturation each multiplied by a factor drawn from
``[1 - jitter, 1 + jitter]`` (in random order); scaled by a factor drawn uniformly from
``Augment.scale`` (image bilinear, label nearest, so no label value is invented); cropped
at a random place to the training size (where the crop leaves the scaled image the pixels
are black and the labels void, :data:`cwdsl.core.metrics.IGNORE`); flipped left–right with
probability 1/2. The stream depends only on the pairs, the seed and the settings.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from cwdsl.core.errors import InputError
from cwdsl.core.metrics import IGNORE

GRAY = np.array([0.299, 0.587, 0.114], np.float32)
"""ITU-R 601 luma weights: the grey that contrast and saturation pull towards."""


@dataclass(frozen=True)
class Augment:
    """What :func:`augmented_crops` does to each sample (``Augment.off()``: plain crops)."""

    flip: bool = True
    scale: tuple[float, float] = (0.75, 1.5)
    jitter: float = 0.3   # brightness, contrast, saturation factors in [1 - jitter, 1 + jitter]

    def __post_init__(self):
        low, high = self.scale
        if not 0 < low <= high <= 8:
            raise InputError(f"--scale must be LOW:HIGH with 0 < LOW <= HIGH <= 8, got "
                             f"{low:g}:{high:g}")
        if not 0 <= self.jitter < 1:
            raise InputError(f"--jitter must be in [0, 1), got {self.jitter:g}")

    @staticmethod
    def off() -> Augment:
        return Augment(flip=False, scale=(1.0, 1.0), jitter=0.0)

    @property
    def active(self) -> bool:
        return self != Augment.off()


def scale_range(text: str) -> tuple[float, float]:
    """``--scale LOW:HIGH`` (or one factor) as a pair of floats."""
    parts = text.split(":")
    try:
        values = [float(v) for v in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or len(values) != len(parts):
        raise InputError(f"--scale must be LOW:HIGH (e.g. 0.75:1.5), got {text!r}")
    return (values[0], values[-1])


def rescale(image: np.ndarray, label: np.ndarray, factor: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (bilinear) and ``label`` (nearest) resized by ``factor`` (at least 1 px)."""
    if factor == 1:
        return image, label
    h, w = label.shape
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return (np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR)),
            np.asarray(Image.fromarray(label).resize(size, Image.NEAREST)))


def place_crop(image: np.ndarray, label: np.ndarray, size: tuple[int, int],
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A ``size`` window at a random place over the image: inside it when the image is
    larger, around it when smaller (black pixels, void labels where it leaves the image)."""
    h, w = size
    ih, iw = label.shape
    y = int(rng.integers(min(0, ih - h), max(0, ih - h) + 1))
    x = int(rng.integers(min(0, iw - w), max(0, iw - w) + 1))
    frame = np.zeros((h, w, 3), np.uint8)
    labels = np.full((h, w), IGNORE, np.uint8)
    sy, sx = max(y, 0), max(x, 0)                      # source window in the image
    ey, ex = min(y + h, ih), min(x + w, iw)
    frame[sy - y:ey - y, sx - x:ex - x] = image[sy:ey, sx:ex]
    labels[sy - y:ey - y, sx - x:ex - x] = label[sy:ey, sx:ex]
    return frame, labels


def jitter_colour(image: np.ndarray, jitter: float, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast and saturation, each scaled by a factor in
    ``[1 - jitter, 1 + jitter]``, in a random order (torchvision's ``ColorJitter``)."""
    x = image.astype(np.float32)
    for op in rng.permutation(3):
        f = np.float32(rng.uniform(1 - jitter, 1 + jitter))
        if op == 0:                                     # brightness
            x = x * f
        elif op == 1:                                   # contrast: towards the mean grey
            x = (x - (x @ GRAY).mean()) * f + (x @ GRAY).mean()
        else:                                           # saturation: towards each pixel's grey
            grey = (x @ GRAY)[..., None]
            x = (x - grey) * f + grey
        x = np.clip(x, 0, 255)
    return np.rint(x).astype(np.uint8)


def augment_sample(image: np.ndarray, label: np.ndarray, size: tuple[int, int],
                   augment: Augment, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """One training crop of ``size`` from one pair (the module's order of operations)."""
    if augment.jitter > 0:   # before cropping, so the padding stays black
        image = jitter_colour(image, augment.jitter, rng)
    low, high = augment.scale
    if high > low:
        image, label = rescale(image, label, float(rng.uniform(low, high)))
    elif low != 1:
        image, label = rescale(image, label, low)
    frame, labels = place_crop(image, label, size, rng)
    if augment.flip and rng.random() < 0.5:
        frame, labels = frame[:, ::-1], labels[:, ::-1]
    return frame, labels


def augmented_crops(pairs: Sequence[tuple[np.ndarray, np.ndarray]], batch: int,
                    size: tuple[int, int], seed: int, augment: Augment = Augment()
                    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """An endless, seeded stream of training batches from (image, label) ``pairs`` held in
    memory: random pairs, each through :func:`augment_sample`.
    Yields ``(frames (B, H, W, 3) uint8, labels (B, H, W) uint8)``."""
    rng = np.random.default_rng(seed)
    cache = list(pairs)
    if not cache:
        raise InputError("no labeled images to train on")
    h, w = size
    while True:
        frames = np.zeros((batch, h, w, 3), np.uint8)
        labels = np.full((batch, h, w), IGNORE, np.uint8)
        for b in range(batch):
            image, label = cache[rng.integers(len(cache))]
            frames[b], labels[b] = augment_sample(image, label, size, augment, rng)
        yield frames, labels


def random_crops(pairs: Sequence[tuple[np.ndarray, np.ndarray]], batch: int,
                 size: tuple[int, int], seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """An endless, seeded stream of training batches from (image, label) ``pairs`` held in
    memory (:meth:`LabeledFolder.pairs`): random images, random crops of ``size`` (void
    where a crop leaves its image), random horizontal flips; no scaling or colour jitter
    (:func:`augmented_crops` adds those).
    Yields ``(frames (B, H, W, 3) uint8, labels (B, H, W) uint8)``."""
    return augmented_crops(pairs, batch, size, seed, Augment(flip=True, scale=(1.0, 1.0),
                                                             jitter=0.0))
