"""The graph picture (issues 11 and 19): shapes never overlap, labels sit inside their
shapes, no edge crosses a shape it does not end at, every edge ends in an arrowhead on its
target's outline, the title fits, and a stage whose clock always fires has no cache or warp
to fall back to (no "else (not 1)" edge)."""
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from matplotlib.patches import FancyArrowPatch

import cwdsl.draw.graph as draw_module
from cwdsl.draw.layout import always_on, edge_label, layout, node_label, visible
from cwdsl.draw.shapes import EDGE_FONT, FONT, measure_text
from cwdsl.ir.graph import compile_schedule, compile_text, load
from strategies import schedules

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "schedules").glob("*.cw")) + sorted((ROOT / "schedules/espnet").glob("*.cw"))
STAGES = """network fcn8s input 500x500
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr
output fuse(s1, s2, s3)
"""
COMPOSED = {  # clocks made of clocks, several measurements per gap, two flows
    "made_of_clocks": """clock a = every 2
clock b = a and pixeldiff() >= 0.1
clock c = b or labeldiff(s2, region=image) > 0.3
compute s1 when a
compute s2 when b else warp
compute s3 when c""",
    "three_measurements": """clock k = labeldiff(s1) >= 0.1
clock k2 = labeldiff(s1, since=previous) >= 0.1
clock k3 = labeldiff(s1, region=image) >= 0.1
compute s1 when every 3
compute s2 when k or k2 or k3 delay 1
compute s3 when k2 delay 2 else warp""",
    "two_flows": """clock fast = labeldiff(s1, since=previous) >= 0.05
clock slow = labeldiff(s2) >= 0.2
clock tick = every 8
compute s1 when 1
compute s2 when fast or tick else warp
compute s3 when (slow and not fast) or tick else warp(flow=dis_medium)""",
    "deadlines": """clock moved = labeldiff(s2, since=fired) >= 0.03
compute s1 when every 2 or fits(0.02s)
compute s2 when fits(40ms)
compute s3 when (moved and fits(40ms)) or every 8 else warp""",
}


def _programs():
    yield from ((p.stem, load(p)) for p in SHIPPED)
    yield from ((name, compile_text(STAGES + text, f"{name}.cw")) for name, text in COMPOSED.items())


def _overlap(a, b, margin=0.0) -> bool:
    return a[0] < b[2] + margin and b[0] < a[2] + margin and a[1] < b[3] + margin and b[1] < a[3] + margin


def _crosses(p, q, box, eps=1.0) -> bool:
    """Whether segment p–q enters ``box`` shrunk by ``eps`` (Liang–Barsky clipping)."""
    x0, y0, x1, y1 = box[0] + eps, box[1] + eps, box[2] - eps, box[3] - eps
    dx, dy = q[0] - p[0], q[1] - p[1]
    t0, t1 = 0.0, 1.0
    for den, num in ((-dx, p[0] - x0), (dx, x1 - p[0]), (-dy, p[1] - y0), (dy, y1 - p[1])):
        if den == 0:
            if num < 0:
                return False
        elif den < 0:
            t0 = max(t0, num / den)
        else:
            t1 = min(t1, num / den)
    return t0 < t1


def _text_box(t):
    w, h = measure_text(t.text, EDGE_FONT)
    left = {"left": t.x, "right": t.x - w}.get(t.ha, t.x - w / 2)
    low = {"bottom": t.y, "top": t.y - h}.get(t.va, t.y - h / 2)
    return left, low, left + w, low + h


def _inside(shape, x, y) -> bool:
    if shape.kind == "circle":
        return math.hypot(x - shape.x, y - shape.y) <= shape.w / 2
    pts = shape.polygon()  # convex, anticlockwise: (x, y) left of every side
    return all((bx - ax) * (y - ay) - (by - ay) * (x - ax) >= -1e-9
               for (ax, ay), (bx, by) in zip(pts, pts[1:] + pts[:1]))


def layout_problems(graph) -> list[str]:
    g = visible(graph)
    where = layout(g)
    problems = []
    assert set(where.shapes) == set(g.nodes) and set(where.routes) == set(g.edges)
    names = list(where.shapes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if _overlap(where.shapes[a].bbox, where.shapes[b].bbox, 4):
                problems.append(f"{a} and {b} overlap")
    for node, shape in where.shapes.items():
        w, h = measure_text(node_label(g, node), FONT)
        corners = [(shape.x + sx * w / 2, shape.y + sy * h / 2) for sx in (-1, 1) for sy in (-1, 1)]
        if not all(_inside(shape, x, y) for x, y in corners):
            problems.append(f"the label of {node} spills out of its shape")
    for (u, v), route in where.routes.items():
        for node, shape in where.shapes.items():
            if node not in (u, v) and any(_crosses(p, q, shape.bbox) for p, q in zip(route, route[1:])):
                problems.append(f"edge {u} -> {v} crosses {node}")
        for end, point in ((u, route[0]), (v, route[-1])):  # ends on the outline
            shape = where.shapes[end]
            box = shape.bbox
            if not (box[0] - 0.5 <= point[0] <= box[2] + 0.5 and box[1] - 0.5 <= point[1] <= box[3] + 0.5):
                problems.append(f"edge {u} -> {v} does not end on {end}")
    texts = {e: _text_box(t) for e, t in where.texts.items() if t.text}
    assert all(t.text == edge_label(g, *e) for e, t in where.texts.items())
    for e, box in texts.items():
        problems += [f"the label of {e} lies on {n}" for n, s in where.shapes.items()
                     if _overlap(box, s.bbox)]
        problems += [f"the labels of {e} and {f} overlap" for f, other in texts.items()
                     if e < f and _overlap(box, other)]
    return problems


@pytest.mark.parametrize("name,program", list(_programs()), ids=lambda v: v if isinstance(v, str) else "")
def test_layout_has_no_overlaps_spills_or_crossings(name, program):
    assert layout_problems(program.graph) == []


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(schedules(fits=True))
def test_any_schedule_lays_out_cleanly(schedule):
    assert layout_problems(compile_schedule(schedule).graph) == []


def test_always_on_stages_have_no_cache_or_else_edge(tmp_path):
    program = load(ROOT / "schedules/adaptive.cw")  # s1, s2 when 1; s3 when moved else cache
    assert always_on(program.graph) == {"s1", "s2"}
    g = visible(program.graph)
    assert "cache:s1" not in g and "cache:s2" not in g and "cache:s3" in g
    assert not any(edge_label(g, u, v).startswith("else (not 1") for u, v in g.edges)
    assert "else (not moved)" in [edge_label(g, u, v) for u, v in g.edges]
    dot = draw_module.draw(program, tmp_path / "g.dot").read_text()
    assert "else (not 1)" not in dot and '"cache:s1"' not in dot and "else (not moved)" in dot
    # ``every 1``, ``not 0`` and a clock declared so always fire too; a warp is dropped with
    # its flow when no other stage warps
    program = compile_text(STAGES.replace("output", "clock on = not 0 or every 3\noutput") + """
compute s1 when every 1 else warp
compute s2 when on else cache
compute s3 when every 2 else warp""")
    assert always_on(program.graph) == {"s1", "s2"}
    g = visible(program.graph)
    assert {n for n in g if n.split(":")[0] in ("cache", "warp", "flow")} == {
        "cache:s3", "warp:s3", "flow:dis"}
    g = visible(compile_text(STAGES + "compute s1 when 1\ncompute s2 when 1 else warp\n"
                                      "compute s3 when 1 delay 1 else warp").graph)
    assert not any(n.split(":")[0] in ("cache", "warp", "flow") for n in g)


@pytest.mark.parametrize("name", ["adaptive", "dff", "learned", "pipeline_warp"])
def test_picture_arrowheads_labels_and_title(tmp_path, monkeypatch, name):
    figures = []
    monkeypatch.setattr(draw_module, "save_figure", lambda fig, path, dpi: figures.append(fig))
    program = load(ROOT / "schedules" / f"{name}.cw")
    draw_module.draw(program, tmp_path / "g.png")
    fig = figures[0]
    ax = fig.axes[0]
    g = visible(program.graph)
    heads = [p for p in ax.patches if isinstance(p, FancyArrowPatch) and p.get_gid()]
    assert sorted(p.get_gid() for p in heads) == sorted(f"edge:{u}->{v}" for u, v in g.edges)
    assert all("|>" in str(p.get_arrowstyle()) or "Filled" in type(p.get_arrowstyle()).__name__
               for p in heads)
    renderer = fig.canvas.get_renderer()
    figure_box = fig.bbox
    for text in fig.texts:  # the title and the legend fit in the picture
        box = text.get_window_extent(renderer)
        assert figure_box.x0 <= box.x0 and box.x1 <= figure_box.x1
        assert figure_box.y0 <= box.y0 and box.y1 <= figure_box.y1
    where = layout(g)
    to_data = ax.transData.inverted()
    for text in ax.texts:  # node labels inside their shapes, as drawn
        if not (text.get_gid() or "").startswith("node:"):
            continue
        shape = where.shapes[text.get_gid()[5:]]
        box = text.get_window_extent(renderer)
        for corner in ((box.x0, box.y0), (box.x0, box.y1), (box.x1, box.y0), (box.x1, box.y1)):
            assert _inside(shape, *to_data.transform(corner)), text.get_text()
    # one data unit is one point: the layout's sizes are the picture's
    (x0, y0), (x1, y1) = ax.transData.transform([(0, 0), (72, 72)])
    assert x1 - x0 == pytest.approx(fig.dpi) and y1 - y0 == pytest.approx(fig.dpi)


def test_fits_deadlines_are_drawn_as_labelled_octagons(tmp_path, monkeypatch):
    text = STAGES.replace("input 500x500", "input 500x500 deadline 33ms") + (
        "clock moved = labeldiff(s2) >= 0.1\ncompute s1 when 1\ncompute s2 when fits(0.05s)\n"
        "compute s3 when moved and fits else cache\n")
    program = compile_text(text, "fits.cw")
    g = visible(program.graph)
    assert node_label(g, "deadline:fits(50ms) for s2") == "fits 50ms\nfor s2"
    assert node_label(g, "deadline:fits for s3") == "fits 33ms\nfor s3"  # the network's
    assert node_label(g, "clock:moved and fits for s3") == "moved and fits\nfor s3"
    where = layout(g)
    for d in ("deadline:fits(50ms) for s2", "deadline:fits for s3"):
        shape = where.shapes[d]
        assert shape.kind == "octagon" and len(shape.polygon()) == 8
        clock = next(iter(g.successors(d)))
        assert shape.y > where.shapes[clock].y  # over the clock it is part of
        assert where.routes[d, clock][-1][1] > where.shapes[clock].y  # into its top
    assert layout_problems(program.graph) == []
    dot = draw_module.to_dot(program.graph)
    assert '"deadline:fits for s3" [label="fits 33ms\\nfor s3", shape=octagon' in dot
    assert '"deadline:fits for s3" -> "clock:moved and fits for s3"' in dot
    # a bare fits without any deadline is drawn (graph plans nothing) and says so
    bare = compile_text(text.replace(" deadline 33ms", ""), "bare.cw")
    assert node_label(bare.graph, "deadline:fits for s3") == "fits (no deadline)\nfor s3"
    assert layout_problems(bare.graph) == []
    figures = []
    monkeypatch.setattr(draw_module, "save_figure", lambda fig, path, dpi: figures.append(fig))
    draw_module.draw(program, tmp_path / "g.png")
    fig = figures[0]
    assert any("octagons: fits deadlines" in t.get_text() for t in fig.texts)
    labels = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid()}
    assert labels["node:deadline:fits(50ms) for s2"] == "fits 50ms\nfor s2"
    draw_module.draw(load(ROOT / "schedules" / "adaptive.cw"), tmp_path / "a.png")
    assert not any("octagons" in t.get_text() for t in figures[1].texts)  # only with fits
