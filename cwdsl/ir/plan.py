"""FramePlans: the dynamic cut of the graph for one frame.

The planner turns a :class:`~cwdsl.ir.graph.Program` into a fixed sequence of steps and
decides, frame by frame, which stages compute and which read their cache. Executor and
simulator both consume these steps; neither re-derives what a schedule means.

Stages are grouped into *waves*: a stage's wave is the number of stages before it on its
longest within-frame dependency path, so the stages of one wave do not depend on each
other within the frame and may run concurrently (a pipeline puts every stage in wave 0).
A frame's steps are, wave by wave, the measurements that wave's clocks need, the
:class:`Cache` (or :class:`Warp`) steps of the wave's stages whose clocks did not fire,
and one :class:`Wave` step with those that compute; then the :class:`Fuse`. A frame's
first :class:`Warp` of each flow method comes right after the one :class:`Flow` step that
computes that frame's optical flow.

Data-driven clock atoms are *measured* by whoever walks the plan: :meth:`Planner.walk`
yields a :class:`Measure` step before the first decision that needs it, and reads the
value from the ``values`` mapping (:data:`AtomValues`) the caller passed in, after the
caller has filled it.
The simulator passes complete replayed values; the executor measures as it goes.
A ``fits`` atom is decided the same way, by a :class:`Deadline` step right before the wave
of the stage it gates (after that wave's measurements): the walker fills its value from
the frame's time so far and its predictions (:func:`cwdsl.ir.deadline.decide`); frame 0,
which computes every stage, decides none.

Semantics fixed here (docs/language.md, "Semantics"):
- frame 0 computes every stage, in order, one wave each, with no delays (empty caches,
  empty pipeline);
- a clock reading a stage sees that stage's state on this frame, computed or cached;
- a stage with delay ``d`` reads ``F[k-1](max(t - d, 0))``;
- a stage that warps holds, when its clock does not fire, the state it last computed moved
  by the flows of every frame since (each frame's flow is computed once, on frames where a
  stage that warps does not fire: exactly the frames its composition needs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterator, Mapping, Union

import networkx as nx

from cwdsl.ir.clocks import ClockTable
from cwdsl.ir.graph import Program, record, within_frame
from cwdsl.ir.nodes import MeasureNode, StageNode, stage_key
from cwdsl.lang import ast


@dataclass(frozen=True, slots=True)
class Measure:
    """Measure data-driven clock atom ``atom`` (id) now; its inputs are up to date."""

    atom: str
    node: ast.DataAtom


@dataclass(frozen=True, slots=True)
class Deadline:
    """Decide ``fits`` atom ``atom`` (id) now, for stage ``stage``: whether the frame can
    still compute ``stage``, then the stages ``rest`` it feeds that always compute, the
    counter actions of ``counters`` (the other stages it feeds, each with its warp's flow
    method or None for its cache), then the fuse, within ``deadline_ms`` ms of its arrival
    (:func:`cwdsl.ir.deadline.decide`)."""

    atom: str
    stage: str
    deadline_ms: float
    rest: tuple[str, ...]
    counters: tuple[tuple[str, str | None], ...] = ()

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages whose predicted times the decision adds: ``stage`` and ``rest``."""
        return (self.stage,) + self.rest


@dataclass(frozen=True, slots=True)
class Compute:
    """Run stage ``stage`` (and its heads) on ``F[k-1](t - delay)``; clock ``gate`` fired."""

    stage: str
    delay: int
    gate: str


@dataclass(frozen=True, slots=True)
class Wave:
    """The stages that compute together: no one of them needs another's output of this
    frame, so they may run concurrently. ``index`` is the wave's depth in the frame."""

    index: int
    computes: tuple[Compute, ...]

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(c.stage for c in self.computes)


@dataclass(frozen=True, slots=True)
class Cache:
    """Keep stage ``stage``'s features and scores from the previous frame."""

    stage: str
    gate: str


@dataclass(frozen=True, slots=True)
class Flow:
    """Compute the optical flow of this frame back to the previous one by ``method``."""

    method: str


@dataclass(frozen=True, slots=True)
class Warp:
    """Move stage ``stage``'s last computed state to this frame by the flows of ``method``
    since it was computed (clock ``gate`` did not fire). Follows this frame's ``Flow``."""

    stage: str
    gate: str
    method: str


@dataclass(frozen=True, slots=True)
class Fuse:
    """Fuse the scores of ``stages`` into this frame's output."""

    stages: tuple[str, ...]


Step = Union[Measure, Deadline, Wave, Cache, Flow, Warp, Fuse]
AtomValues = Mapping[str, bool]
"""One frame's values of the data-driven clock atoms (and of ``fits`` atoms), by atom id."""


@dataclass(frozen=True)
class FramePlan:
    """Everything decided for one frame, in execution order. ``clocks``: each gate's value
    (by clock name); ``atom_values``: the data-driven atom values it was made with."""

    frame: int
    steps: tuple[Step, ...]
    clocks: Mapping[str, bool]
    atom_values: AtomValues

    @property
    def waves(self) -> tuple[tuple[str, ...], ...]:
        """Computing stages grouped by wave; a wave's stages may run concurrently."""
        return tuple(s.stages for s in self.steps if isinstance(s, Wave))

    @property
    def computed(self) -> tuple[str, ...]:
        return tuple(stage for wave in self.waves for stage in wave)

    @property
    def cached(self) -> tuple[str, ...]:
        return tuple(s.stage for s in self.steps if isinstance(s, Cache))

    @property
    def warped(self) -> tuple[str, ...]:
        return tuple(s.stage for s in self.steps if isinstance(s, Warp))

    def delay(self, stage: str) -> int | None:
        """The delay stage ``stage`` computed with, or ``None`` if it read its cache."""
        for s in self.steps:
            if isinstance(s, Wave):
                for c in s.computes:
                    if c.stage == stage:
                        return c.delay
        return None


@dataclass(frozen=True)
class _WaveItem:
    """One wave of the plan of frames ``t >= 1``: its stages with their clock functions."""

    index: int
    # (the gate's direct function or None, the gate, what to do if it fires, if not)
    stages: tuple[tuple[object, str, Compute, Cache], ...]
    full: Wave  # the step when every stage of the wave computes (most frames of most schedules)


class Planner:
    """Frame plans of one program. Stateless across frames: plans depend only on ``t``
    and the atom values given, so they are deterministic and can be replayed."""

    def __init__(self, program: Program):
        self.program = program
        g = program.graph
        frame = within_frame(g)
        stage_index = {s.key: s.index for s in program.stage_nodes}

        def key(node: str) -> tuple:
            # Stages in network order; a measurement as soon as what it reads is ready.
            return (stage_index.get(node, -1), node)

        order = list(nx.lexicographical_topological_sort(frame, key=key))
        depth = _depths(frame, order)
        self.clocks = ClockTable(program)
        self.gates: dict[str, str] = {s.name: s.gate for s in program.stage_nodes}
        self.fuse = Fuse(program.output_stages)
        # Frame 0: every stage in order, each its own wave, measurements where they fall.
        first: list[Step] = []
        for node in order:
            rec = record(g, node)
            if isinstance(rec, MeasureNode):
                first.append(Measure(rec.atom, rec.expr))
            elif isinstance(rec, StageNode):
                first.append(Wave(rec.index, (Compute(rec.name, 0, rec.gate),)))
        self._first_frame = tuple(first) + (self.fuse,)
        # Frames t >= 1: wave by wave, the measurements a wave's clocks need, then the wave.
        last = max((depth[n] for n in order), default=0)
        program.check_deadlines()
        deadlines = [(depth[stage_key(d.stage)],
                      Deadline(d.atom, d.stage, d.deadline_ms, d.rest, d.counters))
                     for d in program.deadlines]
        self._items: list[Measure | Deadline | _WaveItem] = []
        for w in range(last + 1):
            for node in order:
                rec = record(g, node)
                if isinstance(rec, MeasureNode) and depth[node] == w:
                    self._items.append(Measure(rec.atom, rec.expr))
            self._items += [step for at, step in deadlines if at == w]
            stages = tuple((self.clocks.direct(s.gate), s.gate, Compute(s.name, s.delay, s.gate),
                            Warp(s.name, s.gate, s.flow) if s.counter == "warp"
                            else Cache(s.name, s.gate))
                           for s in program.stage_nodes if depth[s.key] == w)
            if stages:
                self._items.append(_WaveItem(w, stages, Wave(w, tuple(s[2] for s in stages))))
        self.stages: tuple[str, ...] = program.stages
        self.atom_ids: tuple[str, ...] = program.atom_ids
        self.deadline_ids: tuple[str, ...] = tuple(d.atom for d in program.deadlines)
        self.period: int | None = _period(program)

    def walk(self, t: int, values: AtomValues,
             named: dict[str, bool] | None = None) -> Iterator[Step]:
        """The steps of frame ``t`` in order. ``values`` is read lazily: a caller that
        measures fills ``values[step.atom]`` when it receives a :class:`Measure`. ``named``
        collects the frame's values of clocks with more than one term (each is computed
        once per frame)."""
        if t < 0:
            raise ValueError(f"frame index must be >= 0, got {t}")
        if t == 0:
            yield from self._first_frame
            return
        named = {} if named is None else named
        value = self.clocks.value
        flowed: set[str] = set()  # flow methods computed this frame
        for item in self._items:
            if item.__class__ is Measure or item.__class__ is Deadline:
                yield item
                continue
            if len(item.stages) == 1:  # most waves: one stage, computed or cached
                direct, gate, _, cache = item.stages[0]
                fires = direct(t, values) if direct is not None else value(gate, t, values, named)
                if fires:
                    yield item.full
                else:
                    yield from _counter(cache, flowed)
                continue
            computes = []
            for direct, gate, compute, cache in item.stages:
                if direct(t, values) if direct is not None else value(gate, t, values, named):
                    computes.append(compute)
                else:
                    yield from _counter(cache, flowed)
            if len(computes) == len(item.stages):
                yield item.full
            elif computes:
                yield Wave(item.index, tuple(computes))
        yield self.fuse

    def plan(self, t: int, values: AtomValues | None = None) -> FramePlan:
        """The whole :class:`FramePlan` of frame ``t`` given every atom's value."""
        values = MappingProxyType(dict(values or {}))
        named: dict[str, bool] = {}  # shared with the walk: no clock is evaluated twice
        steps = tuple(self.walk(t, values, named))
        clocks = {gate: (t == 0 or self.clocks.value(gate, t, values, named))
                  for gate in dict.fromkeys(self.gates.values())}
        return FramePlan(t, steps, MappingProxyType(clocks), values)


def _counter(step: Cache | Warp, flowed: set[str]) -> Iterator[Step]:
    """A stage's counter action; a warp is preceded by its method's ``Flow`` the first
    time the frame needs that method (``flowed`` holds the methods computed so far)."""
    if step.__class__ is Warp and step.method not in flowed:
        flowed.add(step.method)
        yield Flow(step.method)
    yield step


def _depths(frame: nx.DiGraph, order: list[str]) -> dict[str, int]:
    """Per node: how many stages precede it on its longest within-frame path (a stage's
    wave; for a measurement, the first wave that may read it)."""
    depth: dict[str, int] = {}
    for node in order:
        before = [depth[p] + isinstance(record(frame, p), StageNode)
                  for p in frame.predecessors(node)]
        depth[node] = max(before, default=0)
    return depth


def _period(program: Program) -> int | None:
    """The period of the plans of frames ``t >= 1`` when every clock is fixed (the least
    common multiple of the ``every`` periods; 1 for constant clocks), else None."""
    if program.atom_ids or program.deadlines:
        return None
    period = 1
    for clock in program.clocks:
        for part in ast.walk_clock(clock.expr):
            if isinstance(part, ast.Every):
                period = math.lcm(period, part.period)
    return period

