"""Training augmentation: seeded, label-preserving, void where a crop leaves its image."""
import numpy as np
import pytest

from cwdsl.core.errors import InputError
from cwdsl.core.metrics import IGNORE
from cwdsl.train.augment import (Augment, augment_sample, augmented_crops, jitter_colour,
                                    place_crop, rescale)


def _pair(h=30, w=40, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    label = (np.arange(w)[None, :] * 3 // w + np.zeros((h, 1), int)).astype(np.uint8)  # 0|1|2
    return image, label


def test_the_stream_is_seeded():
    pairs = [_pair(seed=i) for i in range(3)]
    a = next(augmented_crops(pairs, 4, (24, 32), seed=5))
    b = next(augmented_crops(pairs, 4, (24, 32), seed=5))
    c = next(augmented_crops(pairs, 4, (24, 32), seed=6))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == (4, 24, 32, 3) and a[1].shape == (4, 24, 32)


def test_off_gives_plain_windows_of_the_image():
    image, label = _pair()
    rng = np.random.default_rng(0)
    for _ in range(10):
        frame, labels = augment_sample(image, label, (20, 25), Augment.off(), rng)
        hits = [(y, x) for y in range(11) for x in range(16)
                if np.array_equal(image[y:y + 20, x:x + 25], frame)]
        assert len(hits) == 1
        y, x = hits[0]
        assert np.array_equal(label[y:y + 20, x:x + 25], labels)


def test_flips_keep_image_and_label_together():
    image, label = _pair(20, 30)
    rng = np.random.default_rng(1)
    flip_only = Augment(flip=True, scale=(1.0, 1.0), jitter=0.0)
    seen = set()
    for _ in range(20):
        frame, labels = augment_sample(image, label, (20, 30), flip_only, rng)
        flipped = np.array_equal(frame, image[:, ::-1])
        assert flipped or np.array_equal(frame, image)
        assert np.array_equal(labels, label[:, ::-1] if flipped else label)
        seen.add(flipped)
    assert seen == {True, False}


def test_scaling_keeps_label_values_and_pads_with_void():
    image, label = _pair(40, 60)
    small_img, small_lab = rescale(image, label, 0.5)
    assert small_img.shape == (20, 30, 3) and small_lab.shape == (20, 30)
    assert set(np.unique(small_lab)) <= {0, 1, 2}   # nearest: no invented classes
    half = Augment(flip=False, scale=(0.5, 0.5), jitter=0.0)
    frame, labels = augment_sample(image, label, (40, 60), half, np.random.default_rng(0))
    assert (labels != IGNORE).sum() == 20 * 30       # the whole scaled image, once
    assert (frame[labels == IGNORE] == 0).all()       # black outside it
    big_img, big_lab = rescale(image, label, 1.5)
    assert big_lab.shape == (60, 90) and set(np.unique(big_lab)) == {0, 1, 2}


def test_place_crop_around_a_smaller_image():
    image, label = _pair(10, 10)
    frame, labels = place_crop(image, label, (16, 20), np.random.default_rng(3))
    inside = np.argwhere(labels != IGNORE)
    (y0, x0), (y1, x1) = inside.min(0), inside.max(0)
    assert (y1 - y0 + 1, x1 - x0 + 1) == (10, 10)
    assert np.array_equal(frame[y0:y1 + 1, x0:x1 + 1], image)


def test_colour_jitter():
    image, _ = _pair()
    assert np.array_equal(jitter_colour(image, 0.0, np.random.default_rng(0)), image)
    out = jitter_colour(image, 0.4, np.random.default_rng(0))
    assert out.dtype == np.uint8 and out.shape == image.shape and not np.array_equal(out, image)
    assert np.array_equal(out, jitter_colour(image, 0.4, np.random.default_rng(0)))
    grey = np.full((4, 4, 3), 100, np.uint8)   # a flat grey: only brightness can move it
    shifted = jitter_colour(grey, 0.4, np.random.default_rng(2))
    assert (shifted == shifted[0, 0, 0]).all() and 60 <= shifted[0, 0, 0] <= 140


@pytest.mark.parametrize("kwargs, message", [
    ({"scale": (1.5, 0.75)}, "--scale must be LOW:HIGH"),
    ({"scale": (0.0, 1.0)}, "--scale must be LOW:HIGH"),
    ({"jitter": 1.0}, r"--jitter must be in \[0, 1\)"),
    ({"jitter": -0.1}, r"--jitter must be in \[0, 1\)"),
])
def test_bad_settings_are_user_errors(kwargs, message):
    with pytest.raises(InputError, match=message):
        Augment(**kwargs)
    assert Augment().active and not Augment.off().active
