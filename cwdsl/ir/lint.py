"""The lint of a compiled graph: the invariants every :class:`~cwdsl.ir.graph.Program`'s
graph keeps (a record per node, no cycle within a frame, every stage fed by one compute and
one counter edge under one clock, …), checked after every compile."""
from __future__ import annotations

import networkx as nx

from cwdsl.core.errors import InternalError

GATED = ("features", "cache", "warp")
"""Edge kinds into a stage that its clock cuts: compute (``features``) when it fires, the
counter action (``cache`` or ``warp``) when it does not."""


def _acyclic_within_frame(graph: nx.DiGraph) -> bool:
    """Whether the delay-0 edges make no cycle (Kahn's algorithm on the graph itself: a
    copy of a 10,000-clock graph costs more than the check)."""
    succ = dict(graph.adjacency())
    waiting = dict.fromkeys(graph, 0)  # node → delay-0 edges into it not yet taken
    for nbrs in succ.values():
        for v, data in nbrs.items():
            if data.get("delay") == 0:
                waiting[v] += 1
    ready = [n for n, k in waiting.items() if k == 0]
    taken = 0
    while ready:
        taken += 1
        for v, data in succ[ready.pop()].items():
            if data.get("delay") == 0:
                waiting[v] -= 1
                if not waiting[v]:
                    ready.append(v)
    return taken == len(waiting)


def validate(graph: nx.DiGraph) -> None:
    """Lint a compiled graph; raise ``InternalError`` listing every broken invariant."""
    problems = []
    recs = dict(graph.nodes(data="record"))
    if None in recs.values():
        problems.append("a node has no record")
    kinds = {n: (r.kind if r is not None else None) for n, r in recs.items()}
    for node, rec in recs.items():
        if rec is not None and rec.key != node:
            problems.append(f"node {node} carries the record of {rec.key}")
    if not _acyclic_within_frame(graph):
        problems.append(f"cycle within a frame: {nx.find_cycle(_delay_0(graph))}")
    last = []  # (reported after the nodes' problems)
    for u, nbrs in graph.adjacency():  # every edge, once
        for v, data in nbrs.items():
            gate, kind = data.get("gate"), data.get("kind")
            if gate is not None and kinds.get(gate) != "clock":
                problems.append(f"edge {u} → {v} is gated by {gate}, which is not a clock")
            if data.get("delay") is None or data["delay"] < 0:
                problems.append(f"edge {u} → {v} has no valid delay")
            if kind == "reads" and kinds[u] not in ("input", "stage"):
                last.append(f"{v} reads {u}, which holds no features")
            if kind == "score" and (kinds[u] != "stage" or v != "fuse"):
                last.append(f"score edge {u} → {v} must go from a stage to the fuse")
    for node, kind in kinds.items():
        if kind == "stage":
            gated = [d for _, _, d in graph.in_edges(node, data=True) if d["kind"] in GATED]
            gates = {d.get("gate") for d in gated}
            if len(gated) != 2:
                problems.append(f"{node}: needs one compute edge and one counter edge")
            if len(gates) != 1 or None in gates:
                problems.append(f"{node}: compute and cache edges must share one clock")
            else:
                gate = gates.pop()
                if not graph.has_edge(gate, node):
                    problems.append(f"{node}: its clock is not ordered before it")
                elif kinds.get(gate) == "clock" and recs[gate].name != recs[node].gate:
                    problems.append(f"{node}: its record names another clock than its edges")
        if kind in ("measure", "deadline"):
            for reader in graph.successors(node):
                if kinds[reader] != "clock":
                    problems.append(f"{node} feeds {reader}, which is not a clock")
        if kind == "cache":
            persist = [d for _, _, d in graph.in_edges(node, data=True) if d["kind"] == "persist"]
            if len(persist) != 1 or persist[0]["delay"] < 1:
                problems.append(f"{node}: must be fed once by its stage from an earlier frame")
        if kind == "warp":
            into = sorted(kinds[u] for u in graph.predecessors(node))
            out = [v for v in graph.successors(node)]
            if into != ["cache", "flow"] or out != [f"stage:{recs[node].stage}"]:
                problems.append(f"{node}: must read its stage's cache and a flow, and feed "
                                f"its stage")
        if kind == "flow" and list(graph.predecessors(node)) != ["input"]:
            problems.append(f"{node}: must read the input frames")
    for node in (n for n, k in kinds.items() if k == "stage"):
        features = [u for u, _, d in graph.in_edges(node, data=True) if d["kind"] == "features"]
        if len(features) != 1 or kinds.get(features[0]) not in ("input", "stage"):
            problems.append(f"{node}: must read exactly one input or stage")
    problems += last
    if problems:
        raise InternalError("compiled graph fails its lint:\n  " + "\n  ".join(problems))



def _delay_0(graph: nx.DiGraph) -> nx.DiGraph:
    """The delay-0 edges of ``graph`` (where a cycle within a frame lies)."""
    return graph.edge_subgraph([(u, v) for u, v, d in graph.edges(data=True)
                                if d.get("delay") == 0])
