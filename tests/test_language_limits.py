"""Schedules at the language's limits: very deep and very wide clock expressions, long chains
and dense webs of named clocks, huge numbers, every way a line can end, oversized and
non-regular files. Whatever `check` accepts, every command runs; whatever it refuses, it
refuses with a position and a reason, quickly."""
import os
import re
import time
from pathlib import Path

import pytest

from cwdsl import compile_text, load, parse, print_schedule
from cwdsl.commands.main import main
from cwdsl.core.errors import MAX_SHOWN, InputError, ScheduleError
from cwdsl.ir.plan import Planner
from cwdsl.lang.parser import MAX_SCHEDULE_BYTES, MAX_TOKENS

HEAD = ("network tiny\nstage s1 = conv1_1 .. pool3 head score_pool3\n"
        "stage s2 = conv4_1 .. fc7 head score_pool4, score_fr\ncompute s1 when 1\n")
TAIL = "output fuse(s1, s2)\n"


def deep_not(n):
    return HEAD + "compute s2 when " + "not " * n + "labeldiff(s1) >= 0.2\n" + TAIL


def wide_or(n):
    return HEAD + "compute s2 when " + " or ".join(f"every {i % 97 + 2}" for i in range(n)) \
        + "\n" + TAIL


def nested_and(n):
    return HEAD + "compute s2 when " + "(every 2 and " * n + "1" + ")" * n + "\n" + TAIL


def chain(n):
    clocks = "".join(f"clock c{i + 1} = c{i} and not every {i % 5 + 2}\n" for i in range(n))
    return HEAD + "clock c0 = pixeldiff() >= 0.1\n" + clocks + f"compute s2 when c{n}\n" + TAIL


def web(n):
    """Each clock reads the three before it: many paths, no cycle."""
    clocks = "".join(f"clock d{i} = " + " or ".join(f"d{j}" for j in range(max(0, i - 3), i))
                     + "\n" for i in range(1, n))
    return HEAD + "clock d0 = every 3\n" + clocks + f"compute s2 when d{n - 1}\n" + TAIL


SHAPES = {"deep_not": deep_not, "wide_or": wide_or, "nested_and": nested_and, "chain": chain,
          "web": web}


@pytest.mark.parametrize("shape", SHAPES)
def test_large_expressions_compile_plan_print_and_explain(shape, capsys, tmp_path):
    text = SHAPES[shape](2000)
    program = compile_text(text, f"{shape}.cw")
    planner = Planner(program)
    values = {a: t % 2 == 0 for t in range(1) for a in program.atom_ids}
    computed = [planner.plan(t, values).computed for t in range(6)]
    assert computed[0] == ("s1", "s2") and all(c[0] == "s1" for c in computed)
    printed = print_schedule(program.schedule)
    assert print_schedule(parse(printed)) == printed  # a fixed point, at any depth
    path = tmp_path / f"{shape}.cw"
    path.write_text(text)
    assert main(["explain", str(path), "--frames", "5"]) == 0
    assert "frame" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["deep_not", "chain"])
def test_large_expressions_simulate(shape, tmp_path, capsys):
    path = tmp_path / f"{shape}.cw"
    path.write_text(SHAPES[shape](3000))
    assert main(["simulate", str(path), "--frames", "300", "--json"]) == 0
    assert '"schedule"' in capsys.readouterr().out


def test_clock_cycles_are_found_in_linear_time():
    dense = "".join(f"clock k{i} = " + " or ".join(f"k{j}" for j in range(12) if j != i) + "\n"
                    for i in range(12))
    long_cycle = "".join(f"clock r{i} = r{(i + 1) % 6000}\n" for i in range(6000))
    for clocks, first in ((dense, "k0"), (long_cycle, "r0")):
        started = time.perf_counter()
        with pytest.raises(ScheduleError, match=f"clock '{first}' is defined in terms of "
                                                f"itself \\({first} → "):
            compile_text(HEAD + clocks + f"compute s2 when {first}\n" + TAIL)
        assert time.perf_counter() - started < 10  # every simple cycle would take minutes


def test_many_errors_render_quickly_and_are_capped():
    text = HEAD + "".join(f"compute z{i} when 1\n" for i in range(10_000)) + TAIL
    started = time.perf_counter()
    with pytest.raises(ScheduleError) as info:
        compile_text(text, "many.cw")
    rendered = str(info.value)
    assert time.perf_counter() - started < 10
    found = len(info.value.diagnostics)
    assert found >= 10_000  # one per rule, all reported together
    assert rendered.count(": error: ") == MAX_SHOWN
    assert rendered.endswith(f"… and {found - MAX_SHOWN} more error(s) and warning(s) not shown")


def test_whole_numbers_are_exact_and_bounded():
    big = 2**53 + 1  # a float would round it to 2**53
    program = compile_text(HEAD + f"compute s2 when every {big} phase {big - 1}\n" + TAIL)
    assert f"every {big} phase {big - 1}" in print_schedule(program.schedule)
    assert Planner(program).plan(big - 1).computed == ("s1", "s2")
    for written, message in ((f"every {2**63}", "period is too large"),
                             ("every " + "7" * 5000, "period is too large (7777777777…777777 "
                                                     "(5000 digits))"),
                             (f"every 4 phase {2**64}", "phase is too large"),
                             ("every 2 delay " + "1" * 30, "delay is too large")):
        with pytest.raises(ScheduleError, match=message.replace("(", r"\(").replace(")", r"\)")):
            compile_text(HEAD + f"compute s2 when {written}\n" + TAIL)
    with pytest.raises(ScheduleError, match="an input size is too large"):
        compile_text(HEAD.replace("network tiny", "network tiny input 5x" + "9" * 5000) + TAIL)


@pytest.mark.parametrize("terminator", ["\u2028", "\u2029", "\u0085", "\f", "\v", "\x1c", "\r"])
def test_every_line_terminator_keeps_positions_and_carets_right(terminator):
    """Only "\\n" ends a line (as the parser counts); the caret line is the culprit's."""
    text = (f"network tiny  # odd {terminator} break\n"
            "stage s1 = conv1_1 .. fc7 head score_pool3, score_pool4, score_fr\n"
            f"# another {terminator} one\ncompute s1 when nope\noutput fuse(s1)\n")
    with pytest.raises(ScheduleError) as info:
        compile_text(text, "t.cw")
    head, line, caret = str(info.value).splitlines()[:3]
    assert head.startswith("t.cw:4:17: error: undefined clock 'nope'")
    assert line == "    compute s1 when nope" and caret == " " * 20 + "^^^^"


def test_byte_order_mark_is_not_a_character(tmp_path):
    path = tmp_path / "bom.cw"
    path.write_bytes(b"\xef\xbb\xbf" + (HEAD + "compute s2 when 1\n" + TAIL).encode())
    assert load(path).stages == ("s1", "s2")
    assert compile_text("\ufeff" + HEAD + "compute s2 when 1\n" + TAIL).stages == ("s1", "s2")


def test_too_many_tokens_is_refused_at_a_position_before_parsing():
    text = HEAD + "compute s2 when " + "not " * (MAX_TOKENS + 10) + "1\n" + TAIL
    started = time.perf_counter()
    with pytest.raises(ScheduleError, match="the schedule is too long") as info:
        compile_text(text, "long.cw")
    assert time.perf_counter() - started < 5
    assert str(info.value).startswith("long.cw:5:")


def test_non_regular_oversized_and_missing_schedule_files(tmp_path, capsys):
    fifo = tmp_path / "pipe.cw"
    os.mkfifo(fifo)
    big = tmp_path / "big.cw"
    big.write_bytes(b"#" * (MAX_SCHEDULE_BYTES + 1))
    cases = {fifo: "is a named pipe", Path("/dev/zero"): "is a character device",
             big: "larger than 4 MiB", tmp_path: "is a folder",
             tmp_path / "none.cw": "no such schedule file"}
    for path, reason in cases.items():
        with pytest.raises(InputError, match=re.escape(reason)):
            load(path)
        assert main(["check", str(path)]) == 2
        assert reason in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--trace", "--device"])
def test_non_regular_json_files_are_refused(tmp_path, capsys, option):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    schedule = str(Path(__file__).parent.parent / "schedules" / "adaptive.cw")
    for path in (fifo, Path("/dev/zero")):
        assert main(["simulate", schedule, option, str(path)]) == 2
        assert "give a regular file" in capsys.readouterr().err


@pytest.mark.slow
def test_check_near_the_token_limit_stays_fast():
    """Speed lives in benchmarks/bench_language.py; this only catches a quadratic step
    (which would take minutes at this size)."""
    budget = MAX_TOKENS - 200
    for shape, text in (("deep_not", deep_not(budget - 10)), ("wide_or", wide_or(budget // 3)),
                        ("chain", chain(budget // 9)), ("web", web(budget // 12))):
        started = time.perf_counter()
        compile_text(text, f"{shape}.cw")
        assert time.perf_counter() - started < 15, shape
