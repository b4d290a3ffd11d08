"""Small labeled folders (images/ + labels/) written for tests."""
from pathlib import Path

import numpy as np
from PIL import Image


def make_folder(root: Path, count: int, size=(40, 120), classes=3, void=None, skip=()) -> Path:
    """`count` random images with random labels below `classes` (row 0 set to `void`);
    images whose index is in `skip` get no label."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(
            root / "images" / f"f{i}.png")
        if i in skip:
            continue
        label = rng.integers(0, classes, size, dtype=np.uint8)
        if void is not None:
            label[0, :] = void
        Image.fromarray(label, mode="L").save(root / "labels" / f"f{i}.png")
    return root
