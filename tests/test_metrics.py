"""Metrics against hand computations."""
import numpy as np
import pytest

from cwdsl.core.metrics import (IGNORE, band_confusion, boundary_band, confusion, dilate,
                                frequency_weighted_iu, label_change, mean_iu, pixel_accuracy)


def test_confusion_mean_iu_fwiu_by_hand():
    truth = np.array([[0, 0, 1], [1, 1, IGNORE]])
    pred = np.array([[0, 1, 1], [1, 0, 2]])
    n = confusion(pred, truth, 3)
    assert n.tolist() == [[1, 1, 0], [1, 2, 0], [0, 0, 0]]  # the ignored pixel is skipped
    # IU_0 = 1 / (2 + 2 - 1) = 1/3; IU_1 = 2 / (3 + 3 - 2) = 1/2; class 2 absent → not averaged
    assert mean_iu(n) == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert frequency_weighted_iu(n) == pytest.approx((2 * 1 / 3 + 3 * 1 / 2) / 5)
    assert pixel_accuracy(n) == pytest.approx(3 / 5)


def test_predicted_but_absent_class_counts_as_zero():
    n = confusion(np.array([0, 2]), np.array([0, 0]), 3)
    # IU_0 = 1/2; class 2 predicted, never true: IU_2 = 0 enters the mean
    assert mean_iu(n) == pytest.approx(0.25)


def test_dilate_is_a_euclidean_disk():
    mask = np.zeros((11, 11), bool)
    mask[5, 5] = True
    out = dilate(mask, 3)
    yy, xx = np.mgrid[:11, :11]
    assert (out == ((yy - 5) ** 2 + (xx - 5) ** 2 <= 9)).all()
    assert out.sum() == 29  # lattice points in a radius-3 disk
    # near the border the disk is clipped, not wrapped
    corner = np.zeros((5, 5), bool)
    corner[0, 0] = True
    assert dilate(corner, 2).sum() == 6  # (0,0),(0,1),(0,2),(1,0),(1,1),(2,0)


def test_boundary_band_width():
    truth = np.zeros((40, 60), np.uint8)
    truth[:, 30:] = 1  # a vertical edge between columns 29 and 30
    band = boundary_band(truth, 5)
    # dilation by disk(5) reaches column 25, erosion keeps columns 35.. : a 10-px band
    assert band.any(axis=0).tolist() == [25 <= c <= 34 for c in range(60)]
    # every row alike: the image's top and bottom edges do not erode the foreground
    assert band.all(axis=0)[25:35].all()


def test_band_confusion_scores_only_the_band():
    truth = np.zeros((30, 30), np.uint8)
    truth[:, 15:] = 1
    pred = truth.copy()
    pred[:, :3] = 1  # errors far from the boundary (columns 0..2)
    full = confusion(pred, truth, 2)
    band = band_confusion(pred, truth, 2, radius=5)
    assert mean_iu(full) < 1 and mean_iu(band) == 1
    assert band.sum() == 30 * 10  # columns 10..19


def test_label_change():
    a = np.array([[0, 1], [2, 3]])
    b = np.array([[0, 1], [3, 3]])
    assert label_change(a, a) == 0 and label_change(a, b) == 0.25
    with pytest.raises(ValueError):
        label_change(a, b[:1])
