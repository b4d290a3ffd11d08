"""Where :mod:`cwdsl.draw.graph` puts things: labels, shapes sized to them, and every edge's
route, in points (one unit is one point of the picture, on both axes).

The main row runs left to right: the input, the stages, the fuse, the output. Above it sit
the measurements (between the stage they read and the next one), the clocks gating stages
(each above the first stage it gates; one gating several stages reaches the others along a
bus just above the stage row) and, higher, the clocks and ``fits`` deadlines (octagons)
those are made of. Below it run the
score lanes into the fuse, then each stage's cache (and warp, beside it) and, under those,
the lanes from the optical flow to the warps. Edges are straight or run along lanes, so no
edge crosses a shape it does not end at.
"""
from __future__ import annotations

import re

import networkx as nx

from cwdsl.draw.above import gate_owners, measure_segments, place_above
from cwdsl.draw.shapes import (EDGE_FONT, GAP, LANE, Layout, EdgeText, Shape, SHAPES,
                                 measure_text, shape_size, straight)
from cwdsl.ir.graph import record, records
from cwdsl.ir.nodes import (CacheNode, ClockNode, DeadlineNode, FlowNode, FuseNode,
                            MeasureNode, StageNode, WarpNode, cache_key, clock_key, warp_key)
from cwdsl.lang.ast import always_fires
from cwdsl.lang.printer import format_number, print_clock

SIDE = 9.0  # a stage's persist and counter edges run this far either side of its centre


def _wrap(text: str, width: int) -> str:
    """``text`` in lines of at most ``width`` characters where it can be, broken after a
    comma or before a comparison, ``and``, ``or`` (and inside a too long call, after ``(``)."""
    pieces: list[tuple[str, str]] = []
    for part in re.split(r"(?<=,) | (?=(?:>=?|and|or) )", text):
        subs = re.split(r"(?<=\()", part) if len(part) > width else [part]
        pieces += [("" if j else " ", s) for j, s in enumerate(subs) if s]
    lines: list[str] = []
    for glue, piece in pieces:
        if lines and len(lines[-1]) + len(glue) + len(piece) <= width:
            lines[-1] += glue + piece
        else:
            lines.append(piece)
    return "\n".join(lines)


def node_label(g: nx.DiGraph, node: str) -> str:
    rec = record(g, node)
    match rec:
        case StageNode():
            return f"{rec.name}\n{rec.first}..{rec.last}\n" + _wrap("→ " + ", ".join(rec.heads), 18)
        case CacheNode():
            return f"cache {rec.stage}"
        case FlowNode():
            return f"flow {rec.method}\nt → t-1"
        case WarpNode():
            return f"warp {rec.stage}"
        case ClockNode():
            if rec.named and rec.text != rec.name:
                return f"{rec.name} =\n{_wrap(rec.text, 16)}"
            if rec.stage is not None:  # a rule's clock with fits, named for its stage
                return f"{_wrap(print_clock(rec.expr), 16)}\nfor {rec.stage}"
            return _wrap(rec.name, 16)
        case MeasureNode():
            return _wrap(rec.atom, 18)
        case DeadlineNode():  # the deadline it keeps and the stage it decides for
            ms = "(no deadline)" if rec.deadline_ms is None \
                else f"{format_number(rec.deadline_ms)}ms"
            return f"fits {ms}\nfor {rec.stage}"
        case FuseNode():
            return _wrap("fuse(" + ", ".join(rec.stages) + ")", 16)
    return node


def edge_label(g: nx.DiGraph, u: str, v: str) -> str:
    """``when C``, ``else (not C)``, ``delay D``, ``t-1``: what an edge does; a long inline
    clock ``C`` is cut short (its node shows it whole)."""
    data = g.edges[u, v]
    gate = record(g, data["gate"]).name if data.get("gate") else ""
    gate = gate if len(gate) <= 24 else gate[:22].rstrip() + "…"
    parts = []
    if data["kind"] == "features":
        parts.append(f"when {gate}")
    elif data["kind"] in ("cache", "warp") and gate:
        parts.append(f"else (not {gate})")
    if data["delay"]:
        parts.append(f"delay {data['delay']}" if data["kind"] != "persist" else "t-1")
    return _wrap(", ".join(parts), 24) if parts else ""


def always_on(g: nx.DiGraph) -> set[str]:
    """Stages whose clock fires on every frame whatever the data (``1``, ``every 1``, a
    clock declared so): they never fall back to their cache or warp."""
    clocks = {c.name: c.expr for c in records(g, ClockNode) if c.named}
    return {s.name for s in records(g, StageNode)
            if always_fires(record(g, clock_key(s.gate)).expr, clocks)}


def visible(g: nx.DiGraph) -> nx.DiGraph:
    """The graph as drawn: without the caches and warps of :func:`always_on` stages (their
    counter-clock can never act), nor a flow that no drawn warp reads."""
    shown = g.copy()
    for stage in always_on(g):
        shown.remove_nodes_from([cache_key(stage), warp_key(stage)])
    shown.remove_nodes_from([f.key for f in records(g, FlowNode)
                             if not any(True for _ in shown.successors(f.key))])
    return shown


def layout(g: nx.DiGraph) -> Layout:
    """Place the nodes and route the edges of ``g`` (a :func:`visible` graph)."""
    kinds = {n: r.kind for n, r in g.nodes(data="record")}
    size = {n: shape_size(k, node_label(g, n)) for n, k in kinds.items()}
    stages = [s.key for s in sorted(records(g, StageNode), key=lambda s: s.index)]
    main = ["input", *stages, "fuse", "output"]
    col = {n: i for i, n in enumerate(main)}
    out = Layout()
    segment = measure_segments(g, col)
    _, owner = gate_owners(g, stages)
    top_clock = {s: c for c, s in owner.items()}
    under = _under_extents(g, stages, size)
    x = {main[0]: 0.0}
    for i in range(1, len(main)):
        a, b = main[i - 1], main[i]
        ms = segment.get(i - 1, [])
        between = max(measure_text(edge_label(g, a, b), EDGE_FONT)[0] + 24 if g.has_edge(a, b) else 0,
                      sum(size[m][0] for m in ms) + GAP * (len(ms) + 1), 2 * GAP + 20)
        radius = [size[top_clock[n]][0] / 2 if n in top_clock else 0 for n in (a, b)]
        x[b] = x[a] + max(size[a][0] / 2 + between + size[b][0] / 2,
                          under.get(a, (0, 0))[1] + GAP + under.get(b, (0, 0))[0],
                          radius[0] + GAP + radius[1] if all(radius) else 0)
    for n in main:
        out.shapes[n] = Shape(SHAPES.get(kinds[n], "box"), x[n], 0.0, *size[n])
    for a, b in zip(main, main[1:]):
        if g.has_edge(a, b):
            out.routes[a, b] = straight(out.shapes[a], out.shapes[b])
            if edge_label(g, a, b):
                (x0, _), (x1, _) = out.routes[a, b]
                out.texts[a, b] = EdgeText(edge_label(g, a, b), (x0 + x1) / 2, 3.0, va="bottom")
    labels_top = 3 + max((measure_text(t.text, EDGE_FONT)[1] for t in out.texts.values()), default=0)
    place_above(g, out, main, size, labels_top + 6)
    _place_below(g, out, stages, size)
    return out


def _under_extents(g: nx.DiGraph, stages: list[str], size: dict) -> dict[str, tuple[float, float]]:
    """How far left and right of its stage's centre what hangs below it reaches (its cache,
    warp and their labels); the input's: its flow."""
    under = {}
    for s in stages:
        name = record(g, s).name
        cache, warp = cache_key(name), warp_key(name)
        if cache not in g:
            continue
        t_w = measure_text(edge_label(g, s, cache), EDGE_FONT)[0] + 3
        e_w = measure_text(edge_label(g, warp if warp in g else cache, s), EDGE_FONT)[0] + 3
        if warp in g:
            d = max(size[cache][0], size[warp][0]) / 2 + 12
            under[s] = (max(d + size[cache][0] / 2, (d + SIDE) / 2 + t_w),
                        max(d + size[warp][0] / 2, (d + SIDE) / 2 + e_w))
        else:
            under[s] = (max(size[cache][0] / 2, SIDE + t_w), max(size[cache][0] / 2, SIDE + e_w))
    flows = [f.key for f in records(g, FlowNode)]
    if flows:
        under["input"] = (0.0, size[flows[0]][0] / 2)
    return under


def _place_below(g: nx.DiGraph, out: Layout, stages: list[str], size: dict) -> None:
    """The score lanes into the fuse, the caches and warps, the flows and their lanes."""
    sh = out.shapes
    half_h = max(s.h for s in sh.values() if s.y == 0) / 2
    fuse = sh["fuse"]
    scored = sorted((s for s in stages if g.has_edge(s, "fuse") and s != stages[-1]),
                    key=lambda s: -sh[s].x)
    for k, s in enumerate(scored):  # the nearest stage runs along the top lane
        y = -half_h - 12 - LANE * k
        start, end = sh[s].x + sh[s].w / 2 - 10, fuse.x - fuse.w / 2 + 10 + LANE * k
        out.routes[s, "fuse"] = [(start, -sh[s].h / 2), (start, y), (end, y), (end, -fuse.h / 2)]
    lanes_bottom = -half_h - 12 - LANE * max(len(scored) - 1, 0)
    texts_h = max((measure_text(edge_label(g, u, v), EDGE_FONT)[1]
                   for u, v, k in g.edges(data="kind") if k in ("persist", "cache", "warp")), default=0)
    low = max((size[n][1] for n, r in g.nodes(data="record") if r.kind in ("cache", "warp", "flow")),
              default=0)
    y_c = lanes_bottom - max(32 + texts_h, 44) - low / 2
    label_y = (lanes_bottom + y_c + low / 2) / 2
    for s in stages:
        name, stage = record(g, s).name, sh[s]
        cache, warp = cache_key(name), warp_key(name)
        if cache not in g:
            continue
        if warp in g:
            d = max(size[cache][0], size[warp][0]) / 2 + 12
            sh[cache] = Shape("box", stage.x - d, y_c, *size[cache])
            sh[warp] = Shape("box", stage.x + d, y_c, *size[warp])
            out.routes[s, cache] = straight(stage, sh[cache], (stage.x - SIDE, 0.0))
            out.routes[cache, warp] = straight(sh[cache], sh[warp])
            out.routes[warp, s] = straight(sh[warp], stage, None, (stage.x + SIDE, 0.0))
            for (u, v), side in (((s, cache), -1), ((warp, s), 1)):
                (x0, y0), (x1, y1) = out.routes[u, v]
                t = (label_y - y0) / (y1 - y0)
                out.texts[u, v] = EdgeText(edge_label(g, u, v), x0 + t * (x1 - x0) + 4 * side,
                                           label_y, "left" if side > 0 else "right")
        else:
            sh[cache] = Shape("box", stage.x, y_c, *size[cache])
            left, right = stage.x - SIDE, stage.x + SIDE
            out.routes[s, cache] = straight(stage, sh[cache], (left, 0.0), (left, y_c))
            out.routes[cache, s] = straight(sh[cache], stage, (right, y_c), (right, 0.0))
            out.texts[s, cache] = EdgeText(edge_label(g, s, cache), left - 3, label_y, "right")
            out.texts[cache, s] = EdgeText(edge_label(g, cache, s), right + 3, label_y, "left")
    lane_y = y_c - low / 2 - 14
    for j, f in enumerate(f.key for f in records(g, FlowNode)):
        sh[f] = Shape("slant", sh["input"].x - j * (size[f][0] + GAP), y_c, *size[f])
        out.routes["input", f] = straight(sh["input"], sh[f])
        warps = sorted(g.successors(f), key=lambda w: sh[w].x)
        for k, w in enumerate(warps):  # the nearest warp: the top lane, leaving rightmost
            exit_x, y = sh[f].x + (len(warps) - 1 - 2 * k) * 5, lane_y - LANE * k
            out.routes[f, w] = [(exit_x, sh[f].y - sh[f].h / 2), (exit_x, y), (sh[w].x, y),
                                (sh[w].x, sh[w].y - sh[w].h / 2)]
        lane_y -= LANE * len(warps)
