"""The ``fits`` clock atom and the network line's ``deadline``: parsing, canonical printing,
the checker's errors (with position and caret, also through ``cwdsl check``), the graph's
deadline nodes, the planner's ``Deadline`` steps, and the reachability check."""
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from cwdsl import CwdslError, compile_text, parse, print_schedule
from cwdsl.commands.main import main
from cwdsl.core.errors import InputError, ScheduleError
from cwdsl.ir.deadline import cheapest_frame_ms, check_reachable, decide
from cwdsl.ir.graph import compile_schedule
from cwdsl.ir.nodes import ClockNode, DeadlineNode
from cwdsl.ir.plan import Deadline, Fuse, Measure, Planner, Wave
from cwdsl.lang import ast
from cwdsl.lang.printer import print_clock
from strategies import schedules

ROOT = Path(__file__).resolve().parents[1]


def schedule_text(expr: str, network_tail: str = "", clocks: str = "",
                  s2: str = "1") -> str:
    return (f"network fcn8s input 500x500{network_tail}\n"
            "stage s1 = conv1_1 .. pool3 head score_pool3\n"
            "stage s2 = conv4_1 .. pool4 head score_pool4\n"
            "stage s3 = conv5_1 .. fc7   head score_fr\n"
            f"{clocks}"
            "compute s1 when 1\n"
            f"compute s2 when {s2}\n"
            f"compute s3 when {expr} else cache\n"
            "output fuse(s1, s2, s3)\n")


def rule_clock(text: str, stage: str = "s3") -> ast.ClockExpr:
    return next(r.clock for r in parse(text).rules if r.stage.name == stage)


# -- parsing and printing ------------------------------------------------------------------

@pytest.mark.parametrize("written, ms", [("40ms", 40.0), ("0.04s", 40.0), ("2s", 2000.0),
                                         ("0.5ms", 0.5), ("1e3ms", 1000.0), (".25s", 250.0)])
def test_fits_with_a_deadline_parses_to_milliseconds_and_prints_them(written, ms):
    text = schedule_text(f"moved and fits({written})",
                         clocks="clock moved = labeldiff(s2) >= 0.1\n")
    clock = rule_clock(text)
    assert clock == ast.And(ast.ClockRef(ast.Ident("moved")), ast.Fits(ast.Duration(ms)))
    printed = print_schedule(parse(text))
    assert f"compute s3 when moved and fits({ms:g}ms) else cache" in printed
    assert parse(printed) == parse(text)


def test_fits_in_seconds_prints_as_canonical_milliseconds():
    assert print_clock(rule_clock(schedule_text("fits(0.04s)"))) == "fits(40ms)"
    assert "compute s3 when fits(40ms) else cache\n" in print_schedule(
        parse(schedule_text("fits(0.04s)")))


def test_bare_fits_and_the_network_deadline():
    text = schedule_text("not fits or every 4", network_tail=" deadline 0.033s")
    schedule = parse(text)
    assert schedule.network.deadline == ast.Duration(33.0)
    assert rule_clock(text) == ast.Or(ast.Not(ast.Fits(None)), ast.Every(4, 0))
    printed = print_schedule(schedule)
    assert printed.startswith("network fcn8s input 500x500 deadline 33ms\n")
    assert "compute s3 when not fits or every 4 else cache\n" in printed
    assert parse(printed) == schedule
    # the deadline without an input size, and no deadline at all
    assert parse(schedule_text("1").replace(" input 500x500", " deadline 40ms")) \
        .network == ast.NetworkDecl(ast.Ident("fcn8s"), None, ast.Duration(40.0))
    assert parse(schedule_text("fits")).network.deadline is None


@given(st.floats(0.0, ast.MAX_DEADLINE_MS / 1e3, exclude_min=True))
def test_deadlines_written_in_seconds_read_back_in_milliseconds(seconds):
    text = schedule_text(f"fits({seconds!r}s)", network_tail=f" deadline {seconds!r}s")
    schedule = parse(text)
    assert schedule.network.deadline.ms == seconds * 1e3 == rule_clock(text).deadline.ms
    assert parse(print_schedule(schedule)) == schedule


@given(schedules(fits=True))
def test_generated_schedules_with_fits_round_trip(schedule):
    text = print_schedule(schedule)
    assert parse(text) == schedule
    for rule in schedule.rules:  # fits only in compute rules' clocks
        assert all(0 < n.deadline.ms <= ast.MAX_DEADLINE_MS for n in ast.walk_clock(rule.clock)
                   if isinstance(n, ast.Fits) and n.deadline is not None)
    assert not any(isinstance(n, ast.Fits) for c in schedule.clocks for n in ast.walk_clock(c.expr))


@given(schedules(fits=True))
def test_generated_schedules_with_fits_plan_once_every_fits_has_a_deadline(schedule):
    program = compile_schedule(schedule)
    bare = [d for d in program.deadlines if d.deadline_ms is None]
    if bare:
        with pytest.raises(ScheduleError, match="'fits' keeps the frame deadline"):
            Planner(program)
        program = compile_schedule(schedule, deadline_ms=40.0)
    planner = Planner(program)
    assert planner.period is None if program.deadlines else True
    for t in range(3):
        values = dict.fromkeys(program.atom_ids + planner.deadline_ids, t == 1)
        steps = planner.plan(t, values).steps
        decided = [s.atom for s in steps if isinstance(s, Deadline)]
        assert sorted(decided) == ([] if t == 0 else sorted(planner.deadline_ids))


# -- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, col, fragment, caret", [
    ("fits(0ms)", 22, "the deadline of fits must be longer than 0ms, got 0ms", "^^^"),
    ("fits(-5ms)", 22, "the deadline of fits must be longer than 0ms, got -5ms", "^^^^"),
    ("fits(1e9s)", 22, "is longer than an hour", "^^^^"),
    ("fits(40)", 22, "expected a duration such as 40ms or 0.04s", "^^"),
    ("fits(40 ms)", 22, "expected a duration such as 40ms or 0.04s", "^^"),
    ("fits(1e400ms)", 22, "a duration must be a finite number", "^^^^^^^"),
])
def test_bad_fits_deadlines_are_errors_with_position_and_caret(expr, col, fragment, caret):
    with pytest.raises(ScheduleError) as info:
        compile_text(schedule_text(expr), "f.cw")
    rendered = info.value.diagnostics[0].render()
    first, source, marks = rendered.splitlines()[:3]
    assert first.startswith(f"f.cw:7:{col}: error: ") and fragment in first
    assert source.strip() == f"compute s3 when {expr} else cache"
    assert marks.strip() == caret and marks.index("^") == source.index(expr) + 5


@pytest.mark.parametrize("tail, fragment", [
    (" deadline 0s", "the deadline must be longer than 0ms"),
    (" deadline 2h", "expected a duration such as 40ms or 0.04s"),
    (" deadline 3600001ms", "is longer than an hour"),
])
def test_bad_network_deadlines_are_errors_at_the_deadline(tail, fragment):
    with pytest.raises(ScheduleError) as info:
        compile_text(schedule_text("fits", network_tail=tail), "f.cw")
    first, source, marks = info.value.diagnostics[0].render().splitlines()[:3]
    assert first.startswith("f.cw:1:38: error: ") and fragment in first
    assert marks.index("^") == source.index("deadline") + len("deadline ")


def test_an_hour_is_the_longest_deadline():
    program = compile_text(schedule_text("fits(3600s)", network_tail=" deadline 3600000ms"))
    assert [d.deadline_ms for d in program.deadlines] == [ast.MAX_DEADLINE_MS]


def test_fits_in_a_named_clock_is_an_error_at_the_atom():
    text = schedule_text("late", clocks="clock late = every 2 and fits(40ms)\n")
    with pytest.raises(ScheduleError) as info:
        compile_text(text, "f.cw")
    first, source, marks = info.value.diagnostics[0].render().splitlines()[:3]
    assert first.startswith("f.cw:5:26: error: 'fits(40ms)' is decided for the stage it gates")
    assert "not in clock 'late'" in first
    assert marks.strip() == "^" * len("fits(40ms)") and marks.index("^") == source.index("fits")


@pytest.mark.parametrize("expr, clocks, where", [
    ("fits(0ms)", "", "7:22"),
    ("fits(-5ms)", "", "7:22"),
    ("fits(1e9s)", "", "7:22"),
    ("fits(40)", "", "7:22"),
    ("late", "clock late = fits\n", "5:14"),
])
def test_check_command_exits_2_with_the_caret(tmp_path, capsys, expr, clocks, where):
    path = tmp_path / "bad.cw"
    path.write_text(schedule_text(expr, clocks=clocks))
    good = tmp_path / "good.cw"
    good.write_text(schedule_text("moved and fits", " deadline 40ms",
                                  "clock moved = labeldiff(s2) >= 0.1\n"))
    assert main(["check", str(path), str(good)]) == 2
    out, err = capsys.readouterr()
    assert f"{path}:{where}: error: " in err and "^" in err and "Traceback" not in err
    assert f"ok  {good}" in out  # later files are still checked


def test_check_command_in_a_fresh_process(tmp_path):
    import subprocess
    import sys
    path = tmp_path / "bad.cw"
    path.write_text(schedule_text("fits(0ms)"))
    proc = subprocess.run([sys.executable, "-m", "cwdsl.commands.main", "check", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"{path}:7:22: error: the deadline of fits must be longer than 0ms" in proc.stderr
    assert "^^^" in proc.stderr and "Traceback" not in proc.stderr


# -- the graph ------------------------------------------------------------------------------

TWO = schedule_text("moved and fits(40ms)", clocks="clock moved = labeldiff(s2) >= 0.1\n",
                    s2="fits(0.04s)")


def test_deadline_nodes_and_clocks_named_for_their_stage():
    program = compile_text(TWO, "two.cw")
    g = program.graph
    # s3 reads s2 within the frame; its clock may not fire: counted at its cache (free)
    assert [(d.atom, d.stage, d.deadline_ms, d.rest, d.counters) for d in program.deadlines] \
        == [("fits(40ms) for s2", "s2", 40.0, (), (("s3", None),)),
            ("fits(40ms) for s3", "s3", 40.0, (), ())]
    for d in program.deadlines:  # the same inline fits(40ms), two distinct atoms
        assert isinstance(d, DeadlineNode) and d.kind == "deadline"
        assert d.key == f"deadline:{d.atom}" and g.nodes[d.key]["record"] is d
        assert list(g.predecessors(d.key)) == []  # not data-driven: it reads nothing
    assert list(g.successors("deadline:fits(40ms) for s2")) == ["clock:fits(40ms) for s2"]
    assert list(g.successors("deadline:fits(40ms) for s3")) == ["clock:moved and fits(40ms) for s3"]
    clock = g.nodes["clock:moved and fits(40ms) for s3"]["record"]
    assert isinstance(clock, ClockNode) and clock.stage == "s3" and not clock.named
    assert g.has_edge("clock:moved and fits(40ms) for s3", "stage:s3")
    assert g.nodes["clock:moved"]["record"].stage is None  # named clocks belong to no stage
    assert [g.nodes[f"stage:{s}"]["record"].gate for s in program.stages] == [
        "1", "fits(40ms) for s2", "moved and fits(40ms) for s3"]
    assert program.atom_ids == ("labeldiff(s2, since=fired) >= 0.1",)  # fits is no data atom
    assert program.deadline_ms == 40.0  # every fits gives the same deadline


def test_inline_clocks_without_fits_are_still_shared():
    program = compile_text(schedule_text("every 2", s2="every 2"))
    assert [c.name for c in program.clocks].count("every 2") == 1
    assert program.deadlines == () and program.deadline_ms is None


def test_bare_fits_takes_the_network_or_the_command_line_deadline():
    program = compile_text(schedule_text("fits", network_tail=" deadline 0.05s"))
    (node,) = program.deadlines
    assert (node.atom, node.deadline_ms, program.deadline_ms) == ("fits for s3", 50.0, 50.0)
    # --deadline (compile_schedule's deadline_ms) replaces the network line's
    program = compile_schedule(parse(schedule_text("fits", network_tail=" deadline 50ms")),
                               deadline_ms=30.0)
    assert program.deadlines[0].deadline_ms == 30.0 == program.deadline_ms
    # a written fits(D) keeps its own; the frame deadline is then the network line's
    program = compile_text(schedule_text("fits(20ms)", network_tail=" deadline 50ms"))
    assert program.deadlines[0].deadline_ms == 20.0 and program.deadline_ms == 50.0
    # two different written deadlines and no frame deadline: none to count frames against
    program = compile_text(schedule_text("fits(20ms)", s2="fits(30ms)"))
    assert program.deadline_ms is None


def test_a_bare_fits_without_any_deadline_is_refused_when_planned():
    program = compile_text(schedule_text("moved and fits",
                                         clocks="clock moved = labeldiff(s2) >= 0.1\n"), "f.cw")
    assert program.deadlines[0].deadline_ms is None  # compiling is fine (check, graph)
    with pytest.raises(ScheduleError) as info:
        program.check_deadlines()
    first, source, marks = info.value.diagnostics[0].render().splitlines()[:3]
    assert first.startswith("f.cw:8:27: error: 'fits' keeps the frame deadline, and none is given")
    assert "--deadline" in first and marks.strip() == "^^^^"
    with pytest.raises(ScheduleError):
        Planner(program)
    fixed = compile_schedule(program.schedule, deadline_ms=40)
    fixed.check_deadlines()
    assert Planner(fixed).deadline_ids == ("fits for s3",)
    assert fixed.deadlines[0].deadline_ms == 40.0


# -- the planner ----------------------------------------------------------------------------

def test_deadline_steps_come_after_the_waves_measurements_right_before_the_gated_wave():
    program = compile_text(TWO)
    planner = Planner(program)
    assert planner.deadline_ids == ("fits(40ms) for s2", "fits(40ms) for s3")
    assert planner.period is None
    values = {"labeldiff(s2, since=fired) >= 0.1": True,
              "fits(40ms) for s2": True, "fits(40ms) for s3": True}
    first = planner.plan(0, values)
    assert not any(isinstance(s, Deadline) for s in first.steps)  # frame 0 computes all
    assert first.computed == ("s1", "s2", "s3")
    steps = planner.plan(1, values).steps
    kinds = [type(s).__name__ for s in steps]
    assert kinds == ["Wave", "Deadline", "Wave", "Measure", "Deadline", "Wave", "Fuse"]
    assert steps[1] == Deadline("fits(40ms) for s2", "s2", 40.0, (), (("s3", None),))
    assert steps[1].stages == ("s2",)
    assert steps[2].stages == ("s2",) and isinstance(steps[3], Measure)
    assert steps[4] == Deadline("fits(40ms) for s3", "s3", 40.0, ())
    assert steps[5].stages == ("s3",) and isinstance(steps[6], Fuse)
    # the decisions' values gate the stages as any clock atom would
    no = dict(values, **{"fits(40ms) for s2": False})
    assert planner.plan(1, no).computed == ("s1", "s3")
    no = dict(values, **{"fits(40ms) for s3": False})
    assert planner.plan(1, no).computed == ("s1", "s2")
    with pytest.raises(CwdslError, match="no value for data-driven clock 'fits"):
        planner.plan(1, {"labeldiff(s2, since=fired) >= 0.1": True})


def test_readers_within_the_frame_that_always_compute_are_counted_as_stages():
    text = schedule_text("every 1", s2="fits(40ms)").replace(
        "compute s3 when every 1 else cache", "compute s3 when every 1 else warp")
    (node,) = compile_text(text).deadlines
    assert (node.rest, node.counters) == (("s3",), ())
    text = schedule_text("every 2", s2="fits(40ms)").replace(
        "compute s3 when every 2 else cache", "compute s3 when every 2 else warp(flow=dis_medium)")
    (node,) = compile_text(text).deadlines
    assert (node.rest, node.counters) == ((), (("s3", "dis_medium"),))


def test_a_delayed_stage_is_not_counted_as_reading_within_the_frame():
    text = schedule_text("1 delay 1", s2="fits(40ms)").replace(
        "compute s3 when 1 delay 1 else cache", "compute s3 when 1 delay 1")
    program = compile_text(text)
    assert program.deadlines[0].rest == ()
    pipeline = [s for s in Planner(program).plan(1, {"fits(40ms) for s2": True}).steps
                if isinstance(s, (Wave, Deadline))]
    # s3 reads s2 from the frame before: it runs beside s1, before s2's decision
    assert isinstance(pipeline[0], Wave) and pipeline[0].stages == ("s1", "s3")
    assert pipeline[1] == Deadline("fits(40ms) for s2", "s2", 40.0, ())


class Predicted:
    fuse_ms = 3.0

    def stage_ms(self, stage):
        return {"s1": 10.0, "s2": 5.0, "s3": 20.0, "s4": 1.0}[stage]

    def warp_ms(self, stage):
        return 0.25

    def flow_ms(self, method):
        return {"dis": 2.0, "dis_medium": 4.0}[method]


def test_decide_adds_the_stage_the_stages_it_feeds_and_the_fuse():
    step = Deadline("fits(40ms) for s2", "s2", 40.0, ("s3",))
    decision = decide(step, 12.0, Predicted())
    assert decision.predicted_ms == 12.0 + 5.0 + 20.0 + 3.0 and decision.fires
    assert not decide(step, 12.5, Predicted()).fires  # 40.5 > 40
    assert decide(step, 12.0, Predicted()).to_json()["fits"] is True
    # readers whose clocks may not fire: at their counter action (a cache is free; a warp
    # and its flow, unless the frame computed that flow already)
    step = Deadline("fits for s2", "s2", 40.0, (), (("s3", "dis"), ("s4", None)))
    assert decide(step, 10.0, Predicted()).predicted_ms == 10.0 + 5.0 + 0.25 + 2.0 + 3.0
    assert decide(step, 10.0, Predicted(), {"dis"}).predicted_ms == 10.0 + 5.0 + 0.25 + 3.0


# -- reachability ---------------------------------------------------------------------------

MS = {"s1": 10.0, "s2": 5.0, "s3": 20.0}


def cheapest(program, overhead=0.5):
    return cheapest_frame_ms(Planner(program), MS.__getitem__, 2.0, overhead)


def test_the_cheapest_frame_is_the_stages_that_always_compute():
    program = compile_text(schedule_text("fits(100ms)", s2="every 2"))
    assert cheapest(program) == 10.0 + 2.0 + 0.5  # s2 may not compute (every 2), s3 not (fits)
    program = compile_text(schedule_text("fits(100ms)", s2="1"))
    assert cheapest(program, 0.0) == 10.0 + 5.0 + 2.0
    check_reachable(program, cheapest(program), "h100")  # 100ms is reachable


def test_a_deadline_below_the_cheapest_frame_is_an_error_at_the_deadline():
    program = compile_text(schedule_text("fits(12ms)", s2="every 2"), "f.cw")
    with pytest.raises(ScheduleError) as info:
        check_reachable(program, cheapest(program), "h100")
    first, source, marks = info.value.diagnostics[0].render().splitlines()[:3]
    assert first.startswith("f.cw:7:22: error: deadline 12 ms is below the cheapest frame")
    assert "12.50 ms on h100" in first and marks.strip() == "^^^^"
    # a bare fits: at the network line's deadline
    program = compile_text(schedule_text("fits", " deadline 12ms", s2="every 2"), "f.cw")
    with pytest.raises(ScheduleError) as info:
        check_reachable(program, cheapest(program), "h100")
    assert info.value.diagnostics[0].render().startswith("f.cw:1:38: error: deadline 12 ms")
    # the command line's: an InputError naming --deadline
    program = compile_schedule(parse(schedule_text("fits", s2="every 2")), deadline_ms=5)
    with pytest.raises(InputError, match="--deadline: deadline 5 ms is below the cheapest frame"):
        check_reachable(program, cheapest(program), "h100")


# -- cwdsl explain --------------------------------------------------------------------------

def grid_rows(out: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in out.splitlines()
            if line.startswith(("s1 ", "s2 ", "s3 "))}


def test_explain_says_what_each_fits_decides(tmp_path, capsys):
    path = tmp_path / "fits.cw"
    path.write_text(TWO)
    assert main(["explain", str(path), "--frames", "6", "--fire-rate", "0"]) == 0
    out = capsys.readouterr().out
    rows = grid_rows(out)
    assert rows["s2"] == rows["s3"] == ["C"] + ["."] * 5  # frame 0 computes all
    assert "atom fits(40ms) for s2" in out and "clock moved and fits(40ms) for s3" in out
    assert ("fits(40ms) for s2: decided before s2's wave on frames 1 on; fires when elapsed "
            "since the frame's arrival + predicted s2 + fuse <= 40 ms (reading s2 within the "
            "frame: s3 at its cache, free)") in out
    assert "fits(40ms) for s3: decided before s3's wave" in out
    assert "frame 0 computes every stage and decides no fits" in out
    assert "fits decisions drawn at rate 0.0 (seed 0)" in out
    assert main(["explain", str(path), "--frames", "6", "--fire-rate", "1"]) == 0
    assert grid_rows(capsys.readouterr().out)["s3"] == ["C"] * 6


def test_explain_replays_recorded_fits_decisions(tmp_path, capsys):
    path = tmp_path / "fits.cw"
    path.write_text(schedule_text("fits(40ms)"))  # no data-driven clock: only fits
    trace = tmp_path / "run.json"
    trace.write_text('{"frames": [{"frame": 0, "atoms": {}}' + "".join(
        f', {{"frame": {t}, "atoms": {{"fits(40ms) for s3": {str(t % 2 == 0).lower()}}}}}'
        for t in range(1, 6)) + "]}")
    assert main(["explain", str(path), "--frames", "6", "--trace", str(trace)]) == 0
    out = capsys.readouterr().out
    assert grid_rows(out)["s3"] == ["C", ".", "C", ".", "C", "."]
    assert f"fits decisions replayed from {trace}" in out
    assert "data-driven clocks" not in out


def test_explain_a_bare_fits_needs_a_deadline(tmp_path, capsys):
    path = tmp_path / "bare.cw"
    path.write_text(schedule_text("fits"))
    assert main(["explain", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:7:17: error: 'fits' keeps the frame deadline" in err and "^^^^" in err
    assert main(["explain", str(path), "--frames", "4", "--deadline", "0.04s"]) == 0
    out = capsys.readouterr().out
    assert "fits for s3: decided before s3's wave" in out and "+ fuse <= 40 ms" in out
    assert main(["explain", str(path), "--deadline", "40ms,50ms"]) == 2
    assert "--deadline: one deadline here, got 2" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:  # argparse refuses a number without its unit
        main(["explain", str(path), "--deadline", "40"])
    assert info.value.code == 2 and "is not a duration" in capsys.readouterr().err
