"""The upper part of a graph drawing: the measurements, in the main row's gaps right of the
node they read; the clocks that gate stages, each above the first stage it gates (a clock
gating several stages reaches the others along a bus just over the stage row); higher up,
in rows, the clocks (and ``fits`` deadlines) those are made of. Edges among them run vertically through the gaps of
each row and horizontally along lanes in the channels between rows, so none crosses a shape.
"""
from __future__ import annotations

import networkx as nx

from cwdsl.draw.shapes import GAP, LANE, ROW_GAP, SHAPES, Layout, Point, Shape, straight
from cwdsl.ir.graph import record
from cwdsl.ir.nodes import clock_key


def measure_segments(g: nx.DiGraph, col: dict[str, int]) -> dict[int, list[str]]:
    """Measurements by the gap of the main row they sit in (gap ``i`` is right of main node
    ``i``): the gap right of the rightmost node each reads."""
    segment: dict[int, list[str]] = {}
    for m, rec in g.nodes(data="record"):
        if rec.kind == "measure":
            segment.setdefault(max(col[p] for p in g.predecessors(m)), []).append(m)
    return segment


def gate_owners(g: nx.DiGraph, stages: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """(stage → the clock gating it, each gating clock → the first stage it gates)."""
    gate_of = {s: clock_key(record(g, s).gate) for s in stages}
    owner: dict[str, str] = {}
    for s in stages:
        owner.setdefault(gate_of[s], s)
    return gate_of, owner


def _gap(row: list[Shape], used: list[float], want: float) -> float:
    """An x near ``want`` where a vertical line passes between the shapes of ``row`` and
    clear of the other lines passing there (``used``, to which it is added)."""
    edges = sorted((s.bbox[0] - 6, s.bbox[2] + 6) for s in row)
    free, lo = [], -1e9
    for left, right in edges:
        if left - lo > 8:
            free.append((lo + 4, left - 4))
        lo = max(lo, right)
    free.append((lo + 4, 1e9))
    best = None
    for a, b in free:
        x = min(max(want, a), b)
        while any(abs(x - u) < LANE - 1e-6 for u in used) and x + LANE <= b:
            x += LANE
        if any(abs(x - u) < LANE - 1e-6 for u in used):
            continue
        if best is None or abs(x - want) < abs(best - want):
            best = x
    used.append(best)
    return best


def place_above(g: nx.DiGraph, out: Layout, main: list[str], size: dict, level: float) -> None:
    """Place the measurements and clocks of ``g`` above the main row (already in ``out``;
    nothing of the upper part lies below ``level``) and route the edges among them, into
    the stages and into the measurements."""
    sh, col = out.shapes, {n: i for i, n in enumerate(main)}
    stages = [n for n in main if record(g, n).kind == "stage"]
    half_h = max(sh[n].h for n in main) / 2
    segment = measure_segments(g, col)
    gate_of, owner = gate_owners(g, stages)
    shared = [c for c in owner if sum(gate_of[s] == c for s in stages) > 1]
    far = [(u, m) for i, ms in segment.items() for m in ms for u in g.predecessors(m)
           if col[u] != i or m != ms[0]]  # reads not straight from beside it: along lanes
    level = max(level, half_h + 12 + LANE * (len(shared) + len(far)))

    # rows: -1 the measurements, 0 the gating clocks, then the clocks they are made of
    row_of = {m: -1 for ms in segment.values() for m in ms}
    xs: dict[str, float] = {}
    for i, ms in segment.items():
        left = sh[main[i]].bbox[2]
        free = (sh[main[i + 1]].bbox[0] - left - sum(size[m][0] for m in ms)) / (len(ms) + 1)
        for m in ms:
            xs[m] = left + free + size[m][0] / 2
            left += free + size[m][0]
    # (a fits deadline sits over the clock it is part of, in the row of clocks above it)
    clocks = [n for n, r in g.nodes(data="record") if r.kind in ("clock", "deadline")]
    row_of.update({c: 0 for c in owner})
    for c in reversed(list(nx.topological_sort(g.subgraph(clocks)))):
        if c not in row_of:
            row_of[c] = 1 + max((row_of[u] for u in g.successors(c) if u in row_of), default=0)
    top = max((row_of[c] for c in clocks), default=0)
    rows: dict[int, list[str]] = {r: [n for n in row_of if row_of[n] == r] for r in range(-1, top + 1)}
    for r in range(0, top + 1):
        for c in rows[r]:
            users = [xs[u] for u in g.successors(c) if u in xs]
            xs[c] = sh[owner[c]].x if c in owner else sum(users) / max(len(users), 1)
        right = -1e9
        for c in sorted(rows[r], key=lambda c: xs[c]):
            xs[c] = max(xs[c], right + GAP + size[c][0] / 2)
            right = xs[c] + size[c][0] / 2

    # the edges among them, as hops: (channel, lane, x to move to); channel r lies under row r
    def flat(n: str) -> Shape:
        return Shape(sh[n].kind if n in sh else SHAPES.get(record(g, n).kind, "circle"),
                     xs[n], 0.0, *size[n])

    upper = [(u, v) for u, v in g.edges if u in row_of and v in row_of]
    ends: dict[tuple[str, bool], list[tuple[float, tuple[str, str]]]] = {}
    for u, v in upper:
        up = row_of[u] <= row_of[v]
        ends.setdefault((u, up), []).append((xs[v], (u, v)))
        ends.setdefault((v, not up or row_of[u] == row_of[v]), []).append((xs[u], (u, v)))
    offset: dict[tuple[str, tuple[str, str]], float] = {}
    for (n, is_top), users in ends.items():
        users.sort()
        if n in owner and not is_top:  # clear of the gate edge leaving the bottom's middle
            left = [e for ox, e in reversed(users) if ox < xs[n]]
            right = [e for ox, e in users if ox >= xs[n]]
            step = min(9.0, (0.4 * size[n][0] - 10) / max(len(left), len(right)))
            offset.update({(n, e): -10 - i * step for i, e in enumerate(left)})
            offset.update({(n, e): 10 + i * step for i, e in enumerate(right)})
            continue
        step = min(9.0, 0.8 * size[n][0] / (len(users) + 1))
        for i, (_, e) in enumerate(users):
            offset[n, e] = (i - (len(users) - 1) / 2) * step
    lanes: dict[int, int] = {}
    used: dict[int, list[float]] = {}
    hops: dict[tuple[str, str], list[tuple[int, int, float]]] = {}
    for u, v in upper:
        ru, rv, x = row_of[u], row_of[v], xs[u] + offset[u, (u, v)]
        target = xs[v] + offset[v, (u, v)]
        if ru < rv:
            passes, channels = range(ru + 1, rv), range(ru + 1, rv + 1)
        elif ru > rv:
            passes, channels = range(ru - 1, rv, -1), range(ru, rv, -1)
        else:
            passes, channels = (), (ru + 1,)
        path = []
        for k, ch in enumerate(channels):
            to = target if k == len(channels) - 1 else _gap(
                [flat(n) for n in rows[passes[k]]], used.setdefault(passes[k], []), target)
            lanes[ch] = lanes.get(ch, 0) + 1
            path.append((ch, lanes[ch] - 1, to))
        hops[u, v] = path

    # heights: the measurement row, then each channel and the row over it
    lane_y: dict[int, list[float]] = {}
    y_of: dict[int, float] = {}
    cursor = level
    if rows[-1]:
        tallest = max(size[m][1] for m in rows[-1])
        y_of[-1] = cursor + ROW_GAP / 2 + tallest / 2
        cursor = y_of[-1] + tallest / 2
    for r in range(0, top + 2):
        n = lanes.get(r, 0)
        height = max(ROW_GAP, (n + 1) * LANE + 8)
        lane_y[r] = [cursor + (height - (n - 1) * LANE) / 2 + i * LANE for i in range(n)]
        if r <= top:
            tallest = max(size[c][1] for c in rows[r])
            y_of[r] = cursor + height + tallest / 2
            cursor = y_of[r] + tallest / 2
    for n, r in row_of.items():
        kind = "hexagon" if r < 0 else SHAPES.get(record(g, n).kind, "circle")
        sh[n] = Shape(kind, xs[n], y_of[r], *size[n])
    for (u, v), path in hops.items():
        up = row_of[u] <= row_of[v]
        points: list[Point] = [sh[u].side(offset[u, (u, v)], up)]
        for ch, lane, to in path:
            points += [(points[-1][0], lane_y[ch][lane]), (to, lane_y[ch][lane])]
        points.append(sh[v].side(offset[v, (u, v)], not up or row_of[u] == row_of[v]))
        out.routes[u, v] = points

    # gates: down to the stage under the clock, along a bus to the others
    for c, first in owner.items():
        bus = half_h + 12 + LANE * shared.index(c) if c in shared else 0.0
        for s in (s for s in stages if gate_of[s] == c):
            if s == first:
                out.routes[c, s] = [sh[c].side(0, False), sh[s].side(sh[c].x - sh[s].x, True)]
            else:
                out.routes[c, s] = [sh[c].side(0, False), (sh[c].x, bus), (sh[s].x, bus),
                                    sh[s].side(0, True)]
    # reads: straight from the node beside the measurement, along a lane from further left
    exits: dict[str, int] = {}
    for u, m in ((u, m) for m in rows[-1] for u in g.predecessors(m)):
        if (u, m) in far:
            lane = half_h + 12 + LANE * (len(shared) + far.index((u, m)))
            exits[u], exits[m] = exits.get(u, -1) + 1, exits.get(m, -1) + 1
            x0 = max(sh[u].x - sh[u].w / 4 - LANE * exits[u], sh[u].bbox[0] + 3)
            dx = min(8 + LANE * exits[m], sh[m].w / 2 - 0.6 * sh[m].h / 2 - 3)
            out.routes[u, m] = [(x0, sh[u].h / 2), (x0, lane), (sh[m].x + dx, lane),
                                sh[m].side(dx, False)]
        else:
            out.routes[u, m] = straight(sh[u], sh[m], (min(sh[u].x + sh[u].w / 4, sh[m].x), 0.0))
