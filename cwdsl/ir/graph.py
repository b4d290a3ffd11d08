"""Checked AST → computation graph (a ``networkx.DiGraph``) and the lint that checks it.

Each node carries one frozen record (:mod:`cwdsl.ir.nodes`) under ``"record"``:
  ``input``            the frame ``F[0](t)``
  ``stage:S``          stage S's state ``F[S](t)``: computed by ``f_S`` (+ score heads) or
                       taken from its cache, whichever the stage's clock selects
  ``cache:S``          ``F[S](t-1)`` persisted with its scores
  ``flow:M``           the optical flow of frame t back to t-1 by method M (stages that warp)
  ``warp:S``           stage S's last computed state moved to frame t by the flows since
  ``clock:C``          a clock: a named one, or the expression of a compute rule
  ``measure:A``        a data-driven clock atom (label or pixel difference)
  ``deadline:A``       a ``fits`` atom: whether the gated stage still fits the deadline
  ``fuse``, ``output`` the skip fusion of the output stages' scores
Edges carry ``kind``, ``delay`` (frames between producer and consumer) and, where a
clock cuts them, ``gate`` (a clock node) and ``counter`` (True: gated by the counter-clock).
Outside this package the graph is read through :class:`Program`'s accessors.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Sequence

import networkx as nx

from cwdsl.core.errors import Diagnostic, ScheduleError
from cwdsl.core.netspec import NetworkSpec, get_network
from cwdsl.core.clockmodel import load_clock_model, resolve_model
from cwdsl.ir.lint import GATED, validate
from cwdsl.ir.nodes import (CacheNode, ClockNode, DeadlineNode, FlowNode, FuseNode, InputNode,
                            MeasureNode, Node, OutputNode, StageNode, WarpNode, clock_key,
                            deadline_key, measure_key, stage_key)
from cwdsl.lang import ast
from cwdsl.lang.checker import check, computable_stages
from cwdsl.lang.lalr import collector_paused
from cwdsl.lang.parser import parse, parse_file
from cwdsl.lang.printer import print_clock


def record(graph: nx.DiGraph, key: str) -> Node:
    """The typed record of node ``key``."""
    return graph.nodes[key]["record"]


def records(graph: nx.DiGraph, kind: type) -> tuple:
    """Every record of type ``kind``, in the graph's insertion order."""
    return tuple(r for _, r in graph.nodes(data="record") if isinstance(r, kind))


@dataclass(frozen=True)
class Program:
    """A checked, compiled schedule: the graph plus what it was made from."""

    schedule: ast.Schedule
    network: NetworkSpec
    graph: nx.DiGraph = field(compare=False)
    warnings: tuple[Diagnostic, ...]

    @property
    def name(self) -> str:
        src = self.schedule.source
        return Path(src.path).stem if src and src.path != "<string>" else "schedule"

    @property
    def input_size(self) -> tuple[int, int]:
        size = self.schedule.network.input
        return size.hw if size else self.network.default_input

    @cached_property
    def stage_nodes(self) -> tuple[StageNode, ...]:
        """Compiled stages in network order."""
        return tuple(sorted(records(self.graph, StageNode), key=lambda s: s.index))

    @cached_property
    def stages(self) -> tuple[str, ...]:
        """Names of the compiled stages in network order."""
        return tuple(s.name for s in self.stage_nodes)

    def stage(self, name: str) -> StageNode:
        return record(self.graph, stage_key(name))

    def previous_stage(self, name: str) -> str | None:
        """The stage whose features stage ``name`` reads (None: it reads the frame)."""
        index = self.stage(name).index
        return self.stages[index - 1] if index else None

    @cached_property
    def fuse(self) -> FuseNode:
        return record(self.graph, "fuse")

    @property
    def output_stages(self) -> tuple[str, ...]:
        return self.fuse.stages

    @cached_property
    def output_heads(self) -> tuple[str, ...]:
        """The score heads the fuse combines: the output stages' heads, in stage order."""
        return tuple(h for s in self.output_stages for h in self.stage(s).heads)

    @cached_property
    def measures(self) -> tuple[MeasureNode, ...]:
        """The data-driven clock atoms, in compilation order."""
        return records(self.graph, MeasureNode)

    @cached_property
    def atom_ids(self) -> tuple[str, ...]:
        """Ids of the data-driven clock atoms (what a trace must supply each frame)."""
        return tuple(m.atom for m in self.measures)

    def measure(self, atom: str) -> MeasureNode:
        return record(self.graph, measure_key(atom))

    @cached_property
    def deadlines(self) -> tuple[DeadlineNode, ...]:
        """The ``fits`` atoms, in network order of the stages they gate."""
        order = {s: i for i, s in enumerate(self.stages)}
        return tuple(sorted(records(self.graph, DeadlineNode), key=lambda d: order[d.stage]))

    @cached_property
    def deadline_ms(self) -> float | None:
        """The frame deadline (ms from a frame's arrival to its result) that records count
        frames on time against: the network line's (or ``--deadline``'s), else the one
        deadline every ``fits`` of the schedule gives, else None."""
        decl = self.schedule.network.deadline
        if decl is not None:
            return decl.ms
        given = {d.deadline_ms for d in self.deadlines}
        return given.pop() if len(given) == 1 else None

    def check_deadlines(self) -> None:
        """A ``ScheduleError`` at each bare ``fits`` when the schedule has no deadline."""
        bare = [d for d in self.deadlines if d.deadline_ms is None]
        if bare:
            source = self.schedule.source
            raise ScheduleError([Diagnostic(
                "'fits' keeps the frame deadline, and none is given: write fits(40ms), add "
                "'deadline 40ms' to the network line, or give --deadline", d.expr.span,
                source=source) for d in bare])

    @cached_property
    def flows(self) -> tuple[FlowNode, ...]:
        """The optical flow nodes (one per method that some warping stage uses)."""
        return records(self.graph, FlowNode)

    @cached_property
    def warps(self) -> tuple[WarpNode, ...]:
        """The warp nodes, one per stage whose counter-clock warps, in network order."""
        order = {s: i for i, s in enumerate(self.stages)}
        return tuple(sorted(records(self.graph, WarpNode), key=lambda w: order[w.stage]))

    @cached_property
    def clocks(self) -> tuple[ClockNode, ...]:
        return records(self.graph, ClockNode)

    def clock(self, name: str) -> ClockNode:
        return record(self.graph, clock_key(name))


def atom_id(atom: ast.DataAtom) -> str:
    """A data-driven atom's id: its canonical text. Identical atoms share one measurement."""
    return print_clock(atom)


def deadline_id(atom: ast.Fits, stage: str) -> str:
    """A ``fits`` atom's id: its canonical text and the stage it decides for."""
    return f"{print_clock(atom)} for {stage}"


def has_fits(expr: ast.ClockExpr) -> bool:
    return any(isinstance(node, ast.Fits) for node in ast.walk_clock(expr))


def with_deadline(schedule: ast.Schedule, ms: float) -> ast.Schedule:
    """The same schedule with frame deadline ``ms`` (the command line's ``--deadline``,
    which replaces the network line's)."""
    decl = schedule.network
    return replace(schedule, network=replace(decl, deadline=ast.Duration(ms)))


def under_deadlines(program: Program, deadlines: Sequence[float], streams: int
                    ) -> list[Program]:
    """Per stream ``i``, ``program`` under the ``i``-th of ``deadlines`` (cycled), each
    distinct one compiled once (``program`` itself where its deadline is that one)."""
    variants = {d: program if d == program.deadline_ms
                else compile_schedule(program.schedule, None, d) for d in set(deadlines)}
    return [variants[deadlines[i % len(deadlines)]] for i in range(streams)]


def clock_name(expr: ast.ClockExpr) -> str:
    """The name of the clock node of a rule's clock: the clock's name, or the canonical
    text of an inline expression."""
    return expr.name.name if isinstance(expr, ast.ClockRef) else print_clock(expr)


def retarget(schedule: ast.Schedule, network: str) -> ast.Schedule:
    """The same schedule on another network (e.g. ``tiny`` for ``fcn8s``: same layer
    names); the checker then validates the stages against that network. An unknown
    ``network`` is the caller's mistake (the command line's ``--net``), not the file's."""
    get_network(network, option="--net")
    decl = schedule.network
    name = ast.Ident(network, span=decl.name.span)
    return replace(schedule, network=replace(decl, name=name))


def compile_schedule(schedule: ast.Schedule, network: str | None = None,
                     deadline_ms: float | None = None) -> Program:
    """Check ``schedule`` and compile it into a :class:`Program`; lint the result.
    ``network`` runs the schedule on another registered network (see :func:`retarget`);
    ``deadline_ms`` replaces its frame deadline (:func:`with_deadline`)."""
    with collector_paused():  # (the collector's passes over a large AST cost more than this)
        return _compile(schedule, network, deadline_ms)


def _compile(schedule: ast.Schedule, network: str | None, deadline_ms: float | None) -> Program:
    if network is not None:
        schedule = retarget(schedule, network)
    if deadline_ms is not None:
        schedule = with_deadline(schedule, deadline_ms)
    warnings = check(schedule)
    spec = get_network(schedule.network.name.name)
    decls = {d.name.name: d for d in schedule.clocks}
    rules = {r.stage.name: r for r in schedule.rules}
    decl_of = {s.name.name: s for s in schedule.stages}
    g = nx.DiGraph(schedule=schedule.source.path if schedule.source else "<string>",
                   network=spec.name)
    g.add_node("input", record=InputNode())

    def add_measure(part: ast.DataAtom, reader: str) -> None:
        atom = atom_id(part)
        if measure_key(atom) in g:  # the same atom again: one measurement
            g.add_edge(measure_key(atom), reader, kind="clock", delay=0)
            return
        if isinstance(part, ast.PixelDiff):
            measure = MeasureNode(atom, part, None, None)
            sources = ["input"]
        elif isinstance(part, ast.Predicted):  # the head's labels and the frame's pixels
            stage = part.stage.name
            head = spec.deepest_head(h.name for h in decl_of[stage].heads)
            model = load_clock_model(resolve_model(part.model.name, part.model.is_path,
                                                   schedule.source and schedule.source.path))
            measure = MeasureNode(atom, part, stage, head, ast.DEFAULT_REGION, model)
            sources = ["input", stage_key(stage)]
        else:  # a label difference reads its stage's deepest score head, over its region
            stage = part.stage.name
            head = spec.deepest_head(h.name for h in decl_of[stage].heads)
            measure = MeasureNode(atom, part, stage, head, part.region)
            sources = [stage_key(stage)]
        g.add_node(measure.key, record=measure)
        for source in sources:
            g.add_edge(source, measure.key, kind="reads", delay=0)
        g.add_edge(measure.key, reader, kind="clock", delay=0)

    clock_exprs = {name: decl.expr for name, decl in decls.items()}
    known: dict = {}  # named clocks' constant values, for every deadline

    def add_deadline(part: ast.Fits, reader: str, stage: str) -> None:
        atom = deadline_id(part, stage)
        if deadline_key(atom) not in g:
            deadline = part.deadline or schedule.network.deadline
            rest, counters, index = [], [], names.index(stage) + 1
            while index < len(names) and rules[names[index]].delay == 0:
                rule = rules[names[index]]  # reads the stage before it within the frame
                if ast.always_fires(rule.clock, clock_exprs, known):
                    rest.append(names[index])
                else:
                    counters.append((names[index], rule.flow.name if rule.counter == "warp"
                                     else None))
                index += 1
            node = DeadlineNode(atom, part, stage, deadline.ms if deadline else None,
                                tuple(rest), tuple(counters))
            g.add_node(node.key, record=node)
        g.add_edge(deadline_key(atom), reader, kind="clock", delay=0)

    def add_clock(expr: ast.ClockExpr, stage: str | None = None) -> str:
        """The clock node of ``expr`` and of every named clock it reaches (a worklist:
        chains of named clocks may be thousands long). ``stage``: the stage a rule's clock
        gates, which its ``fits`` atoms decide for (such a clock is named for it)."""
        first, pending = None, [expr]
        while pending:
            current = pending.pop()
            named = isinstance(current, ast.ClockRef)
            timed = not named and current is expr and has_fits(current)
            name = current.name.name if named else print_clock(current) + (
                f" for {stage}" if timed else "")
            node = clock_key(name)
            first = first or node
            if "record" in g.nodes.get(node, {}):
                continue  # built already (an edge from it may have come first)
            body = decls[name].expr if named else current
            g.add_node(node, record=ClockNode(name, body, named=named,
                                              stage=stage if timed else None))
            for part in _shallow_parts(body):
                if isinstance(part, ast.ClockRef):
                    g.add_edge(clock_key(part.name.name), node, kind="clock", delay=0)
                    pending.append(part)
                elif isinstance(part, ast.Fits):
                    add_deadline(part, node, stage)
                else:
                    add_measure(part, node)
        return first

    names = computable_stages(schedule)
    previous = "input"
    for name in names:
        key, cache = stage_key(name), CacheNode(name)
        g.add_node(key)  # its record follows once its clock exists (see below)
        g.add_node(cache.key, record=cache)
        g.add_edge(previous, key, kind="features", delay=rules[name].delay, gate=None,
                   counter=False)
        rule = rules[name]
        if rule.counter == "warp":  # the cache, moved by the flow: warp:S feeds the stage
            flow, warp = FlowNode(rule.flow.name), WarpNode(name, rule.flow.name)
            if flow.key not in g:
                g.add_node(flow.key, record=flow)
                g.add_edge("input", flow.key, kind="reads", delay=0)
            g.add_node(warp.key, record=warp)
            g.add_edge(cache.key, warp.key, kind="cache", delay=0)
            g.add_edge(flow.key, warp.key, kind="flow", delay=0)
            g.add_edge(warp.key, key, kind="warp", delay=0, gate=None, counter=True)
        else:
            g.add_edge(cache.key, key, kind="cache", delay=0, gate=None, counter=True)
        g.add_edge(key, cache.key, kind="persist", delay=1)
        previous = key
    # Clocks are built once every stage node exists: a labeldiff may read a later stage
    # when delays allow it.
    for index, name in enumerate(names):
        stage, rule = decl_of[name], rules[name]
        key = stage_key(name)
        gate = add_clock(rule.clock, name)
        g.nodes[key]["record"] = StageNode(
            name, index, stage.first.name, stage.last.name, tuple(h.name for h in stage.heads),
            rule.delay, record(g, gate).name, rule.counter,
            rule.flow.name if rule.flow is not None else None)
        for _, _, data in g.in_edges(key, data=True):
            if data["kind"] in GATED:
                data["gate"] = gate
        g.add_edge(gate, key, kind="gate", delay=0)
    fuse = FuseNode(tuple(s.name for s in schedule.output.stages))
    g.add_node(fuse.key, record=fuse)
    for name in fuse.stages:
        g.add_edge(stage_key(name), fuse.key, kind="score", delay=0)
    g.add_node("output", record=OutputNode())
    g.add_edge(fuse.key, "output", kind="output", delay=0)
    validate(g)  # (cwdsl.ir.lint)
    _drop_view_cycles(g)
    return Program(schedule, spec, g, warnings)


def _drop_view_cycles(graph: nx.DiGraph) -> None:
    """Forget the edge and degree views networkx caches on ``graph``: each refers back to
    it, a reference cycle that keeps the graph, and every AST node its records hold, alive
    until the cyclic collector's next full pass (0.4 s at exit for 10,000 clocks). networkx
    makes them again when asked."""
    for view in ("edges", "in_edges", "out_edges", "degree", "in_degree", "out_degree"):
        graph.__dict__.pop(view, None)


def _shallow_parts(expr: ast.ClockExpr):
    """Named-clock references and data atoms of ``expr``, not looking inside references."""
    for node in ast.walk_clock(expr):
        if isinstance(node, (ast.ClockRef, ast.Fits, *ast.DATA_ATOMS)):
            yield node


def within_frame(graph: nx.DiGraph) -> nx.DiGraph:
    """Every node, and the delay-0 edges: what must happen in order inside one frame.
    (Built directly, in the order ``edge_subgraph(...).copy()`` gives, without its views'
    cost per node: the nodes of those edges, then the others.)"""
    edges = [(u, v, d) for u, v, d in graph.edges(data=True) if d.get("delay") == 0]
    ends = {n for u, v, _ in edges for n in (u, v)}
    frame = nx.DiGraph()
    frame.graph.update(graph.graph)
    frame.add_nodes_from((n, d) for n, d in graph.nodes(data=True) if n in ends)
    frame.add_edges_from((u, v, dict(d)) for u, v, d in edges)
    frame.add_nodes_from(graph.nodes(data=True))
    return frame


def compile_text(text: str, path: str = "<string>", network: str | None = None) -> Program:
    """Parse, check and compile schedule text."""
    return compile_schedule(parse(text, path), network)


def load(path: str | Path, network: str | None = None,
         deadline_ms: float | None = None) -> Program:
    """Parse, check and compile a ``.cw`` file (``deadline_ms``: :func:`with_deadline`)."""
    return compile_schedule(parse_file(path), network, deadline_ms)
