"""Checked AST → computation graph (a ``networkx.DiGraph``) and the lint that checks it.

Nodes (attribute ``kind``):
  ``input``            the frame ``F[0](t)``
  ``stage:S``          stage S's state ``F[S](t)``: computed by ``f_S`` (+ score heads) or
                       taken from its cache, whichever the stage's clock selects
  ``cache:S``          ``F[S](t-1)`` persisted with its scores
  ``clock:C``          a clock: a named one, or the expression of a compute rule
  ``measure:A``        a data-driven clock atom (label or pixel difference)
  ``fuse``, ``output`` the skip fusion of the output stages' scores
Edges carry ``kind``, ``delay`` (frames between producer and consumer) and, where a
clock cuts them, ``gate`` (a clock node) and ``counter`` (True: gated by the counter-clock).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import networkx as nx

from cwdsl.lang import ast
from cwdsl.lang.checker import check, computable_stages
from cwdsl.core.errors import Diagnostic, InternalError
from cwdsl.core.netspec import NetworkSpec, get_network
from cwdsl.lang.parser import parse, parse_file
from cwdsl.lang.printer import print_clock


@dataclass(frozen=True)
class Program:
    """A checked, compiled schedule: the graph plus what it was made from."""

    schedule: ast.Schedule
    network: NetworkSpec
    graph: nx.DiGraph
    warnings: tuple[Diagnostic, ...]

    @property
    def name(self) -> str:
        src = self.schedule.source
        return Path(src.path).stem if src and src.path != "<string>" else "schedule"

    @property
    def input_size(self) -> tuple[int, int]:
        size = self.schedule.network.input
        return (size.height, size.width) if size else self.network.default_input

    @property
    def stages(self) -> tuple[str, ...]:
        """Compiled stages in network order."""
        return tuple(n.removeprefix("stage:") for n, k in self.graph.nodes(data="kind")
                     if k == "stage")

    @property
    def output_stages(self) -> tuple[str, ...]:
        return self.graph.nodes["fuse"]["stages"]

    @property
    def atoms(self) -> tuple[str, ...]:
        """Ids of the data-driven clock atoms (what a trace must supply)."""
        return tuple(n.removeprefix("measure:") for n, k in self.graph.nodes(data="kind")
                     if k == "measure")


def atom_id(atom: ast.DataAtom) -> str:
    """A data-driven atom's id: its canonical text. Identical atoms share one measurement."""
    return print_clock(atom)


def clock_node(expr: ast.ClockExpr) -> str:
    return f"clock:{expr.name.name}" if isinstance(expr, ast.ClockRef) else \
        f"clock:{print_clock(expr)}"


def retarget(schedule: ast.Schedule, network: str) -> ast.Schedule:
    """The same schedule on another network (e.g. ``tiny`` for ``fcn8s``: same layer
    names); the checker then validates the stages against that network."""
    decl = schedule.network
    name = ast.Ident(network, span=decl.name.span)
    return replace(schedule, network=replace(decl, name=name))


def compile_schedule(schedule: ast.Schedule, network: str | None = None) -> Program:
    """Check ``schedule`` and compile it into a :class:`Program`; lint the result.
    ``network`` runs the schedule on another registered network (see :func:`retarget`)."""
    if network is not None:
        schedule = retarget(schedule, network)
    warnings = check(schedule)
    spec = get_network(schedule.network.name.name)
    decls = {d.name.name: d for d in schedule.clocks}
    rules = {r.stage.name: r for r in schedule.rules}
    g = nx.DiGraph(schedule=schedule.source.path if schedule.source else "<string>",
                   network=spec.name)
    g.add_node("input", kind="input")

    def add_clock(expr: ast.ClockExpr) -> str:
        node = clock_node(expr)
        if node in g:
            return node
        body = decls[expr.name.name].expr if isinstance(expr, ast.ClockRef) else expr
        g.add_node(node, kind="clock", expr=body, text=print_clock(body),
                   named=isinstance(expr, ast.ClockRef))
        for part in _shallow_parts(body):
            if isinstance(part, ast.ClockRef):
                g.add_edge(add_clock(part), node, kind="clock", delay=0)
            else:
                measure = f"measure:{atom_id(part)}"
                if measure not in g:
                    # a label difference reads its stage's deepest score head
                    head = None if isinstance(part, ast.PixelDiff) else max(
                        (h.name for h in decl_of[part.stage.name].heads),
                        key=lambda h: spec.layer_index(spec.head(h).reads))
                    g.add_node(measure, kind="measure", atom=part, head=head)
                    source = "input" if isinstance(part, ast.PixelDiff) else \
                        f"stage:{part.stage.name}"
                    g.add_edge(source, measure, kind="reads", delay=0)
                g.add_edge(measure, node, kind="clock", delay=0)
        return node

    decl_of = {s.name.name: s for s in schedule.stages}
    previous = "input"
    for index, name in enumerate(computable_stages(schedule)):
        stage, rule = decl_of[name], rules[name]
        node, cache = f"stage:{name}", f"cache:{name}"
        g.add_node(node, kind="stage", stage=name, index=index, first=stage.first.name,
                   last=stage.last.name, heads=tuple(h.name for h in stage.heads))
        g.add_node(cache, kind="cache", stage=name)
        previous_node = previous
        previous = node
        # The clock's inputs are added after the stage nodes exist (labeldiff may read
        # a later stage when delays allow it), so defer clock construction.
        g.nodes[node]["rule"] = rule
        g.add_edge(previous_node, node, kind="features", delay=rule.delay, gate=None,
                   counter=False)
        g.add_edge(cache, node, kind="cache", delay=0, gate=None, counter=True)
        g.add_edge(node, cache, kind="persist", delay=1)
    for name in computable_stages(schedule):
        node = f"stage:{name}"
        rule = g.nodes[node].pop("rule")
        gate = add_clock(rule.clock)
        g.nodes[node]["gate"] = gate
        g.nodes[node]["delay"] = rule.delay
        for u, _, data in g.in_edges(node, data=True):
            if data["kind"] in ("features", "cache"):
                data["gate"] = gate
        g.add_edge(gate, node, kind="gate", delay=0)
    outputs = tuple(s.name for s in schedule.output.stages)
    g.add_node("fuse", kind="fuse", stages=outputs)
    for name in outputs:
        g.add_edge(f"stage:{name}", "fuse", kind="score", delay=0)
    g.add_node("output", kind="output")
    g.add_edge("fuse", "output", kind="output", delay=0)
    validate(g)
    return Program(schedule, spec, g, warnings)


def _shallow_parts(expr: ast.ClockExpr):
    """Named-clock references and data atoms of ``expr``, not looking inside references."""
    for node in ast.walk_clock(expr):
        if isinstance(node, (ast.ClockRef, ast.LabelDiff, ast.PixelDiff)):
            yield node


def within_frame(graph: nx.DiGraph) -> nx.DiGraph:
    """The subgraph of delay-0 edges: what must happen in order inside one frame."""
    return graph.edge_subgraph([(u, v) for u, v, d in graph.edges(data="delay") if d == 0]).copy()


def validate(graph: nx.DiGraph) -> None:
    """Lint a compiled graph; raise ``InternalError`` listing every broken invariant."""
    problems = []
    kinds = dict(graph.nodes(data="kind"))
    if None in kinds.values():
        problems.append("a node has no kind")
    frame = within_frame(graph)
    frame.add_nodes_from(graph.nodes)
    if not nx.is_directed_acyclic_graph(frame):
        problems.append(f"cycle within a frame: {nx.find_cycle(frame)}")
    for u, v, data in graph.edges(data=True):
        gate = data.get("gate")
        if gate is not None and kinds.get(gate) != "clock":
            problems.append(f"edge {u} → {v} is gated by {gate}, which is not a clock")
        if data.get("delay") is None or data["delay"] < 0:
            problems.append(f"edge {u} → {v} has no valid delay")
    for node, kind in kinds.items():
        if kind == "stage":
            gates = {d.get("gate") for _, _, d in graph.in_edges(node, data=True)
                     if d["kind"] in ("features", "cache")}
            if len(gates) != 1 or None in gates:
                problems.append(f"{node}: compute and cache edges must share one clock")
            elif not graph.has_edge(gates.pop(), node):
                problems.append(f"{node}: its clock is not ordered before it")
        if kind == "measure":
            for reader in graph.successors(node):
                if kinds[reader] != "clock":
                    problems.append(f"{node} feeds {reader}, which is not a clock")
        if kind == "cache":
            persist = [d for _, _, d in graph.in_edges(node, data=True) if d["kind"] == "persist"]
            if len(persist) != 1 or persist[0]["delay"] < 1:
                problems.append(f"{node}: must be fed once by its stage from an earlier frame")
    for node in (n for n, k in kinds.items() if k == "stage"):
        features = [u for u, _, d in graph.in_edges(node, data=True) if d["kind"] == "features"]
        if len(features) != 1 or kinds.get(features[0]) not in ("input", "stage"):
            problems.append(f"{node}: must read exactly one input or stage")
    for u, v, kind in graph.edges(data="kind"):
        if kind == "reads" and kinds[u] not in ("input", "stage"):
            problems.append(f"{v} reads {u}, which holds no features")
        if kind == "score" and (kinds[u] != "stage" or v != "fuse"):
            problems.append(f"score edge {u} → {v} must go from a stage to the fuse")
    if problems:
        raise InternalError("compiled graph fails its lint:\n  " + "\n  ".join(problems))


def compile_text(text: str, path: str = "<string>", network: str | None = None) -> Program:
    """Parse, check and compile schedule text."""
    return compile_schedule(parse(text, path), network)


def load(path: str | Path, network: str | None = None) -> Program:
    """Parse, check and compile a ``.cw`` file."""
    return compile_schedule(parse_file(path), network)
