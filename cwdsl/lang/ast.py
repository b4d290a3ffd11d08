"""The schedule AST: frozen dataclasses, each with a source span.

Spans never take part in equality, so ``parse(print(ast)) == ast`` compares meaning,
not layout.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, Mapping, TypeVar, Union

from cwdsl.core.errors import Source
from cwdsl.core.span import Span


@dataclass(frozen=True)
class Node:
    """Every AST node has a ``span``: where it was written (None when made in code). It is
    keyword-only and never compared, so nodes compare by meaning."""

    span: Span | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Ident(Node):
    """A name as written, with where it was written."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Size(Node):
    """``HxW``: an input size in pixels."""

    height: int
    width: int

    @property
    def hw(self) -> tuple[int, int]:
        """(height, width)."""
        return self.height, self.width


@dataclass(frozen=True)
class Duration(Node):
    """A time span as written (``40ms``, ``0.04s``); ``ms``: its length in milliseconds."""

    ms: float


MAX_DEADLINE_MS = 3_600_000.0
"""The longest deadline a schedule may give (an hour): a longer one is a mistake."""


@dataclass(frozen=True)
class NetworkDecl(Node):
    """``network fcn8s [input 500x500] [deadline 40ms]``: ``deadline`` is the frame
    deadline (from a frame's arrival to its result) that a bare ``fits`` keeps and that
    records count frames on time against."""

    name: Ident
    input: Size | None = None
    deadline: Duration | None = None


@dataclass(frozen=True)
class StageDecl(Node):
    """``stage s1 = conv1_1 .. pool3 head score_pool3``: layers ``first..last`` and their score heads."""

    name: Ident
    first: Ident
    last: Ident
    heads: tuple[Ident, ...]


# ---- clock expressions ------------------------------------------------------------

@dataclass(frozen=True)
class Const(Node):
    """``1`` (always fires) or ``0`` (never fires after frame 0)."""

    value: int


@dataclass(frozen=True)
class Every(Node):
    """``every n [phase p]``: fires when ``t mod n == p``."""

    period: int
    phase: int = 0


REGIONS = ("map", "image")
"""What a label difference compares (``region=``): ``map``, every cell of the stage's
deepest score map, the padding's margin included (the authors' code, the default); or
``image``, only the cells that see the image (``StagedNetwork.head_window``)."""
DEFAULT_REGION = REGIONS[0]


@dataclass(frozen=True)
class LabelDiff(Node):
    """``labeldiff(stage[, since=fired|previous][, region=map|image]) >= θ``: fraction of
    argmax labels of the stage's deepest score map (all of it, or the cells that see the
    image: :data:`REGIONS`) that changed since the reference frame."""

    stage: Ident
    since: str
    op: str
    theta: float
    region: str = DEFAULT_REGION


@dataclass(frozen=True)
class PixelDiff(Node):
    """``pixeldiff(since=previous|fired) >= θ``: mean absolute difference of the input
    frame (pixel values in [0, 1]) against the reference frame."""

    since: str
    op: str
    theta: float


@dataclass(frozen=True)
class ModelRef(Node):
    """``model=NAME`` (a bundled clock model) or ``model="PATH"`` (a file, relative to the
    schedule's folder): which clock model a :class:`Predicted` atom applies."""

    name: str
    is_path: bool


@dataclass(frozen=True)
class Predicted(Node):
    """``predicted(stage, model=M) >= θ``: a learned clock. The model (``cwdsl train-clock``)
    reads cheap signals measured before the gated stage runs (the stage's label changes,
    the pixel difference, frames since the atom fired; :data:`cwdsl.core.clockmodel.SIGNALS`)
    and predicts the fraction of output labels firing would change; the atom fires when
    that prediction passes θ. ``since=fired`` references, like ``labeldiff``'s default."""

    stage: Ident
    model: ModelRef
    op: str
    theta: float


@dataclass(frozen=True)
class Fits(Node):
    """``fits(D)``, or ``fits`` for the network line's deadline (None here): fires when
    computing the stage its rule gates still lets the frame's result be ready within ``D``
    of the frame's arrival, given the time already spent on the frame and the predicted
    time of the gated stage, the stages it feeds within the frame and the fuse
    (:mod:`cwdsl.ir.deadline`). Decided for one stage, so written in a compute rule's
    clock only. Not data-driven: the executor decides it from the clock, the simulator
    from its device model."""

    deadline: Duration | None = None


@dataclass(frozen=True)
class ClockRef(Node):
    """A named clock declared with ``clock NAME = ...``."""

    name: Ident


@dataclass(frozen=True)
class Not(Node):
    """``not operand``: fires when the operand does not."""

    operand: "ClockExpr"


@dataclass(frozen=True)
class BinaryOp(Node):
    """``left OP right``: :class:`And` or :class:`Or` (both associate to the left)."""

    left: "ClockExpr"
    right: "ClockExpr"


class And(BinaryOp):
    """``left and right``: fires when both fire."""


class Or(BinaryOp):
    """``left or right``: fires when either fires."""


ClockExpr = Union[Const, Every, LabelDiff, PixelDiff, Predicted, Fits, ClockRef, Not, And, Or]
DataAtom = Union[LabelDiff, PixelDiff, Predicted]
"""Clock atoms whose value depends on the data; the executor measures them."""
DATA_ATOMS = (LabelDiff, PixelDiff, Predicted)
STAGE_ATOMS = (LabelDiff, Predicted)
"""Data atoms that read a stage's deepest score head."""
T = TypeVar("T")


@dataclass(frozen=True)
class ClockDecl(Node):
    """``clock NAME = expr``."""

    name: Ident
    expr: ClockExpr


COUNTERS = ("cache", "warp")
"""What a stage does when its clock does not fire (``else …``): keep its state (``cache``,
the paper's counter-clock, eq. 1 with ``f_T`` the identity), or move its state to the
current frame by optical flow (``warp``, as Deep Feature Flow does)."""

FLOW_METHODS = ("dis", "dis_ultrafast", "dis_medium", "codec")
"""Flow methods ``else warp(flow=…)`` names: OpenCV's DIS optical flow at its fast (the
default), ultrafast and medium presets (:mod:`cwdsl.runtime.flow` implements them), and
``codec``: the motion vectors the video's decoder exported (:mod:`cwdsl.runtime.codecflow`;
the frames must come from a video that has them)."""
DEFAULT_FLOW = FLOW_METHODS[0]


@dataclass(frozen=True)
class ComputeRule(Node):
    """``compute STAGE when CLOCK [delay d] [else cache | else warp[(flow=M)]]``.

    The clock ``C`` gates computing the stage; its counter-clock ``not C`` gates the
    counter action (:data:`COUNTERS`): reading the cache, or warping the state computed
    last by the optical flow since. ``delay`` is the delay of the edge into the stage: it
    reads ``F[k-1](t - delay)``.
    """

    stage: Ident
    clock: ClockExpr
    delay: int = 0
    otherwise: str | None = None
    """The counter-clock's action as written (``"cache"``, ``"warp"``), or None when the
    rule leaves it out (the stage reads its cache)."""
    flow: Ident | None = None
    """The flow method of ``else warp`` (``Ident(DEFAULT_FLOW)`` when not written); None
    for any other action."""
    counter_span: Span | None = field(default=None, compare=False, repr=False, kw_only=True)
    """Where ``else …`` was written (None when it was not, or in an AST made in code)."""

    @property
    def counter(self) -> str:
        """The counter-clock's action: ``"cache"`` unless the rule says ``else warp``."""
        return self.otherwise or "cache"


@dataclass(frozen=True)
class OutputDecl(Node):
    """``output fuse(s1, s2, s3)``: the stages whose scores are fused on every frame."""

    stages: tuple[Ident, ...]


@dataclass(frozen=True)
class Schedule(Node):
    """A whole ``.cw`` file, its declarations grouped by kind in source order."""

    network: NetworkDecl
    stages: tuple[StageDecl, ...]
    clocks: tuple[ClockDecl, ...]
    rules: tuple[ComputeRule, ...]
    output: OutputDecl
    source: Source | None = field(default=None, compare=False, repr=False, kw_only=True)


# Clock expressions can be thousands of terms deep (``not not … x``, a long ``or``): every
# traversal below keeps its own stack, never Python's.

def children(expr: ClockExpr) -> tuple[ClockExpr, ...]:
    """The operands of ``expr``, left to right (none for an atom or a clock name)."""
    if isinstance(expr, Not):
        return (expr.operand,)
    if isinstance(expr, BinaryOp):
        return (expr.left, expr.right)
    return ()


def walk_clock(expr: ClockExpr) -> Iterator[ClockExpr]:
    """Every node of a clock expression, parents before children, left to right."""
    stack = [expr]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        yield node
        kind = type(node)
        if kind is Or or kind is And:
            push(node.right)
            push(node.left)
        elif kind is Not:
            push(node.operand)
        elif isinstance(node, (Not, BinaryOp)):  # a subclass made in code
            stack.extend(reversed(children(node)))


def fold_clock(expr: ClockExpr, leaf: Callable[[ClockExpr], T],
               inner: Callable[[ClockExpr, list[T]], T]) -> T:
    """Bottom-up evaluation of ``expr``: ``leaf(node)`` for nodes without operands,
    ``inner(node, [results of its operands])`` for ``not``/``and``/``or``."""
    results: list[T] = []
    stack: list[tuple[ClockExpr, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        operands = children(node)
        if not operands:
            results.append(leaf(node))
        elif expanded:
            values = results[-len(operands):]
            del results[-len(operands):]
            results.append(inner(node, values))
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(operands))
    return results[0]


def map_atoms(expr: ClockExpr, fn: Callable[[DataAtom], ClockExpr]) -> ClockExpr:
    """``expr`` with every data-driven atom replaced by ``fn(atom)`` (spans kept)."""
    def leaf(node):
        return fn(node) if isinstance(node, DATA_ATOMS) else node

    def inner(node, operands):
        if isinstance(node, Not):
            return replace(node, operand=operands[0])
        return replace(node, left=operands[0], right=operands[1])

    return fold_clock(expr, leaf, inner)


def constant_value(expr: ClockExpr, clocks: Mapping[str, ClockExpr],
                   known: dict[str, bool | None] | None = None) -> bool | None:
    """What ``expr`` is on every frame after frame 0 whatever the data: True (it always
    fires: ``1``, ``every 1``, ``not 0``, ``1 or x`` …), False (it never fires) or None (it
    depends on the frame or the data). ``clocks``: named clocks' expressions; a name not in
    it (or in a cycle) counts as None. ``known``: named clocks' values found by earlier calls
    with the same ``clocks`` (filled in), so that many calls stay linear in all."""
    def refs(e):
        return [n.name.name for n in walk_clock(e) if isinstance(n, ClockRef)]

    values: dict[str, bool | None] = {} if known is None else known
    order, state = [], {}
    stack = [(name, False) for name in refs(expr)]
    while stack:  # named clocks that ``expr`` reaches, each after the clocks it reads
        name, done = stack.pop()
        if done:
            order.append(name)
        elif name not in state and name not in values and name in clocks:
            state[name] = True
            stack.append((name, True))
            stack.extend((r, False) for r in refs(clocks[name]))

    def leaf(node):
        match node:
            case Const(value):
                return {1: True, 0: False}.get(value)
            case Every(period, phase):
                return True if period == 1 and phase == 0 else None
            case ClockRef(name):
                return values.get(name.name)
        return None

    def inner(node, operands):
        if isinstance(node, Not):
            return None if operands[0] is None else not operands[0]
        absorbing = isinstance(node, Or)  # True decides an ``or``, False an ``and``
        if absorbing in operands:
            return absorbing
        return None if None in operands else not absorbing

    for name in order:
        values[name] = fold_clock(clocks[name], leaf, inner)
    return fold_clock(expr, leaf, inner)


def always_fires(expr: ClockExpr, clocks: Mapping[str, ClockExpr],
                 known: dict[str, bool | None] | None = None) -> bool:
    """Whether ``expr`` fires on every frame whatever the data (:func:`constant_value`):
    a stage it gates never falls back to its cache or warp."""
    return constant_value(expr, clocks, known) is True
