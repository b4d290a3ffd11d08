"""Segmentation metrics from confusion matrices (paper §5): exact, vectorised, with an
ignore label."""
from __future__ import annotations

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


def _iu(n: np.ndarray) -> np.ndarray:
    n = n.astype(np.float64)
    t = n.sum(1)
    union = t + n.sum(0) - np.diag(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.diag(n) / union  # nan for classes absent from truth and prediction


def mean_iu(n: np.ndarray) -> float:
    """(1/n_cl) Σ_i n_ii / (t_i + Σ_j n_ji − n_ii), over classes present in truth or prediction."""
    iu = _iu(n)
    return float(np.nanmean(iu)) if np.isfinite(iu).any() else float("nan")


def frequency_weighted_iu(n: np.ndarray) -> float:
    """(Σ_k t_k)^-1 Σ_i t_i n_ii / (t_i + Σ_j n_ji − n_ii)."""
    t = n.sum(1).astype(np.float64)
    iu = np.nan_to_num(_iu(n))
    return float((t * iu).sum() / t.sum()) if t.sum() else float("nan")


def pixel_accuracy(n: np.ndarray) -> float:
    total = n.sum()
    return float(np.trace(n) / total) if total else float("nan")


def boundaries(truth: np.ndarray, ignore: int = IGNORE) -> np.ndarray:
    """Pixels whose label differs from a 4-neighbour's (both sides of an edge are marked;
    edges with ``ignore`` pixels count, as in the authors' boundary band)."""
    truth = np.asarray(truth)
    edge = np.zeros(truth.shape, dtype=bool)
    vertical = truth[1:, :] != truth[:-1, :]
    horizontal = truth[:, 1:] != truth[:, :-1]
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    return edge


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within Euclidean distance ``radius`` of a pixel of ``mask`` (a disk dilation,
    done as one row dilation per disk row)."""
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


def boundary_band(truth: np.ndarray, width: int = 10, ignore: int = IGNORE) -> np.ndarray:
    """The ``width``-pixel band around ground-truth boundaries (paper Tables 3 and 5's
    "-bdry" metrics are computed on these pixels only)."""
    return dilate(boundaries(truth, ignore), width)


def band_confusion(pred: np.ndarray, truth: np.ndarray, num_classes: int, width: int = 10,
                   ignore: int = IGNORE) -> np.ndarray:
    """:func:`confusion` restricted to :func:`boundary_band`."""
    truth = np.asarray(truth)
    band = boundary_band(truth, width, ignore)
    return confusion(np.asarray(pred)[band], truth[band], num_classes, ignore)


def label_change(previous: np.ndarray, current: np.ndarray) -> float:
    """The temporal difference of two label maps: the fraction of pixels whose argmax
    label changed (paper §3, Table 1)."""
    previous, current = np.asarray(previous), np.asarray(current)
    if previous.shape != current.shape:
        raise ValueError(f"label maps of shapes {previous.shape} and {current.shape}")
    return float(np.mean(previous != current)) if previous.size else 0.0
