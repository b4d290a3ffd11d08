"""Folders of labeled images: ``DIR/images/NAME.ext`` beside ``DIR/labels/NAME.png``.

Labels are PNGs of class indices (palette "P" or grayscale "L"), the layout of CamVid,
PASCAL VOC's ``SegmentationClass`` and most exports. ``void`` names a label value to
ignore (it becomes :data:`cwdsl.core.metrics.IGNORE`, 255); any other value outside the
network's classes is an error naming the file. Sorted by name (natural order), a folder
of frames from one video is a labeled *sequence*.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cwdsl.core.errors import InputError
from cwdsl.core.metrics import IGNORE
from cwdsl.media.video import list_images, load_label_png, load_rgb, natural_key


@dataclass(frozen=True)
class LabeledFolder:
    """Pairs of an RGB image and its label map, in natural name order."""

    root: Path
    images: tuple[Path, ...]
    labels: tuple[Path | None, ...]   # None: an unlabeled frame (sparse sequences only)
    void: int | None = None

    def __len__(self) -> int:
        return len(self.images)

    def image(self, i: int) -> np.ndarray:
        """Image ``i`` as (H, W, 3) uint8."""
        return load_rgb(self.images[i])

    def label(self, i: int, num_classes: int | None = None) -> np.ndarray:
        """Label map ``i`` as (H, W) uint8, ``void`` → 255; checked against the image's
        size and, given ``num_classes``, the class range."""
        if self.labels[i] is None:
            raise InputError(f"{self.images[i]}: this frame has no label in {self.root}/labels")
        label = load_label_png(self.labels[i])
        if self.void is not None:
            label = np.where(label == self.void, IGNORE, label).astype(np.uint8)
        if num_classes is not None:
            bad = label[(label >= num_classes) & (label != IGNORE)]
            if bad.size:
                hint = "" if self.void is not None else " (is it the void label? give --void)"
                raise InputError(f"{self.labels[i]}: label value {int(bad.max())} is outside "
                                 f"the network's classes 0..{num_classes - 1}{hint}")
        return label

    def pair(self, i: int, num_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        image, label = self.image(i), self.label(i, num_classes)
        if image.shape[:2] != label.shape:
            raise InputError(f"{self.labels[i]}: label map is {label.shape[1]}x{label.shape[0]}, "
                             f"its image is {image.shape[1]}x{image.shape[0]}")
        return image, label

    def pairs(self, num_classes: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i in range(len(self)):
            yield self.pair(i, num_classes)

    def sequences(self) -> dict[str, int]:
        """Sequence name (:func:`sequence_of`) → number of frames, in name order."""
        counts: dict[str, int] = {}
        for image in self.images:
            counts[sequence_of(image)] = counts.get(sequence_of(image), 0) + 1
        return dict(sorted(counts.items()))

    def split(self, sequence: str, option: str = "--hold-out"
              ) -> tuple[LabeledFolder, LabeledFolder]:
        """``(the frames of every other sequence, the frames of sequence)``: a whole drive
        held out. An unknown sequence, or one that leaves nothing to train on, is an
        :class:`InputError` naming ``option`` and the sequences present."""
        present = self.sequences()
        if sequence not in present:
            raise InputError(f"{option}: no sequence {sequence!r} in {self.root}/images; "
                             f"present: {_listing(present)} (a frame's sequence is its name "
                             f"up to the first '_')")
        if len(present) == 1:
            raise InputError(f"{option}: {self.root} holds only sequence {sequence!r}; holding "
                             f"it out leaves nothing to train on")

        def part(held: bool) -> LabeledFolder:
            index = [i for i, p in enumerate(self.images) if (sequence_of(p) == sequence) == held]
            return LabeledFolder(self.root, tuple(self.images[i] for i in index),
                                 tuple(self.labels[i] for i in index), self.void)

        return part(False), part(True)

    def hold_out(self, rule: str, option: str = "--hold-out"
                 ) -> tuple[LabeledFolder, LabeledFolder]:
        """``(training part, held-out part)`` by ``rule``: ``every:N`` holds out every Nth
        frame in name order (:meth:`every`), anything else names a sequence
        (:meth:`split`)."""
        if rule.startswith("every:"):
            text = rule.split(":", 1)[1]
            if not text.isdigit() or not 2 <= int(text) <= len(self):
                raise InputError(f"{option} {rule}: every:N needs a whole N from 2 to the "
                                 f"{len(self)} frames of {self.root}")
            return self.every(int(text))
        return self.split(rule, option)

    def every(self, n: int) -> tuple[LabeledFolder, LabeledFolder]:
        """``(the other frames, every nth frame)`` in name order, the held-out ones at
        positions ``n // 2, n // 2 + n, …`` (spread over every sequence)."""
        held = [i % n == n // 2 for i in range(len(self))]

        def part(keep: bool) -> LabeledFolder:
            index = [i for i in range(len(self)) if held[i] == keep]
            return LabeledFolder(self.root, tuple(self.images[i] for i in index),
                                 tuple(self.labels[i] for i in index), self.void)

        return part(False), part(True)


def _listing(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} ({n} frames)" for name, n in counts.items())


def sequence_of(image: Path) -> str:
    """The sequence (drive) an image belongs to: its name up to the first ``_`` (CamVid's
    ``0016E5_07959.png`` → ``0016E5``), the whole stem when it has none."""
    return image.stem.split("_", 1)[0]


def open_labeled_folder(path: str | Path, void: int | None = None,
                        sparse: bool = False) -> LabeledFolder:
    """Check the layout of a labeled folder and pair its files. Every image needs a label
    unless ``sparse`` (a video sequence labeled every few frames); at least one must have
    one."""
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder" if not root.exists()
                         else f"{root}: not a folder")
    images_dir, labels_dir = root / "images", root / "labels"
    for d in (images_dir, labels_dir):
        if not d.is_dir():
            raise InputError(f"{root}: a labeled folder holds images/ and labels/ (PNG class "
                             f"indices with the images' names); {d.name}/ is missing")
    if void is not None and not 0 <= void <= 255:
        raise InputError(f"--void must be a label value 0..255, got {void}")
    images = list_images(images_dir, None)
    labels = {p.stem: p for p in labels_dir.iterdir() if p.suffix.lower() == ".png"}
    missing = [p.name for p in images if p.stem not in labels]
    if missing and (not sparse or len(missing) == len(images)):
        raise InputError(f"{labels_dir}: no label for {len(missing)} image(s), e.g. "
                         f"{missing[0]} (expected labels/{Path(missing[0]).stem}.png)")
    images.sort(key=lambda p: natural_key(p.name))
    return LabeledFolder(root, tuple(images), tuple(labels.get(p.stem) for p in images), void)
