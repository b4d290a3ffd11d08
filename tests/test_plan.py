"""Frame plans: properties over random schedules and hand-written grids of the paper's."""
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from cwdsl import compile_schedule, compile_text, load
from cwdsl.lang import ast
from cwdsl.ir.graph import atom_id
from cwdsl.ir.plan import Cache, Flow, Fuse, Measure, Planner, Warp, Wave
from strategies import schedules

ROOT = Path(__file__).resolve().parents[1]


def reference_clock(expr, t, atoms, clocks):
    """docs/language.md's clock semantics, written independently of the planner."""
    if isinstance(expr, ast.Const):
        return expr.value == 1
    if isinstance(expr, ast.Every):
        return t % expr.period == expr.phase
    if isinstance(expr, (ast.LabelDiff, ast.PixelDiff, ast.Predicted)):
        return atoms[atom_id(expr)]
    if isinstance(expr, ast.ClockRef):
        return reference_clock(clocks[expr.name.name], t, atoms, clocks)
    if isinstance(expr, ast.Not):
        return not reference_clock(expr.operand, t, atoms, clocks)
    left = reference_clock(expr.left, t, atoms, clocks)
    right = reference_clock(expr.right, t, atoms, clocks)
    return (left and right) if isinstance(expr, ast.And) else (left or right)


@st.composite
def programs_with_atoms(draw, frames=12):
    program = compile_schedule(draw(schedules()))
    values = draw(st.lists(st.lists(st.booleans(), min_size=len(program.atom_ids),
                                    max_size=len(program.atom_ids)),
                           min_size=frames, max_size=frames))
    return program, [dict(zip(program.atom_ids, row)) for row in values]


@pytest.mark.slow
@given(programs_with_atoms())
def test_plans_follow_the_schedule(case):
    program, atoms = case
    planner = Planner(program)
    clocks = {c.name.name: c.expr for c in program.schedule.clocks}
    rules = {r.stage.name: r for r in program.schedule.rules}
    for t, values in enumerate(atoms):
        plan = planner.plan(t, values)
        # each stage exactly one of compute / its counter action (cache, or warp as written)
        assert sorted(plan.computed + plan.cached + plan.warped) == sorted(program.stages)
        assert not set(plan.computed) & set(plan.cached + plan.warped)
        for stage in plan.cached + plan.warped:
            assert (stage in plan.warped) == (rules[stage].counter == "warp"), (t, stage)
        # a frame's flow by a method: once, just before its first warp, only when one warps
        methods = [rules[s].flow.name for s in plan.warped]
        flows = [step.method for step in plan.steps if isinstance(step, Flow)]
        assert sorted(flows) == sorted(set(methods))
        for i, step in enumerate(plan.steps):
            if isinstance(step, Flow):
                assert isinstance(plan.steps[i + 1], Warp) and plan.steps[i + 1].method == step.method
                assert all(not (isinstance(p, Warp) and p.method == step.method)
                           for p in plan.steps[:i])
        assert isinstance(plan.steps[-1], Fuse) and plan.steps[-1].stages == program.output_stages
        for stage in program.stages:
            expected = t == 0 or reference_clock(rules[stage].clock, t, values, clocks)
            assert (stage in plan.computed) == expected, (t, stage)
            if stage in plan.computed:  # delays respected; frame 0 has none
                assert plan.delay(stage) == (0 if t == 0 else rules[stage].delay)
        # measurements come before any decision that reads them
        seen = set()
        for step in plan.steps:
            if isinstance(step, Measure):
                seen.add(step.atom)
        assert seen == set(program.atom_ids)
        # plans are deterministic: a fresh planner gives the same plan
        assert Planner(program).plan(t, values) == plan


@pytest.mark.slow
@given(programs_with_atoms())
def test_stage_order_respects_within_frame_dependencies(case):
    program, atoms = case
    planner = Planner(program)
    rules = {r.stage.name: r for r in program.schedule.rules}
    for t, values in enumerate(atoms):
        plan = planner.plan(t, values)
        position, waves = {}, {}
        for i, step in enumerate(plan.steps):
            if isinstance(step, (Cache, Warp)):
                position[step.stage] = i
            if isinstance(step, Wave):
                assert step.computes, "a wave step holds at least one stage"
                for stage in step.stages:
                    position[stage], waves[stage] = i, i
            if isinstance(step, Measure) and isinstance(step.node, ast.STAGE_ATOMS):
                assert position[step.node.stage.name] < i  # its stage is settled first
        assert len(position) == len(program.stages)  # each stage computes or caches once
        for prev, stage in zip(program.stages, program.stages[1:]):
            if stage in waves and prev in waves and (t == 0 or rules[stage].delay == 0):
                assert waves[prev] < waves[stage]  # a same-frame reader waits


def test_frame_zero_computes_everything_sequentially():
    planner = Planner(load(ROOT / "schedules" / "pipeline3.cw"))
    plan = planner.plan(0)
    assert plan.computed == ("s1", "s2", "s3")
    assert plan.waves == (("s1",), ("s2",), ("s3",))
    assert planner.plan(1).waves == (("s1", "s2", "s3"),)


def test_missing_atom_value_is_a_user_error():
    from cwdsl import CwdslError
    planner = Planner(load(ROOT / "schedules" / "adaptive.cw"))
    planner.plan(0)  # frame 0 needs no clock values
    with pytest.raises(CwdslError, match="no value for data-driven clock"):
        planner.plan(1, {})


# ---- the paper's schedules, 8 frames, written out by hand ------------------------------
# C: compute reading the previous stage from this frame; D: compute with delay 1;
# .: read the cache.
FIRES = [True, False, False, True, True, False, True, False]  # data-driven atom per frame
GRIDS = {
    "oracle": {"s1": "CCCCCCCC", "s2": "CCCCCCCC", "s3": "CCCCCCCC"},
    "skipframe": {"s1": "C.C.C.C.", "s2": "C.C.C.C.", "s3": "C.C.C.C."},
    "alternating": {"s1": "CCCCCCCC", "s2": "CCCCCCCC", "s3": "C.C.C.C."},
    "exponential": {"s1": "CCCCCCCC", "s2": "C.C.C.C.", "s3": "C...C..."},
    "pipeline3": {"s1": "CCCCCCCC", "s2": "CDDDDDDD", "s3": "CDDDDDDD"},
    "pipeline2": {"s1": "CCCCCCCC", "s2": "CDDDDDDD"},
    "baseline3": {"s1": "CCCCCCCC"},
    "baseline2": {"s1": "CCCCCCCC"},
    "adaptive": {"s1": "CCCCCCCC", "s2": "CCCCCCCC", "s3": "C..CC.C."},
    "pixeldiff": {"s1": "CCCCCCCC", "s2": "CCCCCCCC", "s3": "C..CC.C."},
}
OUTPUTS = {"baseline3": ("s1",), "baseline2": ("s1",), "pipeline2": ("s1", "s2")}


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_paper_schedule_grid(name):
    program = load(ROOT / "schedules" / f"{name}.cw")
    planner = Planner(program)
    grid = {s: "" for s in program.stages}
    for t in range(8):
        plan = planner.plan(t, {a: FIRES[t] for a in program.atom_ids})
        for stage in program.stages:
            delay = plan.delay(stage)
            grid[stage] += "." if delay is None else ("D" if delay else "C")
    assert grid == GRIDS[name]
    assert program.output_stages == OUTPUTS.get(name, ("s1", "s2", "s3"))


def test_paper_stage_splits():
    program = load(ROOT / "schedules" / "oracle.cw")
    assert [(s.first, s.last, s.heads) for s in program.stage_nodes] == [
        ("conv1_1", "pool3", ("score_pool3",)),
        ("conv4_1", "pool4", ("score_pool4",)),
        ("conv5_1", "fc7", ("score_fr",))]
    two = load(ROOT / "schedules" / "pipeline2.cw")
    assert two.stage("s1").heads == ("score_pool3", "score_pool4")
    assert two.stage("s2").delay == 1 and two.previous_stage("s2") == "s1"


def test_warp_grid_and_flows():
    """Skip frame with warp: every other frame warps all three stages after one flow."""
    program = compile_text("""network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7 head score_fr
compute s1 when every 2 else warp
compute s2 when every 2 else warp
compute s3 when every 3 else warp(flow=dis_medium)
output fuse(s1, s2, s3)""")
    planner = Planner(program)
    kinds = []
    for t in range(7):
        kinds.append(" ".join(type(s).__name__ + (f"({s.method})" if isinstance(s, Flow) else "")
                              for s in planner.plan(t).steps if not isinstance(s, Fuse)))
    assert kinds[0] == "Wave Wave Wave"
    assert kinds[1] == "Flow(dis) Warp Warp Flow(dis_medium) Warp"
    assert kinds[2] == "Wave Wave Flow(dis_medium) Warp"
    assert kinds[3] == "Flow(dis) Warp Warp Wave"
    assert planner.period == 6
