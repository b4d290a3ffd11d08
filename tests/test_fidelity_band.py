"""The boundary band of the "-bdry" scores against a transcription of the authors' code
(shelhamer/clockwork-fcn, ``datasets/pascal_voc.py: make_boundaries`` with
``thickness = 5`` as ``pascal-translate-exp`` scores), written here in their style with
plain loops instead of skimage: ``skm.disk``, and skimage's grey ``dilation``/``erosion``,
which filter with ``scipy.ndimage`` in its default ``mode='reflect'`` (numpy's
``'symmetric'`` padding)."""
from pathlib import Path

import numpy as np
import pytest

from cwdsl.core.metrics import (IGNORE, band_confusion, boundary_band, confusion,
                                has_background, mask_band)
from cwdsl.core.netspec import get_network


def disk(radius):
    # skimage.morphology.disk
    L = np.arange(-radius, radius + 1)
    X, Y = np.meshgrid(L, L)
    return np.array((X ** 2 + Y ** 2) <= radius ** 2, dtype=np.uint8)


def grey_filter(image, selem, reduce):
    # ndi.grey_dilation / grey_erosion with a flat footprint, mode='reflect'
    r = selem.shape[0] // 2
    padded = np.pad(image, r, mode="symmetric")
    out = np.empty_like(image)
    for y in range(image.shape[0]):
        for x in range(image.shape[1]):
            window = padded[y:y + 2 * r + 1, x:x + 2 * r + 1]
            out[y, x] = reduce(window[selem.astype(bool)])
    return out


def dilation(image, selem):
    return grey_filter(image, selem, np.max)


def erosion(image, selem):
    return grey_filter(image, selem, np.min)


def make_boundaries(label, thickness=None):
    # the authors' make_boundaries, label of shape (1, H, W)
    void = 255
    mask = np.logical_and(label > 0, label != void)[0]
    selem = disk(thickness)
    return np.logical_xor(dilation(mask, selem), erosion(mask, selem))


def per_class_boundaries(label, n_cl, thickness=None):
    # the same construction with each class in turn as the foreground, united
    selem = disk(thickness)
    band = np.zeros(label.shape[1:], bool)
    for c in range(n_cl):
        mask = (label == c)[0]
        band |= np.logical_xor(dilation(mask, selem), erosion(mask, selem))
    return band


def label_maps():
    """Small fixed maps: an object touching two image edges, void beside foreground and
    background, a one-pixel line, a blocky random map with void."""
    a = np.zeros((24, 30), np.uint8)
    a[:10, 18:] = 3                      # touches the top and right edges
    a[15:20, 4:9] = 1
    b = np.zeros((20, 20), np.uint8)
    b[5:15, 5:15] = 2
    b[5:15, 12:16] = IGNORE              # void cutting into the object and the background
    c = np.zeros((17, 23), np.uint8)
    c[8, :] = 4                          # a line one pixel thick
    rng = np.random.default_rng(3)
    d = np.kron(rng.integers(0, 4, (5, 6)), np.ones((4, 5), np.int64)).astype(np.uint8)
    d[rng.random(d.shape) < 0.05] = IGNORE
    return [a, b, c, d]


def test_disk_5_is_the_authors_footprint():
    footprint = disk(5)
    assert footprint.shape == (11, 11) and footprint.sum() == 81
    point = np.zeros((11, 11), bool)
    point[5, 5] = True
    # the band of one pixel: its disk (dilation) minus nothing (erosion of a point is empty)
    assert (mask_band(point, 5) == footprint.astype(bool)).all()


@pytest.mark.parametrize("index", range(4))
def test_band_with_a_background_class_is_the_authors(index):
    label = label_maps()[index]
    expected = make_boundaries(label[np.newaxis], thickness=5)
    assert expected.any()
    assert (boundary_band(label, 5, background=True) == expected).all()


@pytest.mark.parametrize("index", range(4))
def test_band_without_a_background_class_unites_every_class(index):
    label = label_maps()[index]
    expected = per_class_boundaries(label[np.newaxis], 5, thickness=5)
    assert (boundary_band(label, 5, background=False) == expected).all()


def test_the_two_bands_differ_where_class_0_is_not_background():
    # class 0 beside class 1 beside class 2: with a background, 0|1 is a foreground edge
    # and 1|2 is inside the foreground; without one, both are edges
    label = np.zeros((12, 60), np.uint8)
    label[:, 20:40] = 1
    label[:, 40:] = 2
    fg = boundary_band(label, 5, background=True).any(axis=0)
    every = boundary_band(label, 5, background=False).any(axis=0)
    assert np.flatnonzero(fg).tolist() == list(range(15, 25))
    assert np.flatnonzero(every).tolist() == list(range(15, 25)) + list(range(35, 45))


def test_band_confusion_counts_the_band_and_skips_void():
    label = label_maps()[1]
    pred = np.where(label == IGNORE, 0, label)
    band = make_boundaries(label[np.newaxis], thickness=5)
    keep = band & (label != IGNORE)
    n = band_confusion(pred, label, 3, 5, background=True)
    assert n.sum() == keep.sum()
    assert (n == confusion(pred[keep], label[keep], 3)).all()


def test_which_networks_have_a_background_class():
    assert has_background(get_network("fcn8s").class_names)      # PASCAL VOC
    assert has_background(get_network("tiny").class_names)       # the demo's scenes
    assert not has_background(get_network("fcn8s_camvid").class_names)  # 0 is Sky
    assert not has_background(())                                 # names unknown


def test_eval_scores_the_authors_band_on_frames_2_to_5():
    """End to end: eval's -bdry column equals the confusion over the authors' band of
    the frames 2-5 of the translated crops, with the network run directly."""
    import torch

    from cwdsl import load
    from cwdsl.core.metrics import mean_iu
    from cwdsl.demo.clip import DEMO
    from cwdsl.evaluate.evaluation import evaluate_schedules
    from cwdsl.evaluate.protocol import load_eval_data
    from cwdsl.nets import build_network
    from cwdsl.nets.bundled import bundled_weights
    from cwdsl.nets.preprocess import frame_tensor, normalize
    from cwdsl.nets.weights import load_weights

    weights = bundled_weights(DEMO.network)
    data = load_eval_data("shift16", 6, scenes=1)
    oracle = load(Path(__file__).resolve().parents[1] / "schedules" / "oracle.cw", "tiny")
    row = evaluate_schedules(data, str(weights), [oracle], progress=False)[0]
    net = build_network("tiny")
    load_weights(net, weights)
    net.eval()
    n = np.zeros((6, 6), np.int64)
    clip = data.clips[0]
    with torch.inference_mode():
        for t in range(2, 6):
            rgb, label = clip.frames[t], clip.labels[t]
            out = net(normalize(frame_tensor(rgb), net.spec.norm))[0].argmax(0).numpy()
            bdry = make_boundaries(label[np.newaxis], thickness=5)
            keep = bdry & (label != IGNORE)
            n += confusion(out[keep], label[keep], 6)
    assert row.scored_frames == 4
    assert row.mean_iu_bdry == pytest.approx(100 * mean_iu(n), abs=1e-9)
