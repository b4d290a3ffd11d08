"""What the executor hands out: a frame's :class:`FrameResult`, and the jobs of a frame's
walk (:data:`Job`, :data:`JobResult`, :class:`FuseInput`) that
:class:`~cwdsl.runtime.executor.Executor` computes itself or a
:class:`~cwdsl.runtime.multistream.MultiStreamExecutor` batches across streams."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Union

from torch import Tensor

from cwdsl.ir.deadline import Decision
from cwdsl.ir.plan import Compute, Fuse
from cwdsl.nets.staged import Features


@dataclass(frozen=True)
class FuseInput:
    """What a frame's ``Fuse`` job fuses: head name → output, at the frame's input size."""

    heads: Mapping[str, Tensor]
    input_hw: tuple[int, int]


Job = tuple[Union[Compute, Fuse], Union[Tensor, Features, FuseInput]]
"""Work of a frame, from :meth:`Executor.walk`: a stage to compute (its ``Compute`` step
and its input: the frame, or the previous stage's :class:`Features`), or the frame's fuse
(the ``Fuse`` step and its :class:`FuseInput`, always a job of its own, the walk's last)."""
JobResult = Union[tuple[Features, dict, object], Tensor]
"""A computed stage: the features it hands on, its heads' outputs (name → tensor) and its
time (ms, or a pair of CUDA events read after the frame's sync); a fuse: the scores."""


@dataclass(frozen=True)
class FrameResult:
    """What one frame produced. ``scores`` stay on the executor's device."""

    frame: int
    computed: tuple[str, ...]
    scores: Tensor
    """(1, classes, H, W) fused class scores of the frame."""
    atom_values: dict[str, bool]
    """Whether each data-driven clock atom fired; ``differences`` holds its measured value."""
    differences: dict[str, float]
    stage_ms: dict[str, float]
    """Per computed stage: its time in ms (CUDA events on a GPU, wall clock on a CPU)."""
    latency_ms: float
    """Wall-clock ms of the whole step, from its call (the frame's upload and normalisation
    included) to the frame's last result."""
    warped: tuple[str, ...] = ()
    """Stages that moved their last computed state to this frame by optical flow."""
    flow_ms: dict[str, float] = field(default_factory=dict)
    """Per flow method computed this frame: its wall-clock ms (OpenCV on the host, with
    the grey conversion and copies)."""
    warp_ms: dict[str, float] = field(default_factory=dict)
    """Per warped stage: ms of composing its flow and warping its state (CUDA events on a
    GPU, wall clock on a CPU). Stages of one flow method that last computed on the same
    frame share one composition, counted in the first of them to warp."""
    waited_ms: float = 0.0
    """Wall-clock ms from the frame's arrival to the step's call (0 unless an arrival
    time was given: a paced or live source)."""
    decisions: tuple[Decision, ...] = ()
    """The frame's ``fits`` decisions, in order (none on frame 0)."""
    fuse_ms: float = 0.0
    """Wall-clock ms from the fuse's start to the frame's result (its sync included)."""
    flow_problems: dict[str, str] = field(default_factory=dict)
    """Per flow method whose flow this frame is a zero flow (``codec``: the frame had no
    usable motion vectors): why (an intra frame, corrupt side data)."""

    @property
    def response_ms(self) -> float:
        """From the frame's arrival to its result: ``waited_ms + latency_ms``."""
        return self.waited_ms + self.latency_ms

    @property
    def labels(self) -> Tensor:
        """Per-pixel class ids, (H, W), on the device."""
        return self.scores[0].argmax(0)
