"""The procedural labeled-video generator (cwdsl.demo)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from cwdsl.demo import (
    CLASS_NAMES, MOTION_PRESETS, NUM_CLASSES, SHAPES, Motion, generate_clip, generate_dataset,
    iter_batches, random_texture,
)
from cwdsl.demo.render import OUTLINE_RGB, SceneObject, draw_object
from cwdsl.demo.shapes import shape_mask
from cwdsl.core.errors import InputError


@pytest.fixture(scope="module")
def clips():
    return [generate_clip(seed, 64) for seed in range(6)]


@pytest.fixture(scope="module")
def dataset():
    return generate_dataset(range(200), size=(96, 96))


def test_class_names():
    assert len(CLASS_NAMES) == NUM_CLASSES == 6
    assert CLASS_NAMES[0] == "background"
    assert CLASS_NAMES[1:] == SHAPES
    assert len(set(CLASS_NAMES)) == 6


def test_shapes_and_dtypes():
    clip = generate_clip(1, 10, (72, 100))
    assert clip.frames.shape == (10, 72, 100, 3) and clip.frames.dtype == np.uint8
    assert clip.labels.shape == (10, 72, 100) and clip.labels.dtype == np.uint8
    assert clip.camera.shape == (10, 2)
    assert len(clip) == 10 and clip.size == (72, 100) and clip.seed == 1
    assert len(clip.motion) == 10 and clip.motion[0] == "start"
    assert clip.labels.max() < NUM_CLASSES


def test_deterministic_in_seed():
    a, b, c = generate_clip(7, 24), generate_clip(7, 24), generate_clip(8, 24)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.labels, b.labels)
    assert a.cuts == b.cuts and a.motion == b.motion and np.array_equal(a.camera, b.camera)
    assert not np.array_equal(a.frames, c.frames)
    d1 = generate_dataset([3, 4], size=(64, 64))
    d2 = generate_dataset([3, 4], size=(64, 64))
    assert np.array_equal(d1.frames, d2.frames) and np.array_equal(d1.labels, d2.labels)


def test_all_classes_appear_with_sane_coverage(dataset):
    counts = np.bincount(dataset.labels.ravel(), minlength=NUM_CLASSES)
    fractions = counts / counts.sum()
    assert (counts > 0).all()
    assert 0.6 < fractions[0] < 0.95, fractions          # background dominates, but not all
    assert (fractions[1:] > 0.01).all(), fractions       # every object class is well represented
    per_frame_objects = (dataset.labels > 0).mean(axis=(1, 2))
    assert (per_frame_objects > 0).mean() > 0.9          # almost every frame shows an object


def test_all_classes_appear_in_clips(clips):
    seen = set()
    for clip in clips:
        seen |= set(np.unique(clip.labels).tolist())
    assert seen == set(range(NUM_CLASSES))


def test_motion_kinds_are_honest(clips):
    summaries = [clip.summary() for clip in clips]
    assert sum(s.still for s in summaries) > 0
    assert sum(s.pan for s in summaries) > 0
    assert sum(s.hold for s in summaries) > 0
    assert sum(len(s.cuts) for s in summaries) > 0
    for clip in clips:
        for t in range(1, len(clip)):
            kind = clip.motion[t]
            same = np.array_equal(clip.frames[t], clip.frames[t - 1])
            if kind == "still":
                assert same and np.array_equal(clip.labels[t], clip.labels[t - 1])
                assert (clip.camera[t] == clip.camera[t - 1]).all()
            elif kind == "pan":
                assert not same and (clip.camera[t] != clip.camera[t - 1]).any()
            elif kind == "hold":
                assert (clip.camera[t] == clip.camera[t - 1]).all()
            else:
                assert kind == "cut" and t in clip.cuts


def test_pan_is_an_exact_translation_of_the_background(clips):
    checked = 0
    for clip in clips:
        h, w = clip.size
        for t in range(1, len(clip)):
            if clip.motion[t] != "pan":
                continue
            dy, dx = (clip.camera[t] - clip.camera[t - 1]).tolist()
            # frame_t[y, x] == frame_{t-1}[y + dy, x + dx] wherever both show background
            ys = slice(max(0, -dy), min(h, h - dy))
            xs = slice(max(0, -dx), min(w, w - dx))
            ys0 = slice(ys.start + dy, ys.stop + dy)
            xs0 = slice(xs.start + dx, xs.stop + dx)
            bg = (clip.labels[t][ys, xs] == 0) & (clip.labels[t - 1][ys0, xs0] == 0)
            # object outlines are labelled background but move with their objects
            outline = (clip.frames[t][ys, xs] == OUTLINE_RGB).all(-1) | \
                (clip.frames[t - 1][ys0, xs0] == OUTLINE_RGB).all(-1)
            bg &= ~outline
            assert bg.mean() > 0.3
            assert np.array_equal(clip.frames[t][ys, xs][bg], clip.frames[t - 1][ys0, xs0][bg])
            checked += 1
    assert checked > 20


def test_segments_cover_the_clip(clips):
    for clip in clips:
        assert clip.segments[0].start == 0 and clip.segments[-1].stop == len(clip)
        for a, b in zip(clip.segments, clip.segments[1:]):
            assert a.stop == b.start
        for seg in clip.segments:
            speed = math.hypot(*seg.velocity)
            assert (speed > 0) == (seg.kind == "pan")


def test_a_cut_changes_the_scene(clips):
    cuts = [(clip, t) for clip in clips for t in clip.cuts]
    assert cuts
    for clip, t in cuts:
        changed = (clip.frames[t] != clip.frames[t - 1]).any(axis=-1).mean()
        assert changed > 0.8
        assert clip.motion[t] == "cut"


def test_presets():
    static = generate_clip(5, 20, motion="static")
    assert static.cuts == ()
    assert all(np.array_equal(f, static.frames[0]) for f in static.frames)
    translate = generate_clip(5, 40, motion="translate")
    assert translate.cuts == () and set(translate.motion[1:]) == {"pan"}
    for seg in translate.segments:
        assert min(abs(v) for v in seg.velocity) < 1e-9          # vertical or horizontal
    busy = generate_clip(5, 64, motion="busy")
    assert busy.summary().shots >= 2
    assert set(MOTION_PRESETS) >= {"default", "static", "translate", "busy"}


def test_sensor_noise_makes_still_frames_near_identical():
    clip = generate_clip(9, 40, motion="static", noise=3.0)
    diff = np.abs(clip.frames[1].astype(int) - clip.frames[0].astype(int))
    assert 0 < diff.mean() < 6
    assert np.array_equal(clip.labels[1], clip.labels[0])


def test_objects_occlude_and_labels_match_drawn_pixels():
    rng = np.random.default_rng(0)
    size = (64, 64)
    first = SceneObject(2, 20.0, random_texture(rng), (0, 0), (0, 0), 0.3, 0)
    second = SceneObject(4, 18.0, random_texture(rng), (0, 0), (0, 0), 1.1, 0)

    def draw(objs, fill):
        frame = np.full(size + (3,), fill, dtype=np.uint8)
        labels = np.zeros(size, dtype=np.uint8)
        for obj, (cy, cx) in objs:
            draw_object(frame, labels, obj, cy, cx, obj.angle0)
        return frame, labels

    scene = [(first, (30.0, 28.0)), (second, (36.5, 40.2))]
    frame0, labels = draw(scene, 0)
    frame255, labels255 = draw(scene, 255)
    assert np.array_equal(labels, labels255)
    drawn = (frame0 != 0).any(-1) | (frame255 != 255).any(-1)
    outline = (frame0 == OUTLINE_RGB).all(-1) & (frame255 == OUTLINE_RGB).all(-1) & (labels == 0)
    assert np.array_equal(drawn, (labels > 0) | outline)     # label == drawn fill, exactly
    assert outline.any()
    near = np.zeros_like(outline)                             # the outline is a thin ring
    inside = labels > 0
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            near |= np.roll(np.roll(inside, dy, 0), dx, 1)
    assert not (outline & ~near).any()
    assert (labels == 2).any() and (labels == 4).any()
    alone, alone_labels = draw([scene[1]], 0)
    top = alone_labels == 4
    assert np.array_equal(labels[top], alone_labels[top])    # the later object is on top
    assert np.array_equal(frame0[top], alone[top])


@pytest.mark.parametrize("shape", SHAPES)
def test_shapes_fit_the_unit_disc_and_are_distinct(shape):
    g = np.linspace(-1.2, 1.2, 241)
    u, v = np.meshgrid(g, g)
    mask = shape_mask(shape, u, v)
    assert mask.any()
    assert (u[mask] ** 2 + v[mask] ** 2).max() <= 1.05 ** 2
    for other in SHAPES:
        if other != shape:
            assert (mask != shape_mask(other, u, v)).mean() > 0.05


def _box(a: np.ndarray, r: int = 2) -> np.ndarray:
    """Mean over (2r+1)^2 windows of a (N, H, W, C) array (valid part padded with zeros)."""
    k = 2 * r + 1
    c = np.pad(a, ((0, 0), (r + 1, r), (r + 1, r), (0, 0))).cumsum(1).cumsum(2)
    return (c[:, k:, k:] - c[:, :-k, k:] - c[:, k:, :-k] + c[:, :-k, :-k]) / (k * k)


def test_colour_and_texture_do_not_carry_the_class(dataset):
    """Local colour/texture statistics of object pixels are the same for every class."""
    frames = dataset.frames.astype(np.float64)
    labels = dataset.labels
    mean = _box(frames)
    std = np.sqrt(np.maximum(_box(frames ** 2) - mean ** 2, 0.0))
    features = np.concatenate([mean, std], axis=-1)        # 5x5 colour mean and contrast
    interior = np.ones(labels.shape, dtype=bool)           # the 5x5 window is one class
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            interior &= np.roll(labels, (dy, dx), axis=(1, 2)) == labels
    rng = np.random.default_rng(0)
    xs, ys, frame_ids = [], [], []
    for c in range(1, NUM_CLASSES):
        where = np.argwhere(interior & (labels == c))
        pick = where[rng.choice(len(where), min(len(where), 3000), replace=False)]
        xs.append(features[pick[:, 0], pick[:, 1], pick[:, 2]])
        ys.append(np.full(len(pick), c))
        frame_ids.append(pick[:, 0])
    x, y, ids = np.concatenate(xs), np.concatenate(ys), np.concatenate(frame_ids)

    class_means = np.stack([x[y == c].mean(0) for c in range(1, NUM_CLASSES)])
    assert np.ptp(class_means[:, :3], axis=0).max() < 25      # colour: within 25 of 255 levels
    assert np.ptp(class_means[:, 3:], axis=0).max() < 14      # local contrast (0..~90)

    # a nearest-centroid classifier on these shallow features is at chance (1/5)
    train, test = ids % 2 == 0, ids % 2 == 1
    centroids = np.stack([x[train & (y == c)].mean(0) for c in range(1, NUM_CLASSES)])
    scale = x[train].std(0)
    d = (((x[test][:, None, :] - centroids[None]) / scale) ** 2).sum(-1)
    accuracy = (d.argmin(1) + 1 == y[test]).mean()
    assert accuracy < 0.3, accuracy


def test_iter_batches_is_deterministic_and_varied():
    a = iter_batches(3, 4, (48, 48))
    b = iter_batches(3, 4, (48, 48))
    first, second = next(a), next(a)
    assert first.frames.shape == (4, 48, 48, 3) and first.labels.shape == (4, 48, 48)
    assert np.array_equal(first.frames, next(b).frames)
    assert not np.array_equal(first.frames, second.frames)
    assert not np.array_equal(first.frames[0], first.frames[1])


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(seed=-1), "seed"),
    (dict(seed=1.5), "seed"),
    (dict(seed=0, frames=0), "frames"),
    (dict(seed=0, size=(8, 64)), "size"),
    (dict(seed=0, size=64), "size"),
    (dict(seed=0, motion="wobbly"), "motion"),
    (dict(seed=0, objects=(4, 2)), "objects"),
    (dict(seed=0, object_size=(0.2, 1.5)), "object_size"),
    (dict(seed=0, noise=-1.0), "noise"),
])
def test_bad_parameters_raise_input_error(kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        generate_clip(**kwargs)


def test_bad_motion_raises_input_error():
    with pytest.raises(InputError, match="still/pan/hold"):
        Motion(still=0, pan=0, hold=0)
    with pytest.raises(InputError, match="cut_rate"):
        Motion(cut_rate=2.0)
    with pytest.raises(InputError, match="segment_frames"):
        Motion(segment_frames=(5, 2))
