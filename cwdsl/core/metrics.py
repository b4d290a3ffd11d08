"""Segmentation metrics from confusion matrices (paper §5): exact, vectorised, with an
ignore label."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


IGNORE = 255  # the one ignore label: not scored, not trained on, drawn black


def confusion(pred: np.ndarray, truth: np.ndarray, num_classes: int,
              ignore: int = IGNORE) -> np.ndarray:
    """``n[i, j]``: pixels of true class i predicted as j; ``ignore`` pixels are skipped."""
    pred = np.asarray(pred).ravel().astype(np.int64)
    truth = np.asarray(truth).ravel().astype(np.int64)
    if pred.shape != truth.shape:
        raise ValueError(f"prediction has {pred.size} pixels, ground truth {truth.size}")
    keep = truth != ignore
    pred, truth = pred[keep], truth[keep]
    if truth.size and (truth.max() >= num_classes or truth.min() < 0):
        raise ValueError(f"ground truth has class {truth.max()}, outside 0..{num_classes - 1}")
    if pred.size and (pred.max() >= num_classes or pred.min() < 0):
        raise ValueError(f"prediction has class {pred.max()}, outside 0..{num_classes - 1}")
    return np.bincount(truth * num_classes + pred, minlength=num_classes ** 2) \
        .reshape(num_classes, num_classes)


def class_iu(n: np.ndarray) -> np.ndarray:
    """Per class n_ii / (t_i + Σ_j n_ji − n_ii) of a confusion matrix (nan: absent)."""
    n = n.astype(np.float64)
    t = n.sum(1)
    union = t + n.sum(0) - np.diag(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.diag(n) / union  # nan for classes absent from truth and prediction


def mean_iu(n: np.ndarray) -> float:
    """(1/n_cl) Σ_i n_ii / (t_i + Σ_j n_ji − n_ii), over classes present in truth or prediction."""
    iu = class_iu(n)
    return float(np.nanmean(iu)) if np.isfinite(iu).any() else float("nan")


def frequency_weighted_iu(n: np.ndarray) -> float:
    """(Σ_k t_k)^-1 Σ_i t_i n_ii / (t_i + Σ_j n_ji − n_ii)."""
    t = n.sum(1).astype(np.float64)
    iu = np.nan_to_num(class_iu(n))
    return float((t * iu).sum() / t.sum()) if t.sum() else float("nan")


def pixel_accuracy(n: np.ndarray) -> float:
    total = n.sum()
    return float(np.trace(n) / total) if total else float("nan")


BAND_RADIUS = 5
"""px: the radius of the disk that makes the boundary band (the authors' ``disk(5)``, the
lattice points with dy² + dx² <= 25: an 11x11 footprint, so a band about 10 px wide,
the paper's "10-pixel band")."""


def has_background(class_names: Sequence[str]) -> bool:
    """Whether a network's class 0 is a background class (``class_names[0] ==
    "background"``, as PASCAL VOC's and the demo's): the one place that decides which
    boundary band (:func:`boundary_band`) its ground truth gets."""
    return bool(class_names) and class_names[0] == "background"


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within Euclidean distance ``radius`` of a pixel of ``mask`` (a flat disk
    dilation; only pixels inside the image count, so nothing grows in from outside). Done
    as one row dilation per disk row."""
    mask = np.asarray(mask, dtype=bool)
    if radius <= 0 or not mask.any():
        return mask.copy()
    h, w = mask.shape
    padded = np.pad(mask, radius)
    # prefix sums along rows: a row dilation by half-width k is a window sum > 0
    prefix = np.zeros((h + 2 * radius, w + 2 * radius + 1), np.int32)
    np.cumsum(padded, axis=1, out=prefix[:, 1:])
    out = np.zeros((h, w), dtype=bool)
    cols = np.arange(w) + radius
    for dy in range(-radius, radius + 1):
        k = int(np.floor(np.sqrt(radius * radius - dy * dy)))
        rows = prefix[radius + dy: radius + dy + h]
        out |= (rows[:, cols + k + 1] - rows[:, cols - k]) > 0
    return out


def mask_band(mask: np.ndarray, radius: int = BAND_RADIUS) -> np.ndarray:
    """``dilation(mask, disk) XOR erosion(mask, disk)`` with grey-level morphology whose
    neighbours outside the image are ignored (skimage's ``dilation``/``erosion``, which
    reflect the image at its edge, give the same): the pixels whose disk, clipped to the
    image, holds both a pixel of ``mask`` and one outside it. A mask touching the image
    edge is not eroded from outside."""
    mask = np.asarray(mask, dtype=bool)
    # erosion ⊆ mask ⊆ dilation, so the XOR is dilation(mask) AND NOT erosion(mask), and
    # NOT erosion(mask) is the dilation of the complement
    return dilate(mask, radius) & dilate(~mask, radius)


def boundary_band(truth: np.ndarray, radius: int = BAND_RADIUS, background: bool = True,
                  ignore: int = IGNORE) -> np.ndarray:
    """The ground-truth boundary band that the paper's "-bdry" scores (Tables 3, 5) count.

    With a ``background`` class 0 (PASCAL VOC; see :func:`has_background`) it is the
    authors' construction exactly: the foreground ``(truth > 0) & (truth != ignore)``,
    band = :func:`mask_band` of it with a disk of ``radius`` — foreground/background and
    foreground/void edges count, background/void edges do not.

    Without one (CamVid: class 0 is Sky) no class is "the background", so every class is
    treated as the authors treat the foreground: the union over classes c of the band of
    ``truth == c``. That is: the pixels whose disk (clipped to the image) holds two
    different label values, ``ignore`` counting as a value — edges between any two
    classes, and between a class and void."""
    truth = np.asarray(truth)
    if background:
        return mask_band((truth > 0) & (truth != ignore), radius)
    # the union of the per-class bands = disks holding >= 2 distinct values (void included:
    # one value, so any disk with two values holds a class c and something else than c)
    present = np.zeros(truth.shape, np.int16)
    for value in np.unique(truth):
        present += dilate(truth == value, radius)
    return present >= 2


def band_confusion(pred: np.ndarray, truth: np.ndarray, num_classes: int,
                   radius: int = BAND_RADIUS, background: bool = True,
                   ignore: int = IGNORE) -> np.ndarray:
    """:func:`confusion` restricted to :func:`boundary_band` (its ``ignore`` pixels are
    in the band but, as everywhere, not scored)."""
    truth = np.asarray(truth)
    band = boundary_band(truth, radius, background, ignore)
    return confusion(np.asarray(pred)[band], truth[band], num_classes, ignore)


def label_change(previous: np.ndarray, current: np.ndarray) -> float:
    """The temporal difference of two label maps: the fraction of pixels whose argmax
    label changed (paper §3, Table 1)."""
    previous, current = np.asarray(previous), np.asarray(current)
    if previous.shape != current.shape:
        raise ValueError(f"label maps of shapes {previous.shape} and {current.shape}")
    return float(np.mean(previous != current)) if previous.size else 0.0
