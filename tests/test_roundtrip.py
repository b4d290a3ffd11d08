"""The printer and parser agree, and generated schedules are valid."""
import pytest
from hypothesis import given

from cwdsl import compile_schedule, parse, print_schedule
from cwdsl.lang import ast
from cwdsl.lang.checker import check
from cwdsl.lang.printer import print_clock
from strategies import schedules


@pytest.mark.slow
@given(schedules(fits=True))
def test_parse_print_roundtrip(schedule):
    text = print_schedule(schedule)
    assert parse(text) == schedule
    assert print_schedule(parse(text)) == text  # canonical text is a fixed point


@pytest.mark.slow
@given(schedules(fits=True))
def test_generated_schedules_are_valid_and_compile(schedule):
    check(schedule)
    program = compile_schedule(schedule)
    assert set(program.stages) == {s.name.name for s in schedule.stages}
    # one deadline atom per stage whose rule's clock holds distinct fits atoms
    fits = {(print_clock(n), r.stage.name) for r in schedule.rules
            for n in ast.walk_clock(r.clock) if isinstance(n, ast.Fits)}
    assert {d.atom for d in program.deadlines} == {f"{a} for {s}" for a, s in fits}


def test_roundtrip_keeps_meaning_not_layout():
    messy = """# comment
    network   tiny   compute s1 when not (every 2 or every 3)   # trailing
    stage s1=conv1_1..fc7 head score_pool3,score_pool4,score_fr output fuse( s1 )"""
    canonical = print_schedule(parse(messy))
    assert parse(canonical) == parse(messy)
    assert "compute s1 when not (every 2 or every 3)\n" in canonical


def test_else_cache_is_kept_as_written():
    text = ("network tiny\nstage s1 = conv1_1 .. fc7 head score_pool3, score_pool4, score_fr\n"
            "compute s1 when every 2 else cache\noutput fuse(s1)")
    schedule = parse(text)
    assert schedule.rules[0].otherwise == "cache"
    assert "compute s1 when every 2 else cache\n" in print_schedule(schedule)
    assert parse(text.replace(" else cache", "")).rules[0].otherwise is None
