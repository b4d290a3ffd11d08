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

from cwdsl.core.clockmodel import ClockModel
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
                value = pixel_difference(current, self.reference)
            fires = value >= test.theta if test.op == ">=" else value > test.theta
        if test.since == "previous" or fires:
            self.reference = current
        return fires, value


def pixel_difference(current: Tensor, reference: Tensor) -> float:
    """Mean absolute difference of two [0, 1] frames (one host sync)."""
    return float((current - reference).abs().mean())


@dataclass
class SignalState:
    """What a learned clock keeps between frames: the gating head's labels and the frame's
    pixels where it last fired and on the previous frame, and the frames since it fired."""

    fired_labels: Tensor | None = None
    fired_pixels: Tensor | None = None
    previous_labels: Tensor | None = None
    previous_pixels: Tensor | None = None
    since_fired: int = 0


def clock_signals(labels: Tensor, pixels: Tensor, state: SignalState,
                  wanted: tuple[str, ...]) -> dict[str, float]:
    """The signals (``core.clockmodel.SIGNALS``) named in ``wanted`` for a frame with head
    ``labels`` and ``pixels``, against ``state`` (not updated here). The one definition
    ``cwdsl train-clock`` and the executor share."""
    out: dict[str, float] = {}
    for name in wanted:
        if name == "labeldiff_fired":
            out[name] = changed_fraction(labels, state.fired_labels)
        elif name == "labeldiff_previous":
            out[name] = changed_fraction(labels, state.previous_labels)
        elif name == "pixeldiff_fired":
            out[name] = pixel_difference(pixels, state.fired_pixels)
        elif name == "pixeldiff_previous":
            out[name] = pixel_difference(pixels, state.previous_pixels)
        elif name == "frames_since_fired":
            out[name] = float(state.since_fired + 1)
        else:
            raise ValueError(f"unknown clock signal {name!r}")
    return out


class PredictedState:
    """A learned clock atom (``predicted(…)``): its model, its references, its test."""

    def __init__(self, model: ClockModel, theta: float, op: str):
        self.model, self.theta, self.op = model, theta, op
        self.state = SignalState()

    def measure(self, labels: Tensor, pixels: Tensor) -> tuple[bool, float]:
        """Whether the atom fires on a frame with the gating head's ``labels`` and the
        frame's ``pixels``, and the predicted change (1.0 on the first frame, which fires)."""
        s = self.state
        if s.fired_labels is None:
            fires, value = True, 1.0
        else:
            value = self.model.predict(clock_signals(labels, pixels, s, self.model.signals))
            fires = value >= self.theta if self.op == ">=" else value > self.theta
        if fires:
            s.fired_labels, s.fired_pixels, s.since_fired = labels, pixels, 0
        else:
            s.since_fired += 1
        s.previous_labels, s.previous_pixels = labels, pixels
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
