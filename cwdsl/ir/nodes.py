"""The typed records a compiled graph's nodes carry (``graph.nodes[key]["record"]``).

Every record knows its node ``key`` (unique in the graph) and its ``kind``. Code outside
:mod:`cwdsl.ir` reaches them through :class:`~cwdsl.ir.graph.Program`'s accessors and never
spells a node key.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar, Union

from cwdsl.core.clockmodel import ClockModel
from cwdsl.lang import ast
from cwdsl.lang.printer import print_clock


def stage_key(name: str) -> str:
    return f"stage:{name}"


def cache_key(stage: str) -> str:
    return f"cache:{stage}"


def clock_key(name: str) -> str:
    return f"clock:{name}"


def measure_key(atom: str) -> str:
    return f"measure:{atom}"


def deadline_key(atom: str) -> str:
    return f"deadline:{atom}"


def flow_key(method: str) -> str:
    return f"flow:{method}"


def warp_key(stage: str) -> str:
    return f"warp:{stage}"


class _Record:
    """What every record shares: its ``kind`` and its node ``key`` (the kind, then the name
    of the field that tells nodes of that kind apart, if there can be several)."""

    kind: ClassVar[str]
    _named_by: ClassVar[str | None] = None

    @property
    def key(self) -> str:
        if self._named_by is None:
            return self.kind
        return f"{self.kind}:{getattr(self, self._named_by)}"


@dataclass(frozen=True)
class InputNode(_Record):
    """The frame ``F[0](t)``: RGB pixels in [0, 1], normalised for the network."""

    kind: ClassVar[str] = "input"


@dataclass(frozen=True)
class StageNode(_Record):
    """Stage ``name``'s state ``F[name](t)``: layers ``first .. last`` plus score ``heads``,
    computed from the previous stage's features ``delay`` frames back when clock ``gate``
    fires, else read from its cache. ``index``: position in network order."""

    kind: ClassVar[str] = "stage"
    _named_by: ClassVar[str] = "name"
    name: str
    index: int
    first: str
    last: str
    heads: tuple[str, ...]
    delay: int
    gate: str
    counter: str = "cache"
    """What the stage does when ``gate`` does not fire: ``"cache"`` (keep its state) or
    ``"warp"`` (move the state it last computed by the optical flow since; ``flow`` names
    the method)."""
    flow: str | None = None


@dataclass(frozen=True)
class CacheNode(_Record):
    """``F[stage](t-1)``: the stage's features and scores kept from the previous frame."""

    kind: ClassVar[str] = "cache"
    _named_by: ClassVar[str] = "stage"
    stage: str


@dataclass(frozen=True)
class FlowNode(_Record):
    """The optical flow from frame ``t`` back to ``t - 1`` by ``method`` (one of
    ``ast.FLOW_METHODS``): per pixel of frame ``t``, where it was in frame ``t - 1``.
    Computed on frames where a stage that warps does not fire."""

    kind: ClassVar[str] = "flow"
    _named_by: ClassVar[str] = "method"
    method: str


@dataclass(frozen=True)
class WarpNode(_Record):
    """Stage ``stage``'s state as last computed, moved to the current frame by the flows
    of ``method`` composed since (its features and scores, each resampled at its own
    resolution): what the stage holds on frames its clock does not fire."""

    kind: ClassVar[str] = "warp"
    _named_by: ClassVar[str] = "stage"
    stage: str
    method: str


@dataclass(frozen=True)
class ClockNode(_Record):
    """A clock: a named one (``name`` is its name) or a rule's inline expression (``name``
    is its canonical text). ``text`` is the canonical text of ``expr``."""

    kind: ClassVar[str] = "clock"
    _named_by: ClassVar[str] = "name"
    name: str
    expr: ast.ClockExpr
    named: bool
    stage: str | None = None
    """The stage a rule's clock with ``fits`` gates (its deadline atoms decide for it);
    None for every other clock."""

    @cached_property
    def text(self) -> str:
        """(Written when asked: a schedule of 10,000 clocks need not print them to compile.)"""
        return self.name if not self.named else print_clock(self.expr)


@dataclass(frozen=True)
class MeasureNode(_Record):
    """A data-driven clock atom (``atom``: its id, the canonical text). A label difference
    reads ``head`` (the deepest score head) of ``stage`` over ``region`` (``"map"``: the
    whole score map; ``"image"``: the cells that see the image; see ``ast.REGIONS``); a
    pixel difference reads the input (``stage``, ``head`` and ``region`` are None); a
    learned clock (``predicted``) reads ``head``'s whole map and the input, and applies
    ``model``."""

    kind: ClassVar[str] = "measure"
    _named_by: ClassVar[str] = "atom"
    atom: str
    expr: ast.DataAtom
    stage: str | None
    head: str | None
    region: str | None = None
    model: ClockModel | None = None

    @property
    def test(self) -> str:
        """``"labeldiff"``, ``"pixeldiff"`` or ``"predicted"``: what is measured."""
        if self.model is not None:
            return "predicted"
        return "pixeldiff" if self.head is None else "labeldiff"


@dataclass(frozen=True)
class DeadlineNode(_Record):
    """A ``fits`` atom of the rule gating ``stage`` (``atom``: its id, the atom's text and
    the stage). It fires when the frame's time so far plus the predicted time of what must
    still run if ``stage`` computes is at most ``deadline_ms``: ``stage``, ``rest`` (the
    stages reading it within the frame whose clocks always fire), the counter action of
    ``counters`` (the other stages reading it within the frame, each with its warp's flow
    method, or None where it reads its cache) and the fuse (:func:`cwdsl.ir.deadline.decide`).
    ``deadline_ms`` is None for a bare ``fits`` when no frame deadline is given."""

    kind: ClassVar[str] = "deadline"
    _named_by: ClassVar[str] = "atom"
    atom: str
    expr: ast.Fits
    stage: str
    deadline_ms: float | None
    rest: tuple[str, ...]
    counters: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class FuseNode(_Record):
    """The skip fusion of the scores of ``stages``, every frame."""

    kind: ClassVar[str] = "fuse"
    stages: tuple[str, ...]


@dataclass(frozen=True)
class OutputNode(_Record):
    """The frame's output: the fused scores."""

    kind: ClassVar[str] = "output"


Node = Union[InputNode, StageNode, CacheNode, FlowNode, WarpNode, ClockNode, MeasureNode,
             DeadlineNode, FuseNode, OutputNode]
