"""Drawings of a compiled graph: PNG/SVG/PDF (matplotlib) or Graphviz DOT. Where things go
is :mod:`cwdsl.draw.layout`'s; a stage whose clock always fires is drawn without the
cache (or warp) it can never fall back to."""
from __future__ import annotations

from pathlib import Path

import networkx as nx

from cwdsl.core.atomic import write_text
from cwdsl.core.errors import InputError
from cwdsl.core.figures import pyplot, save_figure
from cwdsl.core.outputs import check_output
from cwdsl.draw.layout import edge_label, layout, node_label, visible
from cwdsl.draw.shapes import EDGE_FONT, FONT, Layout, measure_text
from cwdsl.ir.graph import Program

__all__ = ["FORMATS", "check_picture_path", "draw", "edge_label", "layout", "node_label",
           "to_dot", "visible"]

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
_NODE_COLOUR = {"input": "#d6eaf8", "stage": "#fdebd0", "cache": "#eaeded", "clock": "#fadbd8",
                "measure": "#d4e6f1", "fuse": "#d5f5e3", "output": "#d5f5e3", "flow": "#e8daef",
                "warp": "#e8daef", "deadline": "#fcf3cf"}
LEGEND = ("black: features, grey dashed: cache, purple: flow and warp, red: clocks, "
          "green: scores")
DEADLINE_LEGEND = "; octagons: fits deadlines (ms from the frame's arrival)"
"""Added to :data:`LEGEND` on the pictures of schedules with ``fits``."""
MARGIN = 14.0  # points around the drawing
HEAD = 8.0     # an arrowhead's length in points


def _kinds(g: nx.DiGraph) -> dict[str, str]:
    return {n: r.kind for n, r in g.nodes(data="record")}


def to_dot(g: nx.DiGraph) -> str:
    """Graphviz text with the same nodes, labels and styles as the picture."""
    g = visible(g)
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = ["digraph cwdsl {", "  rankdir=LR;", "  node [shape=box, style=filled, fontname=Helvetica];"]
    for node, kind in _kinds(g).items():
        shape = {"clock": "ellipse", "measure": "hexagon", "cache": "box3d",
                 "flow": "parallelogram", "deadline": "octagon"}.get(kind, "box")
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
    g = visible(program.graph)
    if out.suffix.lower() == ".dot":
        write_text(out, to_dot(program.graph))
        return out
    plt = pyplot()
    where = layout(g)
    title = (f"{program.name}: {program.network.name} "
             f"{program.input_size[0]}x{program.input_size[1]}")
    legend = LEGEND + (DEADLINE_LEGEND if program.deadlines else "")
    x0, y0, x1, y1 = _extent(where)
    title_w = max(measure_text(title, 9)[0], measure_text(legend, 7)[0]) + 2 * MARGIN
    if x1 - x0 < title_w:  # the title fits across the picture
        x0, x1 = (x0 + x1 - title_w) / 2, (x0 + x1 + title_w) / 2
    top = 2 * MARGIN + measure_text(title, 9)[1] + measure_text(legend, 7)[1]
    width, height = x1 - x0, y1 - y0 + top
    fig = plt.figure(figsize=(width / 72, height / 72))
    ax = fig.add_axes((0, 0, 1, (y1 - y0) / height))  # one data unit is one point
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.axis("off")
    fig.text(0.5, 1 - MARGIN / height, title, ha="center", va="top", fontsize=9)
    fig.text(0.5, 1 - (MARGIN + measure_text(title, 9)[1] + 3) / height, legend, ha="center",
             va="top", fontsize=7, color="#444444")
    _draw_shapes(ax, g, where)
    _draw_edges(ax, g, where)
    save_figure(fig, out, dpi=130)
    return out


def _extent(where: Layout) -> tuple[float, float, float, float]:
    """The drawing's bounds in points: shapes, routes and labels, with a margin."""
    xs, ys = [], []
    for shape in where.shapes.values():
        b = shape.bbox
        xs += [b[0], b[2]]
        ys += [b[1], b[3]]
    for route in where.routes.values():
        xs += [p[0] for p in route]
        ys += [p[1] for p in route]
    for t in where.texts.values():
        w, h = measure_text(t.text, EDGE_FONT)
        left = {"left": t.x, "right": t.x - w}.get(t.ha, t.x - w / 2)
        low = {"bottom": t.y, "top": t.y - h}.get(t.va, t.y - h / 2)
        xs += [left - 2, left + w + 2]
        ys += [low - 2, low + h + 2]
    return min(xs) - MARGIN, min(ys) - MARGIN, max(xs) + MARGIN, max(ys) + MARGIN


def _draw_shapes(ax, g: nx.DiGraph, where: Layout) -> None:
    from matplotlib.patches import Circle, Polygon

    for node, kind in _kinds(g).items():
        shape = where.shapes[node]
        style = dict(facecolor=_NODE_COLOUR[kind], edgecolor="#555555", linewidth=1.0, zorder=2)
        if shape.kind == "circle":
            ax.add_patch(Circle((shape.x, shape.y), shape.w / 2, **style))
        else:
            ax.add_patch(Polygon(shape.polygon(), closed=True, **style))
        ax.text(shape.x, shape.y, node_label(g, node), ha="center", va="center",
                multialignment="center", fontsize=FONT, zorder=3, gid=f"node:{node}")


def _draw_edges(ax, g: nx.DiGraph, where: Layout) -> None:
    """Each edge along its route: the line in its kind's style, a solid arrowhead ending
    on the target's outline (a patch with gid ``edge:U->V``), its label over it."""
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path as MplPath

    for u, v, kind in g.edges(data="kind"):
        colour, style = _STYLE[kind]
        route = where.routes[u, v]
        (xa, ya), (xb, yb) = route[-2], route[-1]
        n = max(((xb - xa) ** 2 + (yb - ya) ** 2) ** 0.5, 1e-9)
        neck = (xb - (xb - xa) * min(HEAD, n) / n, yb - (yb - ya) * min(HEAD, n) / n)
        shaft = MplPath([*route[:-1], neck], [MplPath.MOVETO] + [MplPath.LINETO] * (len(route) - 1))
        ax.add_patch(FancyArrowPatch(path=shaft, arrowstyle="-", color=colour, linestyle=style,
                                     linewidth=1.0, zorder=1))
        head = MplPath([neck, route[-1]], [MplPath.MOVETO, MplPath.LINETO])
        ax.add_patch(FancyArrowPatch(path=head, arrowstyle="-|>", mutation_scale=9,
                                     color=colour, linewidth=1.0, zorder=1.5,
                                     gid=f"edge:{u}->{v}"))
        text = where.texts.get((u, v))
        if text is not None and text.text:
            ax.text(text.x, text.y, text.text, ha=text.ha, va=text.va, fontsize=EDGE_FONT,
                    zorder=4, bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none",
                                        alpha=0.85))
