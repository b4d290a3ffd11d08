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
from cwdsl.ir.nodes import (CacheNode, ClockNode, FlowNode, FuseNode, MeasureNode, StageNode,
                            WarpNode, cache_key, clock_key)

FORMATS = (".png", ".svg", ".pdf", ".dot")
_STYLE = {  # edge kind → (colour, line style)
    "features": ("#222222", "solid"),
    "cache": ("#888888", "dashed"),
    "persist": ("#888888", "dotted"),
    "gate": ("#c0392b", "dotted"),
    "reads": ("#2471a3", "solid"),
    "clock": ("#c0392b", "solid"),
    "score": ("#1e8449", "solid"),
    "flow": ("#7d3c98", "solid"),
    "warp": ("#7d3c98", "dashed"),
    "output": ("#1e8449", "solid"),
}
CACHE_Y = -3.4      # caches sit below their stages, leaving a lane for score edges
SCORE_LANE_Y = -0.95  # score edges that would cross a stage run along here instead
NODE_SIZE = 3600      # marker area in points²: a box or circle 60 points across
_NODE_COLOUR = {"input": "#d6eaf8", "stage": "#fdebd0", "cache": "#eaeded", "clock": "#fadbd8",
                "measure": "#d4e6f1", "fuse": "#d5f5e3", "output": "#d5f5e3", "flow": "#e8daef",
                "warp": "#e8daef"}


def node_label(g: nx.DiGraph, node: str) -> str:
    rec = record(g, node)
    match rec:
        case StageNode():
            return f"{rec.name}\n{rec.first}..{rec.last}\n→ {', '.join(rec.heads)}"
        case CacheNode():
            return f"cache {rec.stage}"
        case FlowNode():
            return f"flow {rec.method}\nt → t-1"
        case WarpNode():
            return f"warp {rec.stage}"
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
    elif data["kind"] in ("cache", "warp") and gate:
        parts.append(f"else (not {gate})")
    if data["delay"]:
        parts.append(f"delay {data['delay']}" if data["kind"] != "persist" else "t-1")
    return "\n".join(textwrap.wrap(", ".join(parts), 26)) if parts else ""


def layout(g: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Stages left to right, caches below them (a warp beside its cache, flows below the
    input), clocks and measurements above."""
    pos: dict[str, tuple[float, float]] = {"input": (0.0, 0.0)}
    stages = [s.key for s in sorted(records(g, StageNode), key=lambda s: s.index)]
    for i, node in enumerate(stages, start=1):
        pos[node] = (3.0 * i, 0.0)
        pos[cache_key(record(g, node).name)] = (3.0 * i, CACHE_Y)
    for warp in records(g, WarpNode):
        x = pos[cache_key(warp.stage)][0]
        pos[warp.key] = (x - 1.3, CACHE_Y + 1.2)
    for i, flow in enumerate(records(g, FlowNode)):
        pos[flow.key] = (1.5, CACHE_Y - 1.5 * i)
    pos["fuse"] = (3.0 * (len(stages) + 1), 0.0)
    pos["output"] = (3.0 * (len(stages) + 1.8), 0.0)
    for node in stages:  # a stage's gate clock sits above it
        gate = clock_key(record(g, node).gate)
        if gate not in pos:
            pos[gate] = (pos[node][0], 2.6)
    placed_x: list[float] = []
    for node, kind in _kinds(g).items():
        if kind == "measure":
            source = max(g.predecessors(node), key=lambda n: pos[n][0])  # its stage
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
        shape = {"clock": "ellipse", "measure": "hexagon", "cache": "box3d",
                 "flow": "parallelogram"}.get(kind, "box")
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
    for kind, colour in _NODE_COLOUR.items():
        nodes = [n for n, k in _kinds(g).items() if k == kind]
        nx.draw_networkx_nodes(g, pos, nodelist=nodes, ax=ax, node_color=colour,
                               node_shape=_SHAPE.get(kind, "s"), node_size=NODE_SIZE,
                               edgecolors="#555555")
    nx.draw_networkx_labels(g, pos, labels={n: node_label(g, n) for n in g}, ax=ax, font_size=7)
    ax.set_title(f"{program.name}: {program.network.name} "
                 f"{program.input_size[0]}x{program.input_size[1]} "
                 "(black: features, grey dashed: cache, purple: flow and warp, red: clocks, green: scores)", fontsize=9)
    ax.set_xlim(min(xs) - 1.4, max(xs) + 1.4)
    ax.set_ylim(min(ys) - 1.2, max(ys) + 1.0)
    ax.axis("off")
    fig.tight_layout()  # before the edges: their arrowheads are placed in display space
    routed = _draw_edges(g, pos, ax)
    labels = {(u, v): edge_label(g, u, v) for u, v in g.edges
              if edge_label(g, u, v) and (u, v) not in routed}
    nx.draw_networkx_edge_labels(g, pos, edge_labels=labels, ax=ax, font_size=6,
                                 bbox=dict(boxstyle="round", fc="white", ec="none", alpha=0.8))
    save_figure(fig, out, dpi=130)
    return out


_SHAPE = {"clock": "o", "measure": "h", "flow": "D"}  # node kind → marker; every other kind is a box


def _draw_edges(g: nx.DiGraph, pos, ax) -> set[tuple[str, str]]:
    """Every edge with an arrowhead that ends on its target's outline (a box is reached at
    its side, not inside it), over the nodes; a score edge that would cross a stage box
    runs below the stages instead. Returns the routed edges (labelled here)."""
    kinds = _kinds(g)
    half = _points_per_unit(ax)
    stage_xs = [pos[n][0] for n, k in kinds.items() if k == "stage"]
    routed = sorted(((u, v) for u, v, k in g.edges(data="kind") if k == "score"
                     and any(pos[u][0] < x < pos[v][0] for x in stage_xs)),
                    key=lambda e: -pos[e[0]][0])  # nearest the fuse: the top lane
    for lane, (u, v) in enumerate(routed):
        _route_below(ax, g, u, v, pos, _STYLE["score"][0], lane, half)
    for u, v, data in g.edges(data=True):
        if (u, v) in routed:
            continue
        colour, style = _STYLE[data["kind"]]
        (x0, y0), (x1, y1) = pos[u], pos[v]
        rad = {"persist": 0.25, "cache": 0.25}.get(data["kind"], 0.0)
        dx, dy = (x1 - x0) * half[0], (y1 - y0) * half[1]  # the direction in points
        nx.draw_networkx_edges(g, pos, edgelist=[(u, v)], ax=ax, edge_color=colour,
                               style=style, arrows=True, arrowsize=14, node_size=NODE_SIZE,
                               min_source_margin=_outline(kinds[u], dx, dy),
                               min_target_margin=_outline(kinds[v], dx, dy),
                               connectionstyle=f"arc3,rad={rad}")
    return set(routed)


def _points_per_unit(ax) -> tuple[float, float]:
    """Points per data unit along x and y, as the axes stand now."""
    fig = ax.figure
    (x0, y0), (x1, y1) = ax.transData.transform([(0, 0), (1, 1)])
    return (x1 - x0) * 72 / fig.dpi, (y1 - y0) * 72 / fig.dpi


def _outline(kind: str, dx: float, dy: float) -> float:
    """Points from a node's centre to its outline along direction ``(dx, dy)`` (points)."""
    radius = NODE_SIZE ** 0.5 / 2
    if kind in _SHAPE or (dx == 0 and dy == 0):
        return radius + 1
    length = (dx * dx + dy * dy) ** 0.5
    return radius * length / max(abs(dx), abs(dy)) + 1  # a box: the side it meets


def _route_below(ax, g, u, v, pos, colour, lane: int, half) -> None:
    """A score edge from stage ``u`` to ``v`` (the fuse) that leaves ``u`` downwards, runs
    along lane ``lane`` under the stage row and enters ``v`` from below (a lower lane enters
    further right, so lanes never cross)."""
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path as MplPath

    box = NODE_SIZE ** 0.5 / 2
    bottom = pos[u][1] - box / half[1]
    y = SCORE_LANE_Y - 0.2 * lane
    xs = pos[u][0] + 0.25
    xe = pos[v][0] - 0.3 + 0.2 * lane
    verts = [(xs, bottom), (xs, y), (xe, y), (xe, pos[v][1] - box / half[1])]
    path = MplPath(verts, [MplPath.MOVETO] + [MplPath.LINETO] * 3)
    ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=14, color=colour,
                                 linewidth=1.0, zorder=1.5))
    label = edge_label(g, u, v)
    if label:
        ax.text((xs + xe) / 2, y, label, fontsize=6, ha="center", va="center",
                bbox=dict(boxstyle="round", fc="white", ec="none", alpha=0.8))
