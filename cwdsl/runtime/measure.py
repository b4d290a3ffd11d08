"""Data-driven clock atoms measured on the device: the one implementation the executor
runs and the cost model traces.

A label difference compares the argmax labels of a score map with a reference map: the
fraction of cells that changed, over the whole map or over the window of cells that see
the image (the atom's region). A pixel difference is the mean absolute difference of the
[0, 1] input with a reference frame. The reference is the map of the frame where the atom
last fired (``since=fired``, the authors' reference code) or of the previous frame.

The fraction of changed labels is exact: an integer count over the number of cells,
divided in Python (float64, correctly rounded), so a tie ``d == θ`` decides as the
authors' ``np.array(prev != curr).mean()`` (numpy's float64 mean of a boolean map) does.
The pixel difference stays a mean in the frame's dtype: the authors' code has no pixel
clock, and its one input difference (Table 1's data row) is a float32 mean too.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from cwdsl.ir.nodes import MeasureNode

Window = tuple[slice, slice]
"""Rows and columns of a score map (``StagedNetwork.head_window``)."""


@dataclass(frozen=True)
class AtomTest:
    """What one atom tests: ``value op theta`` against a reference kept ``since``; a label
    difference when ``labels`` (the value compares label maps), else a pixel difference."""

    theta: float
    op: str
    since: str
    labels: bool

    @classmethod
    def of(cls, node: MeasureNode) -> "AtomTest":
        return cls(node.expr.theta, node.expr.op, node.expr.since, node.head is not None)


def label_map(scores: Tensor, window: Window | None = None) -> Tensor:
    """The argmax labels, (N, H, W), of (N, classes, H, W) ``scores``: of every cell
    (``window`` None, region ``map``) or of the cells in ``window`` (region ``image``)."""
    if window is not None:
        scores = scores[:, :, window[0], window[1]]
    return scores.argmax(1)


def changed_fraction(current: Tensor, reference: Tensor) -> float:
    """The fraction of labels that differ, exactly: changed cells (an integer, the one
    host sync) over all cells, divided in float64 as numpy's mean of a boolean map is."""
    changed = int((current != reference).sum())
    return changed / current.numel()


class AtomState:
    """One atom's reference between frames, and its threshold test."""

    def __init__(self, test: AtomTest):
        self.test = test
        self.reference: Tensor | None = None

    def measure(self, current: Tensor) -> tuple[bool, float]:
        """Compare ``current`` (a label map, or the frame) with the reference: whether the
        atom fires, and the difference (1.0 on the first frame, which always fires)."""
        test = self.test
        if self.reference is None:  # frame 0: nothing to compare with, fire
            fires, value = True, 1.0
        else:
            if test.labels:
                value = changed_fraction(current, self.reference)
            else:  # the one host sync a data-driven decision needs
                value = float((current - self.reference).abs().mean())
            fires = value >= test.theta if test.op == ">=" else value > test.theta
        if test.since == "previous" or fires:
            self.reference = current
        return fires, value


def quiet_atom(labels: bool, reference: Tensor,
               window: Window | None = None) -> Callable[[Tensor], tuple[bool, float]]:
    """A measurement that keeps its reference (θ = 1 is never passed by a different map):
    what one costs on a frame where the clock stays off. For a label difference it takes
    the labels (:func:`label_map`, over ``window`` when given) of the scores it is given,
    as the executor does; ``reference`` is a label map of that region. For timing and
    tracing."""
    state = AtomState(AtomTest(1.0, ">=", "fired", labels))
    state.reference = reference
    if not labels:
        return state.measure
    return lambda scores: state.measure(label_map(scores, window))
