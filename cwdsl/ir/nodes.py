"""The typed records a compiled graph's nodes carry (``graph.nodes[key]["record"]``).

Every record knows its node ``key`` (unique in the graph) and its ``kind``. Code outside
:mod:`cwdsl.ir` reaches them through :class:`~cwdsl.ir.graph.Program`'s accessors and never
spells a node key.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Union

from cwdsl.lang import ast


def stage_key(name: str) -> str:
    return f"stage:{name}"


def cache_key(stage: str) -> str:
    return f"cache:{stage}"


def clock_key(name: str) -> str:
    return f"clock:{name}"


def measure_key(atom: str) -> str:
    return f"measure:{atom}"


@dataclass(frozen=True)
class InputNode:
    """The frame ``F[0](t)``: RGB pixels in [0, 1], normalised for the network."""

    kind: ClassVar[str] = "input"

    @property
    def key(self) -> str:
        return "input"


@dataclass(frozen=True)
class StageNode:
    """Stage ``name``'s state ``F[name](t)``: layers ``first .. last`` plus score ``heads``,
    computed from the previous stage's features ``delay`` frames back when clock ``gate``
    fires, else read from its cache. ``index``: position in network order."""

    kind: ClassVar[str] = "stage"
    name: str
    index: int
    first: str
    last: str
    heads: tuple[str, ...]
    delay: int
    gate: str

    @property
    def key(self) -> str:
        return stage_key(self.name)


@dataclass(frozen=True)
class CacheNode:
    """``F[stage](t-1)``: the stage's features and scores kept from the previous frame."""

    kind: ClassVar[str] = "cache"
    stage: str

    @property
    def key(self) -> str:
        return cache_key(self.stage)


@dataclass(frozen=True)
class ClockNode:
    """A clock: a named one (``name`` is its name) or a rule's inline expression (``name``
    is its canonical text). ``text`` is the canonical text of ``expr``."""

    kind: ClassVar[str] = "clock"
    name: str
    expr: ast.ClockExpr
    text: str
    named: bool

    @property
    def key(self) -> str:
        return clock_key(self.name)


@dataclass(frozen=True)
class MeasureNode:
    """A data-driven clock atom (``atom``: its id, the canonical text). A label difference
    reads ``head`` (the deepest score head) of ``stage``; a pixel difference reads the input
    (``stage`` and ``head`` are None)."""

    kind: ClassVar[str] = "measure"
    atom: str
    expr: ast.DataAtom
    stage: str | None
    head: str | None

    @property
    def key(self) -> str:
        return measure_key(self.atom)


@dataclass(frozen=True)
class FuseNode:
    """The skip fusion of the scores of ``stages``, every frame."""

    kind: ClassVar[str] = "fuse"
    stages: tuple[str, ...]

    @property
    def key(self) -> str:
        return "fuse"


@dataclass(frozen=True)
class OutputNode:
    """The frame's output: the fused scores."""

    kind: ClassVar[str] = "output"

    @property
    def key(self) -> str:
        return "output"


Node = Union[InputNode, StageNode, CacheNode, ClockNode, MeasureNode, FuseNode, OutputNode]
