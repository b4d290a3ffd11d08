"""The schedule AST: frozen dataclasses, each with a source span.

Spans never take part in equality, so ``parse(print(ast)) == ast`` compares meaning,
not layout.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from cwdsl.core.errors import Source
from cwdsl.core.span import Span


def _span() -> Span | None:
    return field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Ident:
    """A name as written, with where it was written."""

    name: str
    span: Span | None = _span()


@dataclass(frozen=True)
class Size:
    height: int
    width: int
    span: Span | None = _span()


@dataclass(frozen=True)
class NetworkDecl:
    """``network fcn8s [input 500x500]``."""

    name: Ident
    input: Size | None = None
    span: Span | None = _span()


@dataclass(frozen=True)
class StageDecl:
    """``stage s1 = conv1_1 .. pool3 head score_pool3``: layers ``first..last`` and their score heads."""

    name: Ident
    first: Ident
    last: Ident
    heads: tuple[Ident, ...]
    span: Span | None = _span()


# ---- clock expressions ------------------------------------------------------------

@dataclass(frozen=True)
class Const:
    """``1`` (always fires) or ``0`` (never fires after frame 0)."""

    value: int
    span: Span | None = _span()


@dataclass(frozen=True)
class Every:
    """``every n [phase p]``: fires when ``t mod n == p``."""

    period: int
    phase: int = 0
    span: Span | None = _span()


@dataclass(frozen=True)
class LabelDiff:
    """``labeldiff(stage, since=fired|previous) >= θ``: fraction of argmax labels of the
    stage's deepest score map that changed since the reference frame."""

    stage: Ident
    since: str
    op: str
    theta: float
    span: Span | None = _span()


@dataclass(frozen=True)
class PixelDiff:
    """``pixeldiff(since=previous|fired) >= θ``: mean absolute difference of the input
    frame (pixel values in [0, 1]) against the reference frame."""

    since: str
    op: str
    theta: float
    span: Span | None = _span()


@dataclass(frozen=True)
class ClockRef:
    """A named clock declared with ``clock NAME = ...``."""

    name: Ident
    span: Span | None = _span()


@dataclass(frozen=True)
class Not:
    operand: "ClockExpr"
    span: Span | None = _span()


@dataclass(frozen=True)
class And:
    left: "ClockExpr"
    right: "ClockExpr"
    span: Span | None = _span()


@dataclass(frozen=True)
class Or:
    left: "ClockExpr"
    right: "ClockExpr"
    span: Span | None = _span()


ClockExpr = Union[Const, Every, LabelDiff, PixelDiff, ClockRef, Not, And, Or]
DataAtom = Union[LabelDiff, PixelDiff]
"""Clock atoms whose value depends on the data; the executor measures them."""


@dataclass(frozen=True)
class ClockDecl:
    """``clock NAME = expr``."""

    name: Ident
    expr: ClockExpr
    span: Span | None = _span()


@dataclass(frozen=True)
class ComputeRule:
    """``compute STAGE when CLOCK [delay d] [else cache]``.

    The clock ``C`` gates computing the stage; its counter-clock ``not C`` gates reading
    the cache (the only counter-clock action: paper eq. 1 with ``f_T`` the identity).
    ``delay`` is the delay of the edge into the stage: it reads ``F[k-1](t - delay)``.
    """

    stage: Ident
    clock: ClockExpr
    delay: int = 0
    otherwise: str | None = None
    """The counter-clock's action as written (``"cache"``), or None when the rule leaves it
    out; either way a stage whose clock does not fire reads its cache."""
    span: Span | None = _span()


@dataclass(frozen=True)
class OutputDecl:
    """``output fuse(s1, s2, s3)``: the stages whose scores are fused on every frame."""

    stages: tuple[Ident, ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class Schedule:
    """A whole ``.cw`` file, its declarations grouped by kind in source order."""

    network: NetworkDecl
    stages: tuple[StageDecl, ...]
    clocks: tuple[ClockDecl, ...]
    rules: tuple[ComputeRule, ...]
    output: OutputDecl
    span: Span | None = _span()
    source: Source | None = field(default=None, compare=False, repr=False, kw_only=True)


def walk_clock(expr: ClockExpr):
    """Every node of a clock expression, parents before children."""
    yield expr
    if isinstance(expr, Not):
        yield from walk_clock(expr.operand)
    elif isinstance(expr, (And, Or)):
        yield from walk_clock(expr.left)
        yield from walk_clock(expr.right)
