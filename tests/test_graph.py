"""The compiled graph: structure of the paper's schedules and the lint's teeth."""
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given

from cwdsl import load
from cwdsl.core.errors import InternalError
from cwdsl.ir.graph import within_frame
from cwdsl.ir.lint import validate
from strategies import schedules
from cwdsl import compile_schedule

ROOT = Path(__file__).resolve().parents[1]


def test_pipeline3_graph_has_delayed_feature_edges_and_gated_caches():
    g = load(ROOT / "schedules" / "pipeline3.cw").graph
    assert g.edges["stage:s1", "stage:s2"] == {"kind": "features", "delay": 1,
                                               "gate": "clock:1", "counter": False}
    assert g.edges["cache:s3", "stage:s3"]["counter"] is True
    assert g.edges["stage:s3", "cache:s3"]["delay"] == 1
    frame = within_frame(g)
    assert not frame.has_edge("stage:s1", "stage:s2")  # the pipeline cut
    assert set(g.predecessors("fuse")) == {"stage:s1", "stage:s2", "stage:s3"}


def test_adaptive_graph_orders_the_measurement_between_s2_and_s3():
    g = load(ROOT / "schedules" / "adaptive.cw").graph
    measure = "measure:labeldiff(s2, since=fired) >= 0.03"
    frame = within_frame(g)
    assert frame.has_edge("stage:s2", measure)
    assert nx.shortest_path(frame, measure, "stage:s3") == [measure, "clock:moved", "stage:s3"]
    order = list(nx.topological_sort(frame))
    assert order.index("stage:s2") < order.index(measure) < order.index("stage:s3")


def test_node_order_is_deterministic():
    a = load(ROOT / "schedules" / "adaptive.cw").graph
    b = load(ROOT / "schedules" / "adaptive.cw").graph
    assert list(a.nodes) == list(b.nodes) and list(a.edges) == list(b.edges)


@pytest.mark.slow
@given(schedules())
def test_compiled_graphs_pass_the_lint(schedule):
    program = compile_schedule(schedule)
    g = program.graph
    assert validate(g) is None  # (it raises InternalError listing what it found broken)
    # the lint's main invariants, checked here apart from it
    assert nx.is_directed_acyclic_graph(within_frame(g))
    kinds = dict((n, r.kind) for n, r in g.nodes(data="record"))
    assert sorted(n for n, k in kinds.items() if k == "stage") == sorted(
        f"stage:{s}" for s in program.stages)
    for s in program.stages:
        stage, cache = f"stage:{s}", f"cache:{s}"
        gates = {d["gate"] for u, _, d in g.in_edges(stage, data=True)
                 if d["kind"] in ("features", "cache")}
        assert len(gates) == 1 and kinds[next(iter(gates))] == "clock"  # one clock gates it
        assert g.has_edge(next(iter(gates)), stage)
        assert g.edges[stage, cache]["kind"] == "persist" and g.edges[stage, cache]["delay"] >= 1
    assert all(d["delay"] >= 0 for _, _, d in g.edges(data=True))


def _graph():
    return load(ROOT / "schedules" / "alternating.cw").graph.copy()


@pytest.mark.parametrize("breakage, message", [
    (lambda g: g.add_edge("stage:s3", "stage:s1", kind="features", delay=0), "cycle within a frame"),
    (lambda g: g.edges["stage:s1", "stage:s2"].update(gate="clock:nope"), "not a clock"),
    (lambda g: g.edges["cache:s3", "stage:s3"].update(gate="clock:1"), "share one clock"),
    (lambda g: g.edges["stage:s2", "cache:s2"].update(delay=0), "cycle within a frame"),
    (lambda g: g.remove_edge("clock:even", "stage:s3"), "not ordered before"),
    (lambda g: g.edges["stage:s1", "stage:s2"].update(delay=-1), "no valid delay"),
    (lambda g: g.add_edge("fuse", "stage:s1", kind="score", delay=1), "from a stage to the fuse"),
])
def test_lint_catches_broken_graphs(breakage, message):
    g = _graph()
    breakage(g)
    with pytest.raises(InternalError, match=message):
        validate(g)
