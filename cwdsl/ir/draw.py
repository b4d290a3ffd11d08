"""Drawings of a compiled graph: PNG/SVG (matplotlib via networkx) or Graphviz DOT."""
from __future__ import annotations

import textwrap
from pathlib import Path

import networkx as nx

from cwdsl.core.atomic import write_text
from cwdsl.core.errors import InputError
from cwdsl.core.figures import pyplot, save_figure
from cwdsl.core.outputs import check_output
from cwdsl.ir.graph import Program, record, records
from cwdsl.ir.nodes import CacheNode, ClockNode, FuseNode, MeasureNode, StageNode, cache_key, clock_key

FORMATS = (".png", ".svg", ".pdf", ".dot")
_STYLE = {  # edge kind → (colour, line style)
    "features": ("#222222", "solid"),
    "cache": ("#888888", "dashed"),
    "persist": ("#888888", "dotted"),
    "gate": ("#c0392b", "dotted"),
    "reads": ("#2471a3", "solid"),
    "clock": ("#c0392b", "solid"),
    "score": ("#1e8449", "solid"),
    "output": ("#1e8449", "solid"),
}
_NODE_COLOUR = {"input": "#d6eaf8", "stage": "#fdebd0", "cache": "#eaeded", "clock": "#fadbd8",
                "measure": "#d4e6f1", "fuse": "#d5f5e3", "output": "#d5f5e3"}


def node_label(g: nx.DiGraph, node: str) -> str:
    rec = record(g, node)
    match rec:
        case StageNode():
            return f"{rec.name}\n{rec.first}..{rec.last}\n→ {', '.join(rec.heads)}"
        case CacheNode():
            return f"cache {rec.stage}"
        case ClockNode():
            body = rec.text if rec.named else ""
            text = rec.name + (f" =\n{body}" if body and body != rec.name else "")
            return "\n".join(textwrap.wrap(text, 24, break_long_words=False)) or rec.name
        case MeasureNode():
            return "\n".join(textwrap.wrap(rec.atom, 22))
        case FuseNode():
            return "fuse(" + ", ".join(rec.stages) + ")"
    return node


def _kinds(g: nx.DiGraph) -> dict[str, str]:
    return {n: r.kind for n, r in g.nodes(data="record")}


def edge_label(g: nx.DiGraph, u: str, v: str) -> str:
    data = g.edges[u, v]
    gate = record(g, data["gate"]).name if data.get("gate") else ""
    parts = []
    if data["kind"] == "features":
        parts.append(f"when {gate}")
    elif data["kind"] == "cache":
        parts.append(f"else (not {gate})")
    if data["delay"]:
        parts.append(f"delay {data['delay']}" if data["kind"] != "persist" else "t-1")
    return "\n".join(textwrap.wrap(", ".join(parts), 26)) if parts else ""


def layout(g: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Stages left to right, caches below them, clocks and measurements above."""
    pos: dict[str, tuple[float, float]] = {"input": (0.0, 0.0)}
    stages = [s.key for s in sorted(records(g, StageNode), key=lambda s: s.index)]
    for i, node in enumerate(stages, start=1):
        pos[node] = (3.0 * i, 0.0)
        pos[cache_key(record(g, node).name)] = (3.0 * i, -2.2)
    pos["fuse"] = (3.0 * (len(stages) + 1), 0.0)
    pos["output"] = (3.0 * (len(stages) + 1.8), 0.0)
    for node in stages:  # a stage's gate clock sits above it
        gate = clock_key(record(g, node).gate)
        if gate not in pos:
            pos[gate] = (pos[node][0], 2.6)
    placed_x: list[float] = []
    for node, kind in _kinds(g).items():
        if kind == "measure":
            source = next(iter(g.predecessors(node)))
            x = pos[source][0] + 1.5
            while any(abs(x - other) < 1.2 for other in placed_x):
                x += 1.3
            placed_x.append(x)
            pos[node] = (x, 1.2)
    level = 3.9
    for node, kind in _kinds(g).items():
        if kind == "clock" and node not in pos:
            users = [pos[s][0] for s in g.successors(node) if s in pos]
            pos[node] = (sum(users) / len(users) if users else 0.0, level)
            level += 0.9
    return pos


def to_dot(g: nx.DiGraph) -> str:
    """Graphviz text with the same labels and styles as the picture."""
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = ["digraph cwdsl {", "  rankdir=LR;", "  node [shape=box, style=filled, fontname=Helvetica];"]
    for node, kind in _kinds(g).items():
        shape = {"clock": "ellipse", "measure": "hexagon", "cache": "box3d"}.get(kind, "box")
        lines.append(f"  {q(node)} [label={q(node_label(g, node))}, shape={shape}, "
                     f"fillcolor={q(_NODE_COLOUR[kind])}];")
    for u, v, data in g.edges(data=True):
        colour, style = _STYLE[data["kind"]]
        lines.append(f"  {q(u)} -> {q(v)} [label={q(edge_label(g, u, v))}, color={q(colour)}, "
                     f"style={style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def check_picture_path(out: str | Path) -> Path:
    """``out`` as a ``Path`` if it names a format :func:`draw` writes and can be written;
    an ``InputError`` otherwise."""
    out = check_output(out, "picture")
    if out.suffix.lower() not in FORMATS:
        raise InputError(f"{out}: unknown picture format '{out.suffix}'; use one of "
                         f"{', '.join(FORMATS)}")
    return out


def draw(program: Program, out: str | Path) -> Path:
    """Write the graph of ``program`` to ``out`` (format from the suffix), atomically."""
    out = check_picture_path(out)
    g = program.graph
    if out.suffix.lower() == ".dot":
        write_text(out, to_dot(g))
        return out
    plt = pyplot()
    pos = layout(g)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    fig, ax = plt.subplots(figsize=(1.0 + 0.85 * (max(xs) - min(xs)), 1.5 + 0.95 * (max(ys) - min(ys))))
    for kind, (colour, style) in _STYLE.items():
        edges = [(u, v) for u, v, k in g.edges(data="kind") if k == kind]
        rad = {"persist": 0.25, "cache": 0.25, "score": 0.12}.get(kind, 0.0)
        nx.draw_networkx_edges(g, pos, edgelist=edges, ax=ax, edge_color=colour, style=style,
                               arrows=True, arrowsize=14, node_size=3600,
                               connectionstyle=f"arc3,rad={rad}")
    for kind, colour in _NODE_COLOUR.items():
        nodes = [n for n, k in _kinds(g).items() if k == kind]
        shape = {"clock": "o", "measure": "h"}.get(kind, "s")
        nx.draw_networkx_nodes(g, pos, nodelist=nodes, ax=ax, node_color=colour,
                               node_shape=shape, node_size=3600, edgecolors="#555555")
    nx.draw_networkx_labels(g, pos, labels={n: node_label(g, n) for n in g}, ax=ax, font_size=7)
    labels = {(u, v): edge_label(g, u, v) for u, v in g.edges if edge_label(g, u, v)}
    nx.draw_networkx_edge_labels(g, pos, edge_labels=labels, ax=ax, font_size=6,
                                 bbox=dict(boxstyle="round", fc="white", ec="none", alpha=0.8))
    ax.set_title(f"{program.name}: {program.network.name} "
                 f"{program.input_size[0]}x{program.input_size[1]} "
                 "(black: features, grey dashed: cache, red: clocks, green: scores)", fontsize=9)
    ax.set_xlim(min(xs) - 1.4, max(xs) + 1.4)
    ax.set_ylim(min(ys) - 1.2, max(ys) + 1.0)
    ax.axis("off")
    fig.tight_layout()
    save_figure(fig, out, dpi=130)
    return out
