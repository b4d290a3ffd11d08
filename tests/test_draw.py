"""The graph picture (issue 11, item 15): every edge ends in an arrowhead, and score edges
never run through a stage's box."""
from pathlib import Path

import pytest
from matplotlib.patches import FancyArrowPatch

import cwdsl.ir.draw as draw_module
from cwdsl.ir.graph import load

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["pipeline3", "adaptive", "exponential"])
def test_every_edge_has_an_arrowhead_and_scores_avoid_stages(tmp_path, monkeypatch, name):
    figures = []
    monkeypatch.setattr(draw_module, "save_figure", lambda fig, path, dpi: figures.append(fig))
    program = load(ROOT / "schedules" / f"{name}.cw")
    draw_module.draw(program, tmp_path / "g.png")
    ax = figures[0].axes[0]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == program.graph.number_of_edges()
    assert all("|>" in str(a.get_arrowstyle()) or "Filled" in type(a.get_arrowstyle()).__name__
               for a in arrows)
    pos = draw_module.layout(program.graph)
    stages = [pos[n] for n, r in program.graph.nodes(data="record") if r.kind == "stage"]
    sx, sy = draw_module._points_per_unit(ax)
    half_x, half_y = 30 / sx, 30 / sy  # a box is 60 points across
    for arrow in arrows:
        if arrow._path_original is None:  # drawn between two points, not routed
            continue
        for (x0, y0), (x1, y1) in zip(arrow._path_original.vertices[:-1],
                                      arrow._path_original.vertices[1:]):
            for cx, cy in stages:  # no segment of a routed score edge enters a stage box
                inside_x = min(x0, x1) < cx + half_x and max(x0, x1) > cx - half_x
                inside_y = min(y0, y1) < cy + half_y - 1e-9 and max(y0, y1) > cy - half_y + 1e-9
                assert not (inside_x and inside_y)
    routed = [a for a in arrows if a._path_original is not None]
    non_adjacent = sum(1 for u, v, k in program.graph.edges(data="kind") if k == "score"
                       and any(pos[u][0] < x < pos[v][0] for x, _ in stages))
    assert len(routed) == non_adjacent
