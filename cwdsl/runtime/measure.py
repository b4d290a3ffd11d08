"""Data-driven clock atoms measured on the device: the one implementation the executor
runs and the cost model traces.

A label difference compares the argmax labels of a score map with a reference map (the
fraction that changed); a pixel difference, the mean absolute difference of the [0, 1]
input with a reference frame. The reference is the map of the frame where the atom last
fired (``since=fired``, the authors' reference code) or of the previous frame.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from cwdsl.ir.nodes import MeasureNode


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
                diff = (current != self.reference).float().mean()
            else:
                diff = (current - self.reference).abs().mean()
            value = float(diff)  # the one host sync a data-driven decision needs
            fires = value >= test.theta if test.op == ">=" else value > test.theta
        if test.since == "previous" or fires:
            self.reference = current
        return fires, value


def quiet_atom(labels: bool, reference: Tensor) -> Callable[[Tensor], tuple[bool, float]]:
    """A measurement that keeps its reference (θ = 1 is never passed by a different map):
    what one costs on a frame where the clock stays off. For a label difference it takes
    the argmax of the scores it is given, as the executor does; for timing and tracing."""
    state = AtomState(AtomTest(1.0, ">=", "fired", labels))
    state.reference = reference
    if not labels:
        return state.measure
    return lambda scores: state.measure(scores.argmax(1))
