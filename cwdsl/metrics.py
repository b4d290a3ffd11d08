"""Segmentation metrics from confusion matrices (paper §5): exact, vectorised, with an
ignore label."""
from __future__ import annotations

import numpy as np

IGNORE = 255


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
