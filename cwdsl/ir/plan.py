"""FramePlans: the dynamic cut of the graph for one frame.

The planner turns a :class:`~cwdsl.ir.graph.Program` into a fixed sequence of steps (the
topological order of the within-frame graph) and decides, frame by frame, which stages
compute and which read their cache. Executor and simulator both consume these steps;
neither re-derives what a schedule means.

Data-driven clock atoms are *measured* by whoever walks the plan: :meth:`Planner.walk`
yields a :class:`Measure` step before the first decision that needs it, and reads the
value from the ``atoms`` mapping the caller passed in, after the caller has filled it.
The simulator passes complete replayed values; the executor measures as it goes.

Semantics fixed here (DESIGN §2):
- frame 0 computes every stage, in order, with no delays (empty caches, empty pipeline);
- a clock reading a stage sees that stage's state on this frame, computed or cached;
- a stage with delay ``d`` reads ``F[k-1](max(t - d, 0))``.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Iterator, Mapping, Union

import networkx as nx

from cwdsl.lang import ast
from cwdsl.core.errors import InputError
from cwdsl.ir.graph import Program, atom_id, within_frame


@dataclass(frozen=True, slots=True)
class Measure:
    """Measure data-driven clock atom ``atom`` (id) now; its inputs are up to date."""

    atom: str
    node: ast.DataAtom


@dataclass(frozen=True, slots=True)
class Compute:
    """Run stage ``stage`` (and its heads) on ``F[k-1](t - delay)``.

    Steps of one frame with the same ``wave`` have no dependency on each other within
    the frame and may run concurrently (pipelined schedules put all stages in wave 0).
    """

    stage: str
    delay: int
    wave: int
    gate: str


@dataclass(frozen=True, slots=True)
class Cache:
    """Keep stage ``stage``'s features and scores from the previous frame."""

    stage: str
    gate: str


@dataclass(frozen=True, slots=True)
class Fuse:
    """Fuse the scores of ``stages`` into this frame's output."""

    stages: tuple[str, ...]


Step = Union[Measure, Compute, Cache, Fuse]
ClockFn = Callable[[int, Mapping[str, bool]], bool]


@dataclass(frozen=True)
class FramePlan:
    """Everything decided for one frame, in execution order."""

    frame: int
    steps: tuple[Step, ...]
    clocks: Mapping[str, bool]
    atoms: Mapping[str, bool]

    @property
    def computed(self) -> tuple[str, ...]:
        return tuple(s.stage for s in self.steps if isinstance(s, Compute))

    @property
    def cached(self) -> tuple[str, ...]:
        return tuple(s.stage for s in self.steps if isinstance(s, Cache))

    @property
    def waves(self) -> tuple[tuple[str, ...], ...]:
        """Computing stages grouped by wave; a wave's stages may run concurrently."""
        by_wave: dict[int, list[str]] = {}
        for s in self.steps:
            if isinstance(s, Compute):
                by_wave.setdefault(s.wave, []).append(s.stage)
        return tuple(tuple(by_wave[w]) for w in sorted(by_wave))

    def action(self, stage: str) -> str:
        for s in self.steps:
            if isinstance(s, (Compute, Cache)) and s.stage == stage:
                return "compute" if isinstance(s, Compute) else "cache"
        raise KeyError(stage)

    def delay(self, stage: str) -> int | None:
        """The delay stage ``stage`` computed with, or ``None`` if it read its cache."""
        for s in self.steps:
            if isinstance(s, Compute) and s.stage == stage:
                return s.delay
        return None


class Planner:
    """Frame plans of one program. Stateless across frames: plans depend only on ``t``
    and the atom values given, so they are deterministic and can be replayed."""

    def __init__(self, program: Program):
        self.program = program
        g = program.graph
        frame = within_frame(g)
        frame.add_nodes_from(g.nodes)
        stage_index = {n: d["index"] for n, d in g.nodes(data=True) if d["kind"] == "stage"}

        def key(node: str) -> tuple:
            # Stages in network order; a measurement as soon as what it reads is ready.
            return (stage_index.get(node, -1), node)

        order = list(nx.lexicographical_topological_sort(frame, key=key))
        waves = _waves(frame, order, g)
        self._clock_fns: dict[str, ClockFn] = {}
        self.gates: dict[str, str] = {}
        self._items: list[tuple] = []
        first_frame: list[Step] = []
        for node in order:
            data = g.nodes[node]
            if data["kind"] == "measure":
                step = Measure(node.removeprefix("measure:"), data["atom"])
                self._items.append(("measure", step))
                first_frame.append(step)
            elif data["kind"] == "stage":
                stage, gate = data["stage"], data["gate"]
                self.gates[stage] = gate
                fn = self._clock(gate)
                compute = Compute(stage, data["delay"], waves[node], gate)
                self._items.append(("stage", fn, compute, Cache(stage, gate)))
                first_frame.append(Compute(stage, 0, data["index"], gate))
        self.fuse = Fuse(g.nodes["fuse"]["stages"])
        first_frame.append(self.fuse)
        self._first_frame = tuple(first_frame)
        self.stages: tuple[str, ...] = program.stages
        self.atoms: tuple[str, ...] = program.atoms

    def _clock(self, node: str) -> ClockFn:
        fn = self._clock_fns.get(node)
        if fn is None:
            fn = self._clock_fns[node] = self._compile(self.program.graph.nodes[node]["expr"])
        return fn

    def _compile(self, expr: ast.ClockExpr) -> ClockFn:
        match expr:
            case ast.Const(value):
                return (lambda t, a: True) if value else (lambda t, a: False)
            case ast.Every(period, phase):
                return lambda t, a: t % period == phase
            case ast.LabelDiff() | ast.PixelDiff():
                key = atom_id(expr)
                return lambda t, a: _atom(a, key, t)
            case ast.ClockRef(name):
                return self._clock(f"clock:{name.name}")
            case ast.Not(operand):
                inner = self._compile(operand)
                return lambda t, a: not inner(t, a)
            case ast.And(left, right):
                lf, rf = self._compile(left), self._compile(right)
                return lambda t, a: lf(t, a) and rf(t, a)
            case ast.Or(left, right):
                lf, rf = self._compile(left), self._compile(right)
                return lambda t, a: lf(t, a) or rf(t, a)
        raise TypeError(f"not a clock expression: {expr!r}")

    def walk(self, t: int, atoms: Mapping[str, bool]) -> Iterator[Step]:
        """The steps of frame ``t`` in order. ``atoms`` is read lazily: a caller that
        measures fills ``atoms[step.atom]`` when it receives a :class:`Measure`."""
        if t < 0:
            raise ValueError(f"frame index must be >= 0, got {t}")
        if t == 0:
            yield from self._first_frame
            return
        for item in self._items:
            if item[0] == "measure":
                yield item[1]
            else:
                yield item[2] if item[1](t, atoms) else item[3]
        yield self.fuse

    def plan(self, t: int, atoms: Mapping[str, bool] | None = None) -> FramePlan:
        """The whole :class:`FramePlan` of frame ``t`` given every atom's value."""
        atoms = MappingProxyType(dict(atoms or {}))
        steps = tuple(self.walk(t, atoms))
        clocks = {gate: (t == 0 or self._clock(gate)(t, atoms))
                  for gate in dict.fromkeys(self.gates.values())}
        return FramePlan(t, steps, MappingProxyType(clocks), atoms)

    def clock_value(self, gate: str, t: int, atoms: Mapping[str, bool]) -> bool:
        return t == 0 or self._clock(gate)(t, atoms)


def _atom(atoms: Mapping[str, bool], key: str, t: int) -> bool:
    try:
        return bool(atoms[key])
    except KeyError:
        raise InputError(f"frame {t}: no value for data-driven clock '{key}' "
                         f"(give a trace or a firing rate)") from None


def _waves(frame: nx.DiGraph, order: list[str], g: nx.DiGraph) -> dict[str, int]:
    """Per stage: how many stages precede it on its longest within-frame path."""
    depth: dict[str, int] = {}
    for node in order:
        before = [depth[p] + (g.nodes[p]["kind"] == "stage") for p in frame.predecessors(node)]
        depth[node] = max(before, default=0)
    return {n: d for n, d in depth.items() if g.nodes[n]["kind"] == "stage"}
