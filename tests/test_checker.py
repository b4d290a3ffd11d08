"""Semantic checks: the bad-schedule corpus, warnings, and the shipped schedules."""
import re
from pathlib import Path

import pytest

from cwdsl import CwdslError, load
from cwdsl.core.errors import SHOWN_WIDTH, ScheduleError

ROOT = Path(__file__).resolve().parents[1]
BAD = sorted((ROOT / "tests" / "bad").glob("*.cw"))
GOOD = sorted((ROOT / "schedules").glob("*.cw"))


def expectation(path: Path) -> tuple[int, int, str]:
    first = _lines(path)[0]
    m = re.fullmatch(r"# expect: (\d+):(\d+): (.*)", first)
    assert m, f"{path.name}: first line must be '# expect: LINE:COL: message fragment'"
    return int(m[1]), int(m[2]), m[3]


def _lines(path: Path) -> list[str]:
    """The file's lines as the parser counts them: split at "\n" only (U+2028, form feed and
    friends are characters of a line), a byte-order mark and "\r" endings dropped."""
    text = path.read_bytes().decode("utf-8-sig")
    return [line.removesuffix("\r") for line in text.split("\n")]


def test_corpus_is_large_enough():
    assert len(BAD) >= 25


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_schedule_reports_position_and_message(path):
    line, col, fragment = expectation(path)
    with pytest.raises(ScheduleError) as info:
        load(path)
    rendered = [d.render() for d in info.value.diagnostics]
    matching = [r for r in rendered if r.startswith(f"{path}:{line}:{col}: error: ")
                and fragment in r.splitlines()[0]]
    assert matching, f"expected {line}:{col}: {fragment!r}, got:\n" + "\n".join(rendered)
    # the source line and a caret under the culprit follow the message
    lines = matching[0].splitlines()
    if len(lines) == 3:
        source_line = _lines(path)[line - 1]
        shown = "".join(c if c.isprintable() else " " for c in source_line)
        caret = lines[2].index("^") - 4
        if len(shown) <= SHOWN_WIDTH:
            assert lines[1].strip() == shown.strip()
            assert caret == col - 1
        else:  # a long line is shown as a window around the culprit
            window = lines[1][4:]
            assert window.strip("…") in shown and len(window) <= SHOWN_WIDTH + 2
            assert window[caret] == shown[col - 1]


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_shipped_schedules_are_clean(path):
    program = load(path)
    assert program.warnings == ()
    assert path.read_text(encoding="utf-8").startswith("#")  # each cites its source


def test_all_errors_of_a_file_are_reported_together():
    text = """network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when every 0
compute s1 when every 2 phase 5
output fuse(s1, zz)
"""
    with pytest.raises(CwdslError) as info:
        from cwdsl import compile_text
        compile_text(text, "many.cw")
    messages = [d.message for d in info.value.diagnostics]
    assert any("period must be at least 1" in m for m in messages)
    assert any("phase must be in" in m for m in messages)
    assert any("already has a compute rule" in m for m in messages)
    assert any("unknown stage 'zz'" in m for m in messages)


def test_warnings_for_unused_clock_and_unscheduled_stage():
    from cwdsl import compile_text
    program = compile_text("""network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. fc7 head score_pool4, score_fr
clock spare = every 3
compute s1 when 1
output fuse(s1)
""", "w.cw")
    text = [w.render() for w in program.warnings]
    assert any("w.cw:4:7: warning: clock 'spare' is declared but never used" in t for t in text)
    assert any("w.cw:3:7: warning: stage 's2' has no compute rule" in t for t in text)
    assert program.stages == ("s1",)


def test_warning_for_a_counter_action_that_never_acts():
    """Issue 19: ``when 1 else warp`` (or ``else cache``, or a clock that always fires for
    another reason) is accepted, with a warning at the ``else`` part."""
    from cwdsl import compile_text
    program = compile_text("""network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7 head score_fr
clock on = not 0 or every 4
compute s1 when 1 else warp
compute s2 when on delay 1 else cache
compute s3 when every 1 else warp(flow=dis_medium)
output fuse(s1, s2, s3)
""", "idle.cw")
    text = [w.render() for w in program.warnings]
    assert len(text) == 3
    assert text[0].startswith("idle.cw:6:19: warning: stage 's1' computes on every frame (its "
                              "clock always fires), so 'else warp' never acts")
    assert text[0].splitlines()[2] == "    " + " " * 18 + "^" * len("else warp")
    assert text[1].startswith("idle.cw:7:28: warning: stage 's2' computes on every frame")
    assert text[1].endswith("^" * len("else cache")) and "'else cache' never acts" in text[1]
    assert text[2].startswith("idle.cw:8:25: warning: stage 's3'")
    assert text[2].endswith("^" * len("else warp(flow=dis_medium)"))
    quiet = compile_text("""network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. fc7 head score_pool4, score_fr
compute s1 when 1
compute s2 when every 2 or 0 else warp
output fuse(s1, s2)
""")
    assert quiet.warnings == ()


def test_delay_that_breaks_a_cycle_is_accepted():
    """A clock on s2 may read s3 when s3 reads s2 from the previous frame."""
    from cwdsl import compile_text
    program = compile_text("""network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7 head score_fr
compute s1 when 1
compute s2 when labeldiff(s3, since=previous) > 0.2
compute s3 when 1 delay 1
output fuse(s1, s2, s3)
""")
    assert program.stages == ("s1", "s2", "s3")


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(CwdslError, match="no such schedule file"):
        load(tmp_path / "nope.cw")
    bad = tmp_path / "latin1.cw"
    bad.write_bytes(b"network fcn8s \xff\n")
    with pytest.raises(CwdslError, match="not UTF-8"):
        load(bad)


def test_unknown_network_suggests_the_nearest_name():
    from cwdsl import compile_text
    with pytest.raises(CwdslError) as info:
        compile_text("network fcn8\nstage s = conv1_1 .. fc7 head score_fr\ncompute s when 1\n"
                     "output fuse(s)\n", "n.cw")
    message = str(info.value)
    assert "unknown network 'fcn8'" in message and "did you mean 'fcn8s'?" in message
    assert "fcn8s_camvid" in message and "tiny" in message  # the known ones are listed


def test_network_names_must_be_writable_in_a_schedule():
    from dataclasses import replace

    from cwdsl.core.netspec import TINY, register_network
    with pytest.raises(ValueError, match="cannot be written in a schedule"):
        register_network(replace(TINY, name="tiny-2"))


def test_always_fires_through_long_chains_and_cycles():
    from cwdsl.lang import ast

    chain = {f"c{i}": ast.ClockRef(ast.Ident(f"c{i - 1}")) for i in range(1, 20_000)}
    chain["c0"] = ast.Not(ast.Const(0))
    assert ast.always_fires(ast.ClockRef(ast.Ident("c19999")), chain)
    cycle = {"a": ast.ClockRef(ast.Ident("b")), "b": ast.ClockRef(ast.Ident("a"))}
    assert ast.constant_value(ast.ClockRef(ast.Ident("a")), cycle) is None
    assert ast.constant_value(ast.And(ast.Every(3), ast.Const(0)), {}) is False
    assert ast.constant_value(ast.Or(ast.Every(3), ast.Not(ast.Every(1))), {}) is None
